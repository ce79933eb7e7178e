"""The shared harness: every zoo recipe is built, configured, trained a step, saved and loaded.

A new model gets these tests by registering a recipe.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import data
from zoo.runner import build_model
from zoo.recipes import RECIPES

NAMES = sorted(RECIPES)


def recipe_batch(recipe, n=8, seed=0):
    """A batch shaped like the recipe's dataset, binary for binarized recipes, else in [0, 1]."""
    shape = data.dataset_shape(recipe.dataset)
    x = np.random.default_rng(seed).uniform(size=(n,) + tuple(shape)).astype("float32")
    return (x > 0.5).astype("float32") if recipe.binarize else x


@pytest.fixture(scope="module", params=NAMES)
def trained(request, tmp_path_factory):
    recipe = RECIPES[request.param]
    keras.utils.set_random_seed(0)
    x = recipe_batch(recipe)
    model = build_model(recipe, x.shape[1:], seed=0)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate))
    history = model.fit(x, batch_size=len(x), epochs=1, verbose=0)
    if hasattr(model, "fit_density"):  # two components: the batch is too small for the default ten
        model.fit_density(np.concatenate([x, recipe_batch(recipe, 32, seed=1)]), num_components=2)
    path = tmp_path_factory.mktemp("harness") / f"{recipe.name}.keras"
    model.save(path)
    return recipe, model, x, history, path


def test_recipe_trains_one_step_with_a_finite_loss(trained):
    recipe, model, x, history, _ = trained
    for name, values in history.history.items():
        assert np.isfinite(values[-1]), (recipe.name, name, values)
    assert set(history.history) >= {"loss"} | set(model.TERMS)


def test_config_round_trip(trained):
    recipe, model, *_ = trained
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config


def test_save_and_load_give_equal_outputs(trained):
    recipe, model, x, _, path = trained
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    for method in ("encode", "reconstruct", "score"):
        np.testing.assert_allclose(getattr(loaded, method)(x), getattr(model, method)(x), atol=1e-6,
                                   err_msg=f"{recipe.name}.{method}")
    if model.is_generative:
        np.testing.assert_allclose(loaded.sample(4, seed=3), model.sample(4, seed=3), atol=1e-6)


def test_contract_shapes(trained):
    recipe, model, x, *_ = trained
    z = model.encode(x)
    assert z.shape == (len(x), model.latent_dim)
    assert model.decode(z).shape == x.shape
    assert model.reconstruct(x).shape == x.shape
    assert model.score(x).shape == (len(x),)
    outputs = model.encode_outputs(tf.constant(x))
    assert "code" in outputs
    if model.is_generative:
        samples = model.sample(3, seed=1)
        assert samples.shape == (3,) + x.shape[1:]
        assert np.all(np.isfinite(samples))
