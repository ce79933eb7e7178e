"""Every tiny test configuration of the zoo's families through the public contract harness.

The configurations (``keras_ae.presets.registry.TestConfig``) are registered beside each family's
recipes in ``keras_ae/models/<family>/presets.py``. Each goes through :func:`keras_ae.testing.check_model`:
config round trip, both training paths (per step and fused, XLA where the class allows it) with
equal weights, ``.keras`` save/load, every declared signature, seeded determinism, codes against
``code_spec``, the refusal of NaN and out-of-range data, and for probabilistic models the
``k = 1`` importance weight against the ELBO; two replicas, the SavedModel and the TFLite file in
the configurations that ask (at least one per model, checked below).

Coverage, checked here so that a recipe cannot skip the harness: every graph-changing argument
value a recipe uses (``keras_ae.presets.registry.graph_values``: likelihoods, corruptions, kernels,
switches, a zero weight, an empty layer list, a first stage's arguments) appears in a harnessed
configuration of the same model. Every recipe itself is built and trained one step by
``tests/test_zoo_harness.py``. The harness runs are split over this file and
``test_harness_configs_1.py`` ... (``SHARDS``), so that two workers share them.

Serving without keras_ae: one configuration per zoo model (:data:`SERVED`) has its harnessed
SavedModel, with the REST bodies the export writes, served by a process that never imports
keras_ae (``tests/plain_serving.py``): through TF's session loader as TF Serving runs it, and
with ``tf.saved_model.load``; each shard's last test serves the configurations it harnessed.
"""

import os

import keras
import numpy as np
import pytest

from keras_ae import serving, testing
from keras_ae.presets import RECIPES
from keras_ae.presets.registry import TEST_CONFIGS, graph_values
from tests import plain_serving
from zoo.runner import build_model

#: examples per harness batch: two fused pairs of two steps of 4 (``check_model``'s default batch is N // 4).
EXAMPLES = 16
#: the harness runs are split over this many test files (this one and ``test_harness_configs_<k>.py``):
#: ``--dist loadfile`` sends a file to one worker, and one file of every configuration would bound
#: the wall time of the whole suite.
SHARDS = 3
#: measured cost of each configuration's harness run: seconds of its test in a full run of the suite
#: (``-n 2 --dist loadfile --durations``, two workers on the 2-core CI machine, so about 4-7 times
#: its CPU seconds alone); only the ratios matter, for balancing the shards. A configuration not
#: listed counts as :data:`DEFAULT_COST`.
COST = {
    "draw": 215, "vqvae2-prior": 176, "pixelvae": 166, "maf-prior": 107, "iaf": 105, "factorvae": 97,
    "adgm": 94, "pixelcnn": 91, "vqvae-prior": 91, "ladder-vae": 89, "hvae2": 88, "m1m2": 88, "vqvae2-mse": 87,
    "sdgm": 84, "vqvae2-prior-mse": 80, "m2": 76, "infovae": 75, "vqvae2": 70, "iwae": 64, "planar": 59,
    "beta-tcvae": 58, "aae": 58, "wae-mmd-imq": 57, "mog-prior": 56, "dip-vae-i": 51, "draw-noattn": 49,
    "vae-cb-beta-free-bits": 46, "vqvae": 43, "cat-vae": 43, "mmd-vae": 43, "spatial-ae": 43, "rae": 39,
    "vae": 38, "cvvae": 37, "capacity-vae": 36, "cvae": 36, "vampprior": 35, "dip-vae-ii": 34,
    "contractive": 34, "made": 32, "ae-conv": 32, "wae-mmd-rbf": 31, "ae": 25, "denoising-gaussian": 23,
    "sparse-l1": 22, "denoising-masking": 21, "denoising-saltpepper": 18, "sparse-kl": 15,
    "spatial-ae-noslow": 14, "ae-bce-linear": 8,
}
DEFAULT_COST = 60

#: one configuration per model whose SavedModel is served without keras_ae: the first by name that exports one.
SERVED = {}
for _name, _config in sorted(TEST_CONFIGS.items()):
    if _config.saved_model:
        SERVED.setdefault(_config.model, _name)
#: models whose every signature the ``tf.saved_model.load`` pass feeds (no condition or canvas input), at least.
LOADED_PLAINLY = {"VAE", "VQVAE2", "PixelVAE", "RAE"}
#: the served configurations harnessed in this process: name -> (trained model, SavedModel folder, batch).
HARNESSED = {}


def shards():
    """The configurations split into :data:`SHARDS` lists of about equal :data:`COST`: the costliest
    first, each to the shard with the least so far (longest-processing-time first)."""
    loads, names = [0] * SHARDS, [[] for _ in range(SHARDS)]
    for name in sorted(TEST_CONFIGS, key=lambda n: (-COST.get(n, DEFAULT_COST), n)):
        k = loads.index(min(loads))
        loads[k] += COST.get(name, DEFAULT_COST)
        names[k].append(name)
    return [sorted(chunk) for chunk in names]


def shard(k):
    """The names of the configurations the ``k``-th file harnesses (see :func:`shards`)."""
    return shards()[k]


def config_batch(config, n=EXAMPLES, seed=0):
    """``(x, extras, condition, elbo_extras)`` for ``testing.check_model`` of a test configuration.

    Binary data (grey with ``config.grey``); the integer batch entries are labels ``i % labels``
    (every other one ``-1`` with ``config.unlabelled``), float entries uniform in [0, 1]. The labels
    are the condition of the public methods of a conditional model; a semi-supervised model infers
    them, and its ``elbo`` is compared with the importance weights on unlabelled rows.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n,) + tuple(config.input_shape)).astype("float32")
    if not config.grey:
        x = (x > 0.5).astype("float32")
    model = build(config)
    extras, condition, elbo_extras = {}, {}, None
    for key, spec in model.batch_extras_spec().items():
        shape = (n,) + tuple(spec.shape)
        if spec.dtype.is_floating:
            extras[key] = rng.uniform(size=shape).astype(spec.dtype.as_numpy_dtype)
            continue
        assert config.labels, f"{config.name}: {key} is an integer batch entry; give the TestConfig labels"
        labels = (np.arange(n) % config.labels).astype(spec.dtype.as_numpy_dtype).reshape(shape)
        if config.unlabelled:
            labels[::2] = -1
            elbo_extras = {key: np.full(shape, -1, labels.dtype)}
        else:
            condition[key] = labels
        extras[key] = labels
    return x, extras, condition, elbo_extras


def build(config):
    """The configuration's model, through the zoo's own model-building path (a class or a function)."""
    return build_model(config, config.input_shape, seed=0)


def run_harness(name, tmp_path):
    """``check_model`` on the configuration ``name``, and what its report must hold."""
    config = TEST_CONFIGS[name]
    x, extras, condition, elbo_extras = config_batch(config)
    report = testing.check_model(lambda: build(config), x, extras, tmp_dir=str(tmp_path),
                                 saved_model=config.saved_model, tflite=config.tflite, mirrored=config.mirrored,
                                 condition=condition, elbo_extras=elbo_extras)
    if name in SERVED.values():
        HARNESSED[name] = (report["model"], report["saved_model"], x)
    model = build(config)
    assert set(report["terms"]) >= {"loss"} | set(model.TERMS)
    assert report.get("replicas") == (2 if config.mirrored else None)  # conftest makes two logical CPUs
    assert set(report["signatures"]) >= {"decode", "encode", "reconstruct", "score"} | (
        {"sample"} if model.is_generative else set())
    assert ("elbo_difference" in report) == model.is_probabilistic
    if config.tflite:
        # every signature converts but those the configuration names, each skipped with its reason
        skipped = report["tflite_skipped"]
        assert set(skipped) == set(config.tflite_skipped), skipped
        for sig, word in config.tflite_skipped.items():
            assert word in skipped[sig], (sig, skipped[sig])
        assert set(report["tflite_signatures"]) == set(report["signatures"]) - set(skipped), report
        assert {"decode", "encode", "reconstruct"} <= set(report["tflite_signatures"])
        if model.is_generative:  # both samplers are written with builtin ops (counter-based noise for the seeded one)
            assert {"sample", "sample_seeded"} <= set(report["tflite_signatures"]), skipped


def serve_plainly(names, tmp_path):
    """The served configurations among ``names`` (:data:`SERVED`), each SavedModel served by one
    process without keras_ae (``tests/plain_serving.py``) and checked against Keras.

    The SavedModel is the harness's, of the trained model (:data:`HARNESSED`); a configuration not
    harnessed in this process (this test run alone) is built, fitted ex post and exported here.
    """
    from export.cli import write_requests

    chosen, jobs = {}, []
    for name in sorted(set(names) & set(SERVED.values())):
        config = TEST_CONFIGS[name]
        model, path, x = HARNESSED.pop(name, (None, None, None))
        if path is None or not os.path.isdir(path):
            keras.utils.set_random_seed(0)  # the same tiny weights whatever ran before
            model = build(config)
            model.build()
            x, _, _, _ = config_batch(config)
            model.post_fit(x, seed=0)  # e.g. the ex-post density that sample draws from
            path = serving.export_saved_model(model, str(tmp_path / "models"), name)
        requests = os.path.join(path, "requests")  # where the export puts them (TF Serving ignores the folder)
        os.makedirs(requests)
        write_requests(requests, model, path, x)
        plain = plain_serving.plain_servable(model)
        if config.model in LOADED_PLAINLY:
            assert plain, f"{name}: the tf.saved_model.load pass cannot feed every signature of {config.model}"
        chosen[name] = model
        jobs.append(plain_serving.make_job(model, path, str(tmp_path / "out" / name), x=x[:3] if plain else None,
                                           requests=requests))
    report = plain_serving.run_plain_process(jobs, str(tmp_path))
    assert report["modules"] == [], f"the plain process imported {report['modules']}"
    failed = {}
    for (name, model), job in zip(chosen.items(), jobs):
        try:
            plain_serving.check_session_outputs(model, job, report[job["path"]]["session"], name)
            if "x" in job:
                plain_serving.check_loaded_outputs(model, job, report[job["path"]]["loaded"])
        except AssertionError as e:
            failed[name] = e
    assert not failed, failed


@pytest.mark.slow
@pytest.mark.parametrize("name", shard(0))
def test_tiny_configuration_passes_the_contract_harness(name, tmp_path):
    run_harness(name, tmp_path)


@pytest.mark.slow
def test_harnessed_exports_serve_without_keras_ae(tmp_path):
    serve_plainly(shard(0), tmp_path)


def test_the_plainly_loaded_models_have_a_served_configuration():
    assert LOADED_PLAINLY <= set(SERVED), sorted(LOADED_PLAINLY - set(SERVED))


def test_every_graph_changing_value_of_a_recipe_has_a_harnessed_configuration():
    harnessed = {}
    for config in TEST_CONFIGS.values():
        harnessed.setdefault(config.model, set()).update(graph_values(config.model_args))
    missing = sorted({(recipe.model, key, value) for recipe in RECIPES.values()
                      for key, value in graph_values(recipe.model_args)
                      if (key, value) not in harnessed.get(recipe.model, set())})
    assert not missing, ("recipes use graph-changing values that no TestConfig of the same model "
                         f"harnesses (add one beside the family's recipes): {missing}")


def test_every_model_runs_two_replicas_and_both_exports_in_one_configuration():
    complete = {c.model for c in TEST_CONFIGS.values() if c.mirrored and c.saved_model and c.tflite}
    missing = sorted({recipe.model for recipe in RECIPES.values()} - complete)
    assert not missing, f"no TestConfig of {missing} runs two replicas, the SavedModel and the TFLite checks"


def test_graph_values_tell_graphs_apart_and_ignore_sizes():
    assert graph_values(dict(likelihood="bernoulli", hidden_units=(128,), beta=2.0)) == \
        graph_values(dict(likelihood="bernoulli", hidden_units=(8,), beta=4.0))
    assert graph_values(dict(free_bits=0.0)) != graph_values(dict(free_bits=0.1))
    assert graph_values(dict(hidden_units=())) != graph_values(dict(hidden_units=(8,)))
    assert graph_values(dict(attention=False)) == {("attention", False)}
    assert graph_values(dict(autoencoder=dict(reconstruction="mse"))) == {("autoencoder.reconstruction", "mse")}


def test_the_shard_files_harness_every_configuration():
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    assert all(os.path.exists(os.path.join(here, f"test_harness_configs_{k}.py")) for k in range(1, SHARDS))
    assert sorted(name for k in range(SHARDS) for name in shard(k)) == sorted(TEST_CONFIGS)
    loads = [sum(COST.get(name, DEFAULT_COST) for name in shard(k)) for k in range(SHARDS)]
    assert max(loads) - min(loads) <= max(COST.values()), loads  # balanced to within one configuration
    assert not set(COST) - set(TEST_CONFIGS), sorted(set(COST) - set(TEST_CONFIGS))  # no stale entry
