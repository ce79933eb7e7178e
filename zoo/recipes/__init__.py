"""Named recipes: model class + arguments + dataset + training settings, one line of description.

A recipe is data. Families register theirs in the modules imported at the bottom of this file;
``get_recipe(name)`` and ``RECIPES`` are what the CLI and the shared test harness use.
"""

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One zoo entry.

    Attributes:
        name: unique recipe name, e.g. ``"ae-digits"``.
        model: class name in ``keras_ae.models`` (e.g. ``"Autoencoder"``).
        model_args: constructor arguments; ``input_shape`` is filled in from the dataset.
        dataset: dataset name for ``keras_ae.data`` (e.g. ``"digits"``, ``"mnist"``).
        description: one line for ``python -m zoo list``.
        epochs, batch_size, learning_rate: training settings (batch size is the global batch).
        binarize: ``None``, ``"static"`` or ``"dynamic"`` binarization of the training data.
        callbacks: ``((name, kwargs), ...)`` built from ``keras_ae.callbacks`` by name.
    """

    name: str
    model: str
    model_args: dict
    dataset: str
    description: str
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    binarize: Optional[str] = None
    callbacks: tuple = ()

    def to_dict(self):
        return dataclasses.asdict(self)


RECIPES = {}


class UnknownRecipeError(ValueError):
    """A recipe name that is not registered; the message lists the known names."""


def register(*recipes):
    for recipe in recipes:
        if recipe.name in RECIPES:
            raise ValueError(f"recipe {recipe.name!r} is registered twice")
        RECIPES[recipe.name] = recipe


def get_recipe(name):
    if name not in RECIPES:
        raise UnknownRecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def recipe_names():
    return tuple(sorted(RECIPES))


# Each module registers the recipes of one model family.
from zoo.recipes import deterministic  # noqa: E402,F401
from zoo.recipes import variational  # noqa: E402,F401
from zoo.recipes import regularized  # noqa: E402,F401
