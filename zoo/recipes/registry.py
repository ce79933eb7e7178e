"""The recipe registry: the ``Recipe`` record, ``register`` and ``get_recipe``.

The family modules import this module (not the ``zoo.recipes`` package, whose ``__init__``
imports them), so registering a family never makes an import cycle.
"""

import dataclasses
import json
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
        labels_per_class: for a semi-supervised model (labels ``-1`` mark unlabelled examples,
            ``condition_required = False``: M2, ADGM, M1M2): the training labels kept per class
            (``keras_ae.data.semisupervised.labelled_split``, chosen by the run's seed); the rest
            of the training set is unlabelled. ``None`` for every other model.
        labelled_per_batch: labelled examples in each batch of a semi-supervised model
            (``keras_ae.data.semisupervised.mixed_pipeline``); the rest of the batch is unlabelled.
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
    labels_per_class: Optional[int] = None
    labelled_per_batch: Optional[int] = None

    def to_dict(self):
        """The recipe as a JSON-ready dict (written to a run's ``config.json``)."""
        return dataclasses.asdict(self)


RECIPES = {}


class UnknownRecipeError(ValueError):
    """A recipe name that is not registered; the message lists the known names."""


def register(*recipes):
    """Add ``recipes`` to ``RECIPES``; a name registered twice is a ``ValueError``."""
    for recipe in recipes:
        if recipe.name in RECIPES:
            raise ValueError(f"recipe {recipe.name!r} is registered twice")
        RECIPES[recipe.name] = recipe


def get_recipe(name):
    """The recipe called ``name``, or ``UnknownRecipeError`` listing the known names."""
    if name not in RECIPES:
        raise UnknownRecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def representative_recipes():
    """Names of one recipe per kind of model graph, sorted: the digits recipe where there is one.

    A kind is the model class, its architecture, and the arguments that change its graph (the
    likelihood or reconstruction loss, the corruption, the penalty, free bits, the parts a VAE
    composes: posterior, prior, regularizer, bound); recipes that
    differ only in sizes, weights (beta) or callbacks share a kind. The MNIST recipes are the
    digits ones with larger bodies. The tests put these representatives through the contract
    harness and the export checks.
    """
    def kind(recipe):
        args = recipe.model_args
        # the parts a recipe composes (a VAE's posterior, prior, regularizer, bound) change its graph
        parts = tuple(json.dumps(args.get(key), sort_keys=True) for key in ("posterior", "prior", "regularizer", "bound"))
        return (recipe.model, args.get("architecture", "mlp"), args.get("likelihood"), args.get("reconstruction"),
                args.get("corruption"), args.get("penalty"), bool(args.get("free_bits"))) + parts

    chosen = {}
    # digits first, then the shortest name (the plain recipe: vae-digits before beta-vae-digits)
    for name, recipe in sorted(RECIPES.items(), key=lambda item: (item[1].dataset != "digits", len(item[0]),
                                                                  item[0])):
        chosen.setdefault(kind(recipe), name)
    return sorted(chosen.values())
