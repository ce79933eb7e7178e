"""Presets in keras-hub's style: ``VAE.from_preset("vae-mnist")`` or ``VAE.from_preset(RUN_DIR)``.

A preset is a recipe (``python -m zoo list`` lists them): its architecture, built for its
dataset's example shape and compiled with its learning rate and the model's measured compile
defaults; or a trained model: a run directory (its ``model.keras``) or a ``.keras`` file.

The library's recipes are data beside each family (``keras_ae/models/<family>/presets.py``),
registered in :mod:`keras_ae.presets.registry` (``Recipe``, ``register``, ``get_recipe``,
``RECIPES`` and the tiny ``TEST_CONFIGS``) when ``keras_ae.models`` is imported. Another
package adds presets through the ``keras_ae.presets`` entry-point group, each entry a
``{name: recipe}`` mapping whose recipes have ``model`` (a registered class name),
``model_args``, ``dataset`` and ``learning_rate``.
"""

import os
from importlib.metadata import entry_points

from keras_ae.presets.registry import (  # noqa: F401
    RECIPES,
    TEST_CONFIGS,
    Recipe,
    TestConfig,
    UnknownRecipeError,
    get_recipe,
    register,
    register_test_configs,
)

ENTRY_POINT_GROUP = "keras_ae.presets"


def preset_recipes():
    """``{name: recipe}``: the library's recipes, then those of every installed preset provider.

    The library's are registered by ``keras_ae.models`` (which ``import keras_ae`` imports), so
    ``RECIPES`` is complete whenever this runs; importing the models here would be a cycle.
    """
    found = dict(RECIPES)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            provided = entry.load()
        except ImportError as error:
            raise ValueError(f"the {ENTRY_POINT_GROUP} entry point {entry.name} = {entry.value} does not load "
                             f"({error}); reinstall or remove the package that declares it") from None
        found.update(provided)
    return found


def preset_names():
    """The names of every recipe preset, sorted."""
    return sorted(preset_recipes())


def _model_builder(name):
    """``(builder, family)`` of the registered ``keras_ae>name``: a model class (its own family), or a
    named configuration (a function building a configured model of the class ``family``); None if neither."""
    import inspect

    import keras

    build = keras.saving.get_registered_object(f"keras_ae>{name}")
    if build is None:
        return None
    return build, (build if inspect.isclass(build) else build.family)


def from_preset(cls, preset, family=None, **overrides):
    """A model of class ``cls`` (or a subclass) from a recipe name, a run directory or a ``.keras`` file.

    Args:
        cls: the class asked for; ``BaseAutoencoder`` accepts any family; a named configuration
            (``IWAE``) accepts its own recipes, and files holding its family.
        family: the model class ``cls`` builds when ``cls`` is a named configuration (``VAE`` for
            ``IWAE``); default ``cls`` itself.
        preset: a recipe name (untrained model, compiled), a run directory written by
            ``python -m zoo train`` or a ``.keras`` path (trained model, as saved).
        overrides: constructor arguments replacing the recipe's (recipe names only), e.g.
            ``latent_dim=32`` or ``seed=1``.

    Raises:
        ValueError: an unknown preset (the message lists the recipe names), a file that does not
            load, a preset of another family, or overrides given with a trained model.
    """
    import keras

    from keras_ae import data
    from keras_ae.training.atomic import load_model_file

    if not isinstance(preset, (str, os.PathLike)):
        raise ValueError(f"preset must be a recipe name, a run directory or a .keras path, got {type(preset).__name__}")
    preset = os.fspath(preset)
    path = os.path.join(preset, "model.keras") if os.path.isdir(preset) else preset
    if os.path.isdir(preset) or preset.endswith(".keras"):
        if overrides:
            raise ValueError(f"{cls.__name__}.from_preset({preset!r}) loads a trained model; it takes no "
                             f"arguments to change ({sorted(overrides)})")
        if not os.path.isfile(path):
            raise ValueError(f"preset {preset!r}: {path} does not exist (a run directory holds model.keras "
                             "only when training finished)")
        model = load_model_file(path)
    else:
        recipes = preset_recipes()
        if preset not in recipes:
            raise ValueError(f"unknown preset {preset!r}: not a recipe, a run directory or a .keras file; "
                             f"presets: {', '.join(sorted(recipes)) or 'none installed'}")
        recipe = recipes[preset]
        found = _model_builder(recipe.model)
        if found is None:
            raise ValueError(f"preset {preset!r} names the model {recipe.model!r}, which is not a registered "
                             "keras_ae class or named configuration")
        build, built_family = found
        family = cls if family is None else family
        named = family is not cls  # cls is a named configuration (IWAE, ...) of the class family
        if (named and recipe.model != cls.__name__) or not issubclass(built_family, family):
            raise ValueError(f"preset {preset!r} is a {recipe.model}, not a {cls.__name__}; "
                             f"use {recipe.model}.from_preset or BaseAutoencoder.from_preset")
        arguments = {**recipe.model_args, **overrides}
        model = build(input_shape=data.dataset_shape(recipe.dataset), **arguments)
        model.build()
        model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate))
        return model
    return model
