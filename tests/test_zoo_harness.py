"""Every zoo recipe goes through the public contract harness, :func:`keras_ae.testing.check_model`.

Config round trip, both training paths (Keras's per-step loop and the fused multi-step program,
XLA where the class allows it) with equal weights, 2 replicas, ``.keras`` save/load, every
declared signature and seeded determinism. Export of every recipe (SavedModel in a process
without keras_ae, TFLite at every quantization) is in ``tests/test_serving.py``. A new model
gets these tests by registering a recipe.
"""

import numpy as np
import pytest

from keras_ae import data, testing
from zoo.recipes import RECIPES
from zoo.recipes.registry import representative_recipes
from zoo.runner import build_model

#: Classes whose own test file runs the harness (both training paths, 2 replicas, SavedModel and
#: TFLite) on a tiny instance; their recipe-sized networks would cost minutes of CI each here:
#: tests/test_vq.py (VQVAE2, VQVAE2Prior), tests/test_pixelcnn.py (PixelVAE),
#: tests/test_hierarchical.py (TwoLayerVAE), tests/test_spatial.py (DeepSpatialAutoencoder),
#: tests/test_draw.py (DRAW); tests/test_conditional.py (ConditionalVAE) and
#: tests/test_semisupervised.py (M2, ADGM, M1M2: the recipe-sized ADGM took 74 s here).
HARNESSED_IN_THEIR_OWN_TESTS = ("VQVAE2", "VQVAE2Prior", "PixelVAE", "TwoLayerVAE", "DeepSpatialAutoencoder",
                                "DRAW")
HARNESSED_IN_THEIR_OWN_TESTS += ("ConditionalVAE", "M2", "ADGM", "M1M2")

#: One recipe per kind of model graph is enough for the contract (the MNIST recipes are the digits
#: ones with larger bodies, and their XLA compilation is what costs CI time).
NAMES = [n for n in representative_recipes() if RECIPES[n].model not in HARNESSED_IN_THEIR_OWN_TESTS]
#: Two replicas once per model class: its first digits representative.
MIRRORED = {}
for _name in NAMES:
    if RECIPES[_name].dataset == "digits":
        MIRRORED.setdefault(RECIPES[_name].model, _name)
MIRRORED = set(MIRRORED.values())


def recipe_batch(recipe, n=40, seed=0):
    """A batch shaped like the recipe's dataset, binary for binarized recipes, else in [0, 1]."""
    shape = data.dataset_shape(recipe.dataset)
    x = np.random.default_rng(seed).uniform(size=(n,) + tuple(shape)).astype("float32")
    return (x > 0.5).astype("float32") if recipe.binarize else x


def recipe_extras(model, n, seed=1):
    """The batch entries a model needs besides ``x`` (``batch_extras_spec``): uniform floats, zero integers."""
    rng = np.random.default_rng(seed)
    extras = {}
    for key, spec in model.batch_extras_spec().items():
        shape, dtype = (n,) + tuple(spec.shape), spec.dtype.as_numpy_dtype
        extras[key] = rng.uniform(size=shape).astype(dtype) if spec.dtype.is_floating else np.zeros(shape, dtype)
    return extras or None


@pytest.mark.parametrize("name", NAMES)
def test_recipe_passes_the_contract_harness(name, tmp_path):
    recipe = RECIPES[name]
    x = recipe_batch(recipe)
    # Two replicas once per model class (CI time is bounded).
    mirrored = name in MIRRORED
    extras = recipe_extras(build_model(recipe, x.shape[1:], seed=0), len(x))
    report = testing.check_model(lambda: build_model(recipe, x.shape[1:], seed=0), x, extras, batch_size=10,
                                 learning_rate=recipe.learning_rate, tmp_dir=str(tmp_path),
                                 saved_model=False, tflite=False, mirrored=mirrored)
    model = build_model(recipe, x.shape[1:], seed=0)
    assert set(report["terms"]) >= {"loss"} | set(model.TERMS)
    assert report.get("replicas") == (2 if mirrored else None)
    assert set(report["signatures"]) >= {"decode", "encode", "reconstruct", "score"} | (
        {"sample"} if model.is_generative else set())
