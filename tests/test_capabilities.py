"""Declared capabilities and conditioning in the contract (issue 26, items 1 and 2).

A tool reads what a model declares (``model.capabilities()``, ``model.require``) and never probes
it; a family overrides hooks, never a public method; every public method takes the condition the
same way (``decode(z, seed=None, **condition)``), checked once in the base class.
"""

import importlib
import inspect
import pathlib
import pkgutil
import re

import numpy as np
import pytest

import keras_ae
from keras_ae import models
from keras_ae.evaluation import gaps, latent_search
from keras_ae.models.base import BaseAutoencoder

ROOT = pathlib.Path(keras_ae.__file__).resolve().parent.parent

#: the names a model goes by in the tools (the model argument, a callback's model, a class).
_ALIASES = r"(?:model|self\.model|self\._model|cls|m1|m2|first_stage|autoencoder)"
PROBES = [
    re.compile(rf"\b(?:getattr|hasattr)\(\s*{_ALIASES}\s*,"),      # getattr(model, "prior", None)
    re.compile(rf"\bisinstance\(\s*{_ALIASES}\s*,"),                # isinstance(model, VAE)
    re.compile(r"\bcallable\(\s*getattr\("),                        # callable(getattr(x, "classify", None))
    re.compile(rf"[\"'][A-Za-z_]+[\"']\s+in\s+{_ALIASES}\.TERMS\b"),  # "elbo" in model.TERMS
    re.compile(rf"\btype\(\s*{_ALIASES}\s*\)\.\w+\s+is\b"),         # type(model)._prior is VAE._prior
]

#: the contract's public methods: defined once, in BaseAutoencoder; families override their hooks.
PUBLIC_METHODS = ("encode", "decode", "reconstruct", "score", "encode_outputs", "posterior", "likelihood",
                  "prior", "sample", "importance_samples", "log_importance_weights", "log_likelihood",
                  "loss_terms", "classify", "exact_log_likelihood", "canvas_sequence", "sample_sequence",
                  "feature_points", "posterior_layer_means", "capabilities", "require", "check_condition",
                  "schedule_variable", "export", "from_preset")


def _tool_sources():
    """Every Python file outside ``keras_ae/models``: the library's tools, the zoo and the exporter."""
    files = [p for p in sorted((ROOT / "keras_ae").rglob("*.py")) if "models" not in p.relative_to(ROOT).parts[1:2]]
    files += sorted((ROOT / "zoo").rglob("*.py")) + sorted((ROOT / "export").rglob("*.py"))
    return files


def _probes(text):
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)
            if not line.lstrip().startswith("#") and any(p.search(line) for p in PROBES)]


def test_the_probe_patterns_catch_the_probes_issue_26_found():
    found = _probes('a = getattr(model, "is_conditional", False)\n'
                    'if callable(getattr(model, "kl_per_layer", None)): pass\n'
                    'ok = hasattr(self.model, "set_schedule")\n'
                    'if "elbo" in getattr(model, "TERMS", ()): pass\n'
                    'if "elbo" in model.TERMS: pass\n'
                    'if isinstance(model, VAE): pass\n'
                    'stage = getattr(cls, "previous_stage", None)\n'
                    'if type(model)._prior is VAE._prior: pass\n')
    assert [number for number, _ in found] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert not _probes("for term in model.TERMS: pass\nif model.capabilities()['can_classify']: pass\n"
                       "isinstance(model.code_spec, dict)\n")


def test_no_tool_probes_a_model():
    files = _tool_sources()
    assert any(p.name == "evaluation.py" or p.parent.name == "evaluation" for p in files)
    assert any(p.parent.name == "zoo" for p in files) and any(p.parent.name == "export" for p in files)
    offences = [f"{path.relative_to(ROOT)}:{number}: {line}" for path in files
                for number, line in _probes(path.read_text())]
    assert not offences, "tools must read model.capabilities(), not probe the model:\n" + "\n".join(offences)


def _model_classes():
    classes = []
    for info in pkgutil.walk_packages(models.__path__, "keras_ae.models."):
        module = importlib.import_module(info.name)
        classes += [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__]
    return classes


def test_no_family_overrides_a_public_method():
    for name in PUBLIC_METHODS:
        assert name in vars(BaseAutoencoder), f"{name} is not a public method of BaseAutoencoder"
    classes = _model_classes()
    families = [c for c in classes if issubclass(c, BaseAutoencoder) and c is not BaseAutoencoder]
    # the enumeration reaches every family (a new module or folder is found, not listed by hand)
    assert {"VAE", "ConditionalVAE", "M2", "M1M2", "DRAW", "VQVAE", "TwoLayerVAE",
            "DeepSpatialAutoencoder", "MADEDensity"} <= {c.__name__ for c in families}
    offences = {c.__name__: sorted(set(PUBLIC_METHODS) & set(vars(c))) for c in classes if c is not BaseAutoencoder}
    assert not {k: v for k, v in offences.items() if v}, offences


# -- require ------------------------------------------------------------------------------------
def _vae(**kwargs):
    return models.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0, **kwargs)


def _cvae(**kwargs):
    args = dict(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)
    return models.ConditionalVAE(**{**args, "num_classes": 3, **kwargs})


def _m2():
    return models.M2(input_shape=(8, 8, 1), latent_dim=2, num_classes=3, hidden_units=(8,), seed=0)


def test_require_names_the_capability_the_model_and_the_tool():
    vae = _vae()
    with pytest.raises(ValueError, match=r"^VAE does not declare can_classify \(needed by my tool\)$"):
        vae.require("can_classify", "my tool")
    with pytest.raises(ValueError, match=r"VAE does not declare data_likelihood='gaussian' \(needed by t\); "
                                         r"it declares data_likelihood='bernoulli'"):
        vae.require("data_likelihood", "t", "gaussian")
    with pytest.raises(ValueError, match="no capability 'flies'"):
        vae.require("flies", "t")
    vae.require("is_generative", "t")
    vae.require("data_likelihood", "t", "bernoulli")
    x = np.zeros((2, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match=r"VAE does not declare can_classify \(needed by classify\)"):
        vae.classify(x)
    with pytest.raises(ValueError, match=r"VAE does not declare has_feature_points \(needed by feature_points\)"):
        vae.feature_points(x)
    with pytest.raises(ValueError, match=r"VAE does not declare has_step_outputs"):
        vae.sample_sequence(2)
    with pytest.raises(ValueError, match=r"VAE does not declare latent_layer_names"):
        vae.posterior_layer_means(x)
    ae = models.Autoencoder(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match=r"Autoencoder does not declare is_generative \(needed by sample\)"):
        ae.sample(2)
    with pytest.raises(ValueError, match=r"Autoencoder does not declare is_probabilistic \(needed by log_likelihood\)"):
        ae.log_likelihood(x)
    with pytest.raises(ValueError, match=r"VAE does not declare the schedulable variable 'temperature' "
                                         r"\(needed by T\); it has \['kl_weight'\]"):
        vae.schedule_variable("temperature", "T")


# -- capabilities of the families ------------------------------------------------------------------
DEFAULTS = {"is_generative": False, "is_probabilistic": False, "is_conditional": False, "condition_spec": {},
            "condition_required": False, "marginalizes_condition": False, "num_classes": None,
            "can_classify": False, "latent_layer_names": (), "has_step_outputs": False, "has_feature_points": False,
            "data_likelihood": None, "has_exact_likelihood": False, "stochastic_decoder": False,
            "unit_interval_data": False, "export_endpoints": ("reconstruct", "encode", "decode", "score"),
            "schedulable_variables": (), "parts": {}}


def _declared(model, **expected):
    capabilities = model.capabilities()
    assert set(capabilities) == set(DEFAULTS)
    # the parts a model is composed of: checked where given, else only their form ({kind: class name})
    if "parts" not in expected:
        parts = capabilities.pop("parts")
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in parts.items()), parts
        expected = {**expected, "parts": capabilities.setdefault("parts", parts)}
    specs = {k: (tuple(s.shape), s.dtype.name) for k, s in capabilities.pop("condition_spec").items()}
    want = {**DEFAULTS, **expected}
    assert specs == want.pop("condition_spec")
    assert capabilities == want


def test_the_families_declare_what_they_can_do():
    _declared(models.Autoencoder(input_shape=(4,), latent_dim=2, hidden_units=(8,)), data_likelihood="mse")
    generative = ("reconstruct", "encode", "decode", "score", "sample", "sample_seeded")
    _declared(_vae(), is_generative=True, is_probabilistic=True, data_likelihood="bernoulli",
              unit_interval_data=True, export_endpoints=generative, schedulable_variables=("kl_weight",),
              parts={"posterior": "GaussianPosterior", "prior": "StandardNormal", "likelihood": "Bernoulli",
                     "regularizer": "KL"})
    # the categorical VAE's num_classes counts categories of its latent, not labels: no classes declared
    categorical = models.CategoricalVAE(input_shape=(8, 8, 1), num_variables=2, num_classes=3, hidden_units=(8,))
    _declared(categorical, is_generative=True, is_probabilistic=True, data_likelihood="bernoulli",
              unit_interval_data=True, export_endpoints=generative,
              schedulable_variables=("kl_weight", "temperature"))
    conditional = generative
    _declared(_cvae(), is_generative=True, is_probabilistic=True, data_likelihood="bernoulli",
              unit_interval_data=True, export_endpoints=conditional, schedulable_variables=("kl_weight",),
              is_conditional=True, condition_spec={"y": ((), "int32")}, condition_required=True,
              marginalizes_condition=True, num_classes=3)
    _declared(_cvae(num_classes=None, condition_dim=4), is_generative=True, is_probabilistic=True,
              data_likelihood="bernoulli", unit_interval_data=True, export_endpoints=conditional,
              schedulable_variables=("kl_weight",), is_conditional=True, condition_spec={"y": ((4,), "float32")},
              condition_required=True)
    semisupervised = ("reconstruct", "encode", "decode", "score", "classify", "sample", "sample_seeded")
    _declared(_m2(), is_generative=True, is_probabilistic=True, data_likelihood="bernoulli", unit_interval_data=True,
              export_endpoints=semisupervised, schedulable_variables=("kl_weight",), is_conditional=True,
              condition_spec={"y": ((), "int32")}, marginalizes_condition=True, num_classes=3, can_classify=True)
    m1m2 = models.M1M2((8, 8, 1), autoencoder=dict(latent_dim=3, hidden_units=(8,)), latent_dim=2, num_classes=3,
                       hidden_units=(8,), seed=1)
    _declared(m1m2, is_generative=True, data_likelihood="bernoulli", unit_interval_data=True,
              export_endpoints=semisupervised, is_conditional=True, condition_spec={"y": ((), "int32")},
              num_classes=3, can_classify=True)
    hierarchy = models.TwoLayerVAE(input_shape=(8, 8, 1), latent_dims=(3, 2), hidden_units=(16,),
                                   top_hidden_units=(8,), seed=0)
    _declared(hierarchy, is_generative=True, is_probabilistic=True, data_likelihood="bernoulli",
              unit_interval_data=True, export_endpoints=generative, schedulable_variables=("kl_weight",),
              latent_layer_names=("z1", "z2"))
    draw = models.DRAW(input_shape=(8, 8, 1), latent_dim=3, steps=3, hidden_units=(16,), read_size=3, write_size=4,
                       seed=1)
    _declared(draw, is_generative=True, is_probabilistic=True, data_likelihood="bernoulli", unit_interval_data=True,
              export_endpoints=generative + ("canvases",), has_step_outputs=True)
    spatial = models.DeepSpatialAutoencoder(input_shape=(8, 8, 1), num_points=3, filters=(4,), kernel_size=3, seed=1)
    _declared(spatial, has_feature_points=True)
    made = models.MADEDensity(input_shape=(4,), hidden_units=(16,), seed=1)
    caps = made.capabilities()
    assert caps["has_exact_likelihood"] and caps["is_generative"] and not caps["is_probabilistic"]


def test_declared_per_capability_methods_work():
    x = np.random.default_rng(0).uniform(size=(3, 8, 8, 1)).astype(np.float32)
    draw = models.DRAW(input_shape=(8, 8, 1), latent_dim=3, steps=3, hidden_units=(16,), read_size=3, write_size=4,
                       seed=1)
    np.testing.assert_allclose(draw.sample_sequence(2, seed=4)[:, -1], draw.sample(2, seed=4), atol=1e-6)
    spatial = models.DeepSpatialAutoencoder(input_shape=(8, 8, 1), num_points=3, filters=(4,), kernel_size=3, seed=1)
    np.testing.assert_allclose(np.reshape(spatial.feature_points(x), (3, 6)), spatial.encode(x))
    hierarchy = models.TwoLayerVAE(input_shape=(8, 8, 1), latent_dims=(3, 2), hidden_units=(16,),
                                   top_hidden_units=(8,), seed=0)
    means = hierarchy.posterior_layer_means(x, num_samples=4, seed=1)
    assert {k: tuple(v.shape) for k, v in means.items()} == {"z1": (3, 3), "z2": (3, 2)}
    np.testing.assert_allclose(means["z1"], hierarchy.posterior_layer_means(x, num_samples=4, seed=1)["z1"])
    made = models.MADEDensity(input_shape=(4,), hidden_units=(16,), seed=1)
    binary = (x.reshape(3, -1)[:, :4] > 0.5).astype(np.float32)
    np.testing.assert_allclose(made.exact_log_likelihood(binary), -made.score(binary), rtol=1e-6)


# -- conditioning ------------------------------------------------------------------------------------
def test_the_condition_is_taken_one_way_and_checked_once():
    cvae, vae = _cvae(), _vae()
    z = np.zeros((4, 2), np.float32)
    labels = np.array([0, 1, 2, 0])
    # decode(z, seed=None, **condition): the seed keeps its place, the condition is a keyword
    np.testing.assert_array_equal(cvae.decode(z, None, y=labels), cvae.decode(z, y=labels))
    np.testing.assert_array_equal(cvae.decode(z, 3, y=labels), cvae.decode(z, y=labels))  # a mean decoder
    with pytest.raises(ValueError, match=r"ConditionalVAE.decode needs the condition y \(y: int labels in "
                                         r"\[0, 3\)\): a code does not carry its condition"):
        cvae.decode(z)
    with pytest.raises(ValueError, match=r"ConditionalVAE.encode needs the condition y"):
        cvae.encode(np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match=r"ConditionalVAE.decode takes the condition \['y'\], got \['label'\]"):
        cvae.decode(z, label=labels)
    with pytest.raises(ValueError, match=r"y has values outside \[0, 2\].*a model with 3 classes"):
        cvae.decode(z, y=np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="y has 3 conditions for 4 examples"):
        cvae.decode(z, y=labels[:3])
    with pytest.raises(ValueError, match=r"VAE is not conditional: VAE.decode takes no \['y'\]"):
        vae.decode(z, y=labels)
    with pytest.raises(ValueError, match=r"VAE is not conditional: VAE.sample takes no \['y'\]"):
        vae.sample(2, y=labels[:2])
    assert cvae.sample(3, seed=1).shape == (3, 8, 8, 1)  # sample: the family's default conditions
    # M2 infers its label from x, and still needs it for codes
    m2 = _m2()
    x = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(m2.encode(x), m2.encode(x, y=m2.classify(x)["label"]), atol=1e-6)
    with pytest.raises(ValueError, match=r"M2.decode needs the condition y"):
        m2.decode(z)


def test_gaps_and_latent_search_refuse_conditional_models():
    """The gap split and latent search measure and move an unconditional p(x, z): a conditional model is
    refused by its declaration (it used to pass both guards and run under an all-zero condition)."""
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 1)).astype(np.float32)
    for model in (_cvae(), _m2()):
        name = type(model).__name__
        with pytest.raises(ValueError, match=rf"{name} declares is_conditional \(condition \['y'\]\): the "
                                             "inference gaps"):
            gaps.inference_gaps(model, x, steps=2, elbo_samples=2, log_px_method="importance", log_px_samples=2)
        with pytest.raises(ValueError, match=rf"{name} declares is_conditional \(condition \['y'\]\): latent search"):
            latent_search.search_model(model, lambda decoded: -decoded[:, 0, 0, 0], steps=2)
