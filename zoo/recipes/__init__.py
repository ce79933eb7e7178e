"""Named recipes: model class + arguments + dataset + training settings, one line of description.

A recipe is data. The ``Recipe`` record and the registry live in ``zoo.recipes.registry``; each
family registers its recipes in a module imported below. ``get_recipe(name)`` and ``RECIPES`` are
what the CLI and the shared test harness use.
"""

from zoo.recipes.registry import RECIPES, Recipe, UnknownRecipeError, get_recipe, register  # noqa: F401

# Each module registers the recipes of one model family.
from zoo.recipes import deterministic  # noqa: F401
from zoo.recipes import variational  # noqa: F401
from zoo.recipes import regularized  # noqa: F401
from zoo.recipes import flows  # noqa: F401
from zoo.recipes import disentangling  # noqa: F401
from zoo.recipes import divergences  # noqa: F401
from zoo.recipes import vq  # noqa: F401
from zoo.recipes import hierarchical  # noqa: F401
from zoo.recipes import spatial  # noqa: F401
from zoo.recipes import draw  # noqa: F401
from zoo.recipes import conditional  # noqa: F401
from zoo.recipes import composed  # noqa: F401
