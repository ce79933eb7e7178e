"""Every zoo recipe, at its own sizes, is built and trained one step.

The registry is enumerated (``keras_ae.presets.RECIPES``), so a recipe added later is in this test
without a word. Each recipe's model is built through the zoo's own path (``zoo.runner.build_model``:
a class or a function of ``keras_ae.models`` named by the recipe), compiled with the recipe's
learning rate and stepped once on a tiny batch shaped like its dataset, eagerly: one step needs
no compiled graph (tracing DRAW's 16-step recurrence alone took 48 s here, eagerly the step
takes 4 s). The step must log every declared term, all finite, and move the weights.

The contract itself (both training paths, XLA, 2 replicas, save/load, signatures, codes, refusals,
importance weights, SavedModel and TFLite) is checked on tiny configurations of every family:
``tests/test_harness_configs.py``, which also fails when a recipe uses a graph-changing argument
value that no tiny configuration harnesses.
"""

import numpy as np
import keras
import pytest
import tensorflow as tf

from keras_ae import data
from keras_ae.presets import RECIPES
from zoo.runner import build_model

#: examples in the one-step batch.
BATCH = 4


def recipe_batch(recipe, n=BATCH, seed=0):
    """A batch shaped like the recipe's dataset, binary for binarized recipes, else in [0, 1]."""
    shape = data.dataset_shape(recipe.dataset)
    x = np.random.default_rng(seed).uniform(size=(n,) + tuple(shape)).astype("float32")
    return (x > 0.5).astype("float32") if recipe.binarize else x


def recipe_extras(model, n, seed=1):
    """The batch entries a model needs besides ``x`` (``batch_extras_spec``): uniform floats, labels ``i % 2``."""
    rng = np.random.default_rng(seed)
    extras = {}
    for key, spec in model.batch_extras_spec().items():
        shape, dtype = (n,) + tuple(spec.shape), spec.dtype.as_numpy_dtype
        extras[key] = rng.uniform(size=shape).astype(dtype) if spec.dtype.is_floating else (
            np.arange(n) % 2).astype(dtype).reshape(shape)
    return extras


def _tier(name):
    """The digits recipes step in the fast tier; those of larger datasets (MNIST, CIFAR-10, dSprites,
    video: full-size networks, e.g. PixelVAE's 784-pixel reconstruction in ``build``) are marked slow."""
    return pytest.param(name, marks=() if RECIPES[name].dataset == "digits" else pytest.mark.slow)


@pytest.mark.parametrize("name", [_tier(name) for name in sorted(RECIPES)])
def test_every_recipe_builds_and_trains_one_step(name):
    recipe = RECIPES[name]
    x = recipe_batch(recipe)
    model = build_model(recipe, x.shape[1:], seed=0)
    extras = recipe_extras(model, len(x))
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), jit_compile=False, steps_per_execution=1,
                  run_eagerly=True)
    start = [np.asarray(v).copy() for v in model.trainable_weights]
    assert start, f"{name}: nothing to train"
    history = model.fit(tf.data.Dataset.from_tensor_slices({"x": x, **extras}).batch(BATCH), epochs=1, verbose=0)
    groups = {t for terms in model.PARAMETER_GROUPS.values() for t in terms}
    assert set(history.history) >= {"loss"} | set(model.TERMS) | groups
    for term, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name}: {term} = {values}"
    moved = max(float(np.max(np.abs(np.asarray(v) - s))) for v, s in zip(model.trainable_weights, start))
    assert moved > 0, f"{name}: one step moved no weight"
