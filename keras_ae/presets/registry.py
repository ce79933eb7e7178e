"""The recipe registry: the ``Recipe`` record, ``register`` and ``get_recipe``; and the tiny test
configurations (``TestConfig``, ``register_test_configs``) that put every graph a recipe builds
through the contract harness.

Each family registers its recipes and, beside them, its tiny test configurations in
``keras_ae/models/<family>/presets.py``; ``keras_ae/models/__init__.py`` imports those modules in
the order of the README's model table. This module imports nothing of the project, so a family's
presets import it without a cycle.
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


# -- tiny test configurations ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TestConfig:
    """A tiny configuration of a family that ``tests/test_harness_configs.py`` puts through the whole
    contract harness (``keras_ae.testing.check_model``: both training paths, save/load, signatures,
    codes, refusals, importance weights; two replicas, SavedModel and TFLite where asked).

    Every graph-changing argument value a recipe uses (``graph_values``) must appear in a test
    configuration of the same model; ``tests/test_harness_configs.py`` fails when one is missing.
    Sizes are tiny (a 4x4 or 8x8 image, latent 2, hidden (8,)) so each check costs seconds.

    Attributes:
        name: unique name, e.g. ``"vae"``.
        model: the model's name in ``keras_ae.models`` (as ``Recipe.model``).
        model_args: constructor arguments (``input_shape`` and ``seed`` are filled in).
        input_shape: shape of one example, default ``(4, 4, 1)``.
        grey: data uniform in [0, 1] instead of binary, default False.
        labels: the integer batch entries (``batch_extras_spec``: a conditional or semi-supervised
            model's ``y``) are ``i % labels``; they are the condition of the public methods
            unless ``unlabelled``. Float entries (a video model's neighbour frames) are uniform
            in [0, 1]. Default None (no integer entries).
        unlabelled: every other label is ``-1`` (unlabelled; a semi-supervised model), default False.
        mirrored: the two-replica fit, default True (every configuration runs it).
        saved_model, tflite: the export checks. Each model runs both in at least one of its
            configurations (the test checks it); a configuration whose inference graph differs
            (another likelihood, architecture or attention) converts to TFLite too, one that
            changes only the training objective (a corruption, a penalty, a kernel) leaves both
            out: its exported graphs are the ones already checked.
        tflite_skipped: ``{signature: a word of the reason}`` the TFLite file must leave out, and
            nothing else (a signature whose ops have no builtin kernel, named in the sidecar);
            default none: every signature converts.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    model: str
    model_args: dict
    input_shape: tuple = (4, 4, 1)
    grey: bool = False
    labels: Optional[int] = None
    unlabelled: bool = False
    mirrored: bool = True
    saved_model: bool = True
    tflite: bool = True
    tflite_skipped: dict = dataclasses.field(default_factory=dict)


TEST_CONFIGS = {}


def register_test_configs(*configs):
    """Add ``configs`` to ``TEST_CONFIGS``; a name registered twice is a ``ValueError``."""
    for config in configs:
        if config.name in TEST_CONFIGS:
            raise ValueError(f"test configuration {config.name!r} is registered twice")
        TEST_CONFIGS[config.name] = config


def graph_values(model_args, prefix=""):
    """``{(argument, value class)}``: the argument values of a configuration that change its graph.

    A string, a bool or None is its own class (a likelihood, a corruption, ``attention=False``);
    a number is ``"zero"`` or ``"nonzero"`` (a weight of zero drops a term, ``free_bits > 0`` adds
    one); a sequence is ``"empty"`` or ``"sizes"`` (no hidden layer against some); a dict (a first
    stage's arguments) is read the same way, its keys prefixed with ``"name."``. Sizes, weights
    and depths are not graph changes: the same code builds them.
    """
    values = set()
    for key, value in model_args.items():
        name = prefix + key
        if isinstance(value, dict):
            values |= graph_values(value, name + ".")
        elif value is None or isinstance(value, (str, bool)):
            values.add((name, value))
        elif isinstance(value, (int, float)):
            values.add((name, "zero" if value == 0 else "nonzero"))
        elif isinstance(value, (tuple, list)):
            values.add((name, "empty" if len(value) == 0 else "sizes"))
        else:
            values.add((name, repr(value)))
    return values

