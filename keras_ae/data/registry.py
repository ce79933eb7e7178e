"""One registry of dataset specs: every dataset name, or name family, maps to a :class:`DatasetSpec`.

A source module (:mod:`~keras_ae.data.digits`, :mod:`~keras_ae.data.tfds`,
:mod:`~keras_ae.data.npz`) describes each dataset it serves as a spec and calls :func:`register`.
Everything that depends on the dataset (its splits, its example shape, how it is loaded) is read
from the spec that :func:`dataset_spec` finds; nothing dispatches on the name.

A spec whose name ends in ``":"`` is a *family*: it serves every name with that prefix, e.g.
``npz:`` serves ``npz:PATH``, and checks the rest of the name with its ``check_name``.
"""

import dataclasses
from typing import Callable, Optional, Tuple, Union

from keras_ae import _checks

__all__ = [
    "DatasetSpec",
    "DatasetUnavailableError",
    "UnknownDatasetError",
    "register",
    "dataset_spec",
    "dataset_names",
    "check_dataset_name",
    "dataset_splits",
    "check_split",
    "dataset_shape",
]


class DatasetUnavailableError(ValueError):
    """A known TFDS dataset that is neither prepared locally nor downloadable (no network)."""


class UnknownDatasetError(ValueError):
    """A dataset name that is neither a known name nor ``npz:PATH``."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What the data functions need to know about one dataset, or one family of names.

    Attributes:
        name: the dataset name (``"mnist"``), or for a family the prefix ending in ``":"``
            (``"npz:"``).
        source: the kind of source, e.g. ``"digits"``, ``"tfds"``, ``"npz"``.
        splits: the split names, e.g. ``("train", "test")``.
        shape: the shape of one example when ``image_size`` is None, ``(H, W, C)`` or ``(D,)``;
            or a callable ``shape(name) -> tuple`` when it depends on the name (a family).
        has_labels: whether ``y`` holds real labels (``False``: always ``-1``; ``None``: it
            depends on the data, e.g. an npz file with or without ``y_train``).
        load_arrays: ``load_arrays(name, split) -> (x, y)`` for a source read into memory
            (float32 ``[N, *shape]`` in [0, 1], int64 ``[N]``); resizing and ``max_examples``
            are applied by the caller.
        load_dataset: ``load_dataset(name, split, data_dir, image_size, download=False) -> tf.data.Dataset`` of
            unbatched ``(x, y)`` for a streamed source; exactly one of the two loaders is set.
        check_name: for a family, ``check_name(name)`` raises if the rest of the name is unusable
            (:class:`UnknownDatasetError` for a malformed name, ``ValueError`` for a missing file).
        usage: for a family, how its names are written in messages, e.g.
            ``"npz:PATH for your own .npz file"``.
        ground_truth: ``ground_truth(name) -> data`` for a dataset generated from known factors
            (``None`` otherwise): ``data`` has ``factor_sizes``, ``sample_factors(n, rng)`` and
            ``sample_observations_from_factors(factors, rng)``, which the metrics of
            :mod:`keras_ae.evaluation.disentanglement` need.
        load_sequences: ``load_sequences(name, split) -> VideoSplit`` for a video dataset (``None``
            otherwise): the frames as sequences ``[S, T, H, W, C]`` and the true object positions
            ``[S, T, K, 2]`` (:mod:`keras_ae.data.video`), for models trained on consecutive
            frames and for the feature-point metric; ``load_arrays`` gives the same frames flat.
    """

    name: str
    source: str
    splits: Tuple[str, ...]
    shape: Union[Tuple[int, ...], Callable[[str], Tuple[int, ...]]]
    has_labels: Optional[bool]
    load_arrays: Optional[Callable] = None
    load_dataset: Optional[Callable] = None
    check_name: Optional[Callable[[str], None]] = None
    usage: str = ""
    ground_truth: Optional[Callable] = None
    load_sequences: Optional[Callable] = None

    def __post_init__(self):
        """Check that the spec is complete: a name, splits, and exactly one loader."""
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"DatasetSpec.name must be a non-empty string, got {self.name!r}")
        if not self.splits or not all(isinstance(s, str) for s in self.splits):
            raise ValueError(f"DatasetSpec {self.name!r}: splits must be split names, got {self.splits!r}")
        if (self.load_arrays is None) == (self.load_dataset is None):
            raise ValueError(f"DatasetSpec {self.name!r}: set exactly one of load_arrays and load_dataset")
        if self.is_family and not self.usage:
            raise ValueError(f"DatasetSpec {self.name!r}: a family needs a usage text for messages")

    @property
    def is_family(self):
        """Whether this spec serves every name starting with :attr:`name` (a prefix rule)."""
        return self.name.endswith(":")

    def example_shape(self, name):
        """Return the shape of one example of dataset ``name`` when ``image_size`` is None."""
        return tuple(self.shape(name)) if callable(self.shape) else tuple(self.shape)


_SPECS = {}  # name or family prefix -> DatasetSpec, in registration order


def register(spec):
    """Add ``spec`` to the registry; its name (or prefix) must not be registered yet.

    Args:
        spec: a :class:`DatasetSpec`.

    Returns:
        the spec, so a source module can keep it.

    Raises:
        ValueError: the name is already registered.
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"register() takes a DatasetSpec, got {type(spec).__name__}")
    if spec.name in _SPECS:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    _SPECS[spec.name] = spec
    return spec


def dataset_names():
    """Return the registered dataset names, in registration order (``npz:PATH`` is accepted too).

    Families such as ``npz:`` are not listed: they are not names but prefix rules.

    Example:
        >>> "digits" in dataset_names()
        True
    """
    return tuple(name for name, spec in _SPECS.items() if not spec.is_family)


def _known_names_text():
    """The known names and the family usages, as listed in :class:`UnknownDatasetError`."""
    families = [spec.usage for spec in _SPECS.values() if spec.is_family]
    return ", ".join(dataset_names()) + "".join(", or " + usage for usage in families)


def dataset_spec(name):
    """Return the :class:`DatasetSpec` serving ``name``, after checking the name.

    Args:
        name: a registered name, or a name of a registered family (``"npz:PATH"``).

    Raises:
        UnknownDatasetError: the name is unknown (the message lists the known names).
        ValueError: a family name the family rejects (``npz:PATH`` whose file does not exist).

    Example:
        >>> dataset_spec("mnist").source
        'tfds'
    """
    if isinstance(name, str):
        spec = _SPECS.get(name)
        if spec is not None and not spec.is_family:
            return spec
        for prefix, spec in _SPECS.items():
            if spec.is_family and name.startswith(prefix):
                if spec.check_name is not None:
                    spec.check_name(name)
                return spec
    raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {_known_names_text()}")


def check_dataset_name(name):
    """Return ``name`` if it names a dataset, else raise :class:`UnknownDatasetError`.

    Args:
        name: one of :func:`dataset_names` or ``"npz:PATH"``.

    Returns:
        the name, unchanged.

    Raises:
        UnknownDatasetError: the name is unknown (the message lists the known names).
        ValueError: ``npz:PATH`` whose file does not exist.

    Example:
        >>> check_dataset_name("mnist")
        'mnist'
    """
    dataset_spec(name)
    return name


def dataset_splits(name):
    """Return the split names available for dataset ``name``.

    Example:
        >>> dataset_splits("binarized_mnist")
        ('train', 'validation', 'test')
    """
    return dataset_spec(name).splits


def check_split(name, split):
    """Return ``split`` if dataset ``name`` has it, else raise ``ValueError`` listing the splits.

    Example:
        >>> check_split("mnist", "test")
        'test'
    """
    allowed = dataset_splits(name)
    if split in allowed:
        return split
    spec = dataset_spec(name)
    if spec.source == "tfds" and isinstance(split, str) and ("[" in split or "+" in split):
        if spec.name == "dsprites":
            raise ValueError(f"split {split!r}: dsprites takes only 'train' or 'test' (its test split is held out "
                             "by position, so TFDS slicing does not apply)")
        import tensorflow_datasets as tfds

        try:
            tfds.core.ReadInstruction.from_spec(split)  # validates the slicing syntax
        except (ValueError, AssertionError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"split {split!r} is not a TFDS split expression ({reason})") from None
        names = sorted({part.split("[")[0].strip() for part in split.split("+")})
        unknown = [n for n in names if n not in allowed]
        if not unknown:
            return split
        raise ValueError(f"split {split!r} names {unknown}, not splits of dataset {name!r}; "
                         f"choose from: {', '.join(allowed)}")
    raise ValueError(
        f"split {split!r} is not available for dataset {name!r}; choose one of: {', '.join(allowed)}"
        + ("; TFDS slicing such as 'train[:10%]' works too" if spec.source == "tfds" else "")
    )


def check_image_size(image_size):
    """Return ``image_size`` as an int (or None), else raise ``ValueError``."""
    if image_size is None:
        return None
    return _checks.check_positive_int(image_size, "image_size")


def dataset_shape(name, image_size=None):
    """Return the shape of one example of dataset ``name`` without loading the data.

    Args:
        name: a name from :func:`dataset_names` or ``"npz:PATH"`` (only the array header is read).
        image_size: resize images to ``image_size x image_size`` (default: the shapes in the
            :mod:`keras_ae.data` docstring).

    Returns:
        ``(H, W, C)`` for images, ``(D,)`` for npz vectors.

    Example:
        >>> dataset_shape("mnist")
        (28, 28, 1)
        >>> dataset_shape("celeb_a", image_size=32)
        (32, 32, 3)
    """
    spec = dataset_spec(name)
    image_size = check_image_size(image_size)
    shape = spec.example_shape(name)
    if image_size is None:
        return shape
    if len(shape) != 3:
        raise ValueError(f"image_size needs image data, but {name} holds vectors of shape {shape}")
    return (image_size, image_size, shape[-1])
