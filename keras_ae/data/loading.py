"""Load any registered dataset by name: :func:`load_dataset` (tf.data) and :func:`load_arrays` (numpy).

Both look the name up in the registry and call the spec's loader: in-memory sources
(``load_arrays`` in the spec) are sliced and resized here; streamed sources (``load_dataset``
in the spec) resize as they read.
"""

import numpy as np
import tensorflow as tf

from keras_ae import _checks
from keras_ae.data.images import resize_square
from keras_ae.data.pipelines import binarize_static, check_binarize
from keras_ae.data.registry import check_image_size, check_split, dataset_shape, dataset_spec

__all__ = ["load_dataset", "load_arrays"]


def load_dataset(name, split="train", data_dir=None, image_size=None, download=False):
    """Load a named dataset as unbatched ``(x, y)`` elements.

    Args:
        name: a name from :data:`~keras_ae.data.DATASET_NAMES` or ``"npz:PATH"``.
        split: ``"train"``, ``"test"``, or another split the dataset has (see
            :func:`~keras_ae.data.dataset_splits`).
        data_dir: TFDS data directory (default: TFDS's own, ``~/tensorflow_datasets``).
        image_size: resize images to ``image_size x image_size`` (centre crop if not square).
        download: TFDS only: download and prepare a dataset that is not in ``data_dir``
            (default False: an unprepared dataset is a ``DatasetUnavailableError`` at once).

    Returns:
        a ``tf.data.Dataset`` of ``(x, y)``: ``x`` float32 of
        :func:`~keras_ae.data.dataset_shape` in [0, 1], ``y`` an int64 label, ``-1`` where the
        dataset has none.

    Example:
        >>> ds = load_dataset("digits", "test")
        >>> x, y = next(iter(ds))
        >>> tuple(x.shape), x.dtype.name, y.dtype.name
        ((8, 8, 1), 'float32', 'int64')
    """
    spec = dataset_spec(name)
    check_split(name, split)
    image_size = check_image_size(image_size)
    if spec.load_arrays is not None:
        x, y = _in_memory_arrays(spec, name, split, image_size)
        return tf.data.Dataset.from_tensor_slices((x, y))
    return spec.load_dataset(name, split, data_dir, image_size, download=download)


def _in_memory_arrays(spec, name, split, image_size, max_examples=None):
    """``(x, y)`` of an in-memory source, cut to ``max_examples`` and resized to ``image_size``."""
    x, y = spec.load_arrays(name, split)
    if max_examples is not None:
        x, y = x[:max_examples], y[:max_examples]
    if image_size is not None:
        if x.ndim != 4:
            raise ValueError(f"image_size needs image data, but {name} holds vectors of shape {x.shape[1:]}")
        if x.shape[1:3] != (image_size, image_size):
            x = resize_square(tf.constant(x), image_size).numpy()
    return x.astype(np.float32, copy=False), y


def _streamed_arrays(spec, name, split, data_dir, image_size, max_examples=None, download=False):
    """``(x, y)`` of a streamed source, read through its dataset in batches of 1024."""
    ds = spec.load_dataset(name, split, data_dir, image_size, download=download)
    if max_examples is not None:
        ds = ds.take(max_examples)
    xs, ys = [], []
    for xb, yb in ds.batch(1024).as_numpy_iterator():
        xs.append(xb)
        ys.append(yb)
    shape = dataset_shape(name, image_size)
    x = np.concatenate(xs) if xs else np.zeros((0,) + shape, np.float32)
    y = np.concatenate(ys) if ys else np.zeros((0,), np.int64)
    return x, y


def load_arrays(name, split="train", max_examples=None, binarize=None, seed=0, data_dir=None,
                image_size=None, download=False):
    """Load a named dataset into numpy arrays.

    Args:
        name: a name from :data:`~keras_ae.data.DATASET_NAMES` or ``"npz:PATH"``.
        split: a split the dataset has (see :func:`~keras_ae.data.dataset_splits`).
        max_examples: keep only the first ``max_examples`` examples (default: all).
        binarize: ``None``, ``"static"`` (one fixed Bernoulli sample per pixel, see
            :func:`~keras_ae.data.binarize_static`) or ``"threshold"`` (``x > 0.5``). Dynamic
            binarization needs a new sample every epoch: use
            :func:`~keras_ae.data.training_pipeline` for it.
        seed: seed of the static binarization.
        data_dir: TFDS data directory.
        image_size: resize images to ``image_size x image_size``.
        download: TFDS only: download a dataset that is not prepared (see :func:`load_dataset`).

    Returns:
        ``(x, y)``: ``x`` float32 ``[N, *dataset_shape(name)]`` in [0, 1], ``y`` int64 ``[N]``.

    Example:
        >>> x, y = load_arrays("digits", "train", max_examples=100)
        >>> x.shape, y.shape
        ((100, 8, 8, 1), (100,))
    """
    spec = dataset_spec(name)
    check_split(name, split)
    if binarize == "dynamic":
        raise ValueError(
            "binarize='dynamic' draws a new sample every epoch, which fixed arrays cannot hold; "
            "use training_pipeline(..., binarize='dynamic')"
        )
    check_binarize(binarize, ("static", "threshold"))
    if max_examples is not None:
        max_examples = _checks.check_positive_int(max_examples, "max_examples")
    image_size = check_image_size(image_size)

    if spec.load_arrays is not None:
        x, y = _in_memory_arrays(spec, name, split, image_size, max_examples)
    else:
        x, y = _streamed_arrays(spec, name, split, data_dir, image_size, max_examples, download)

    if binarize == "static":
        x = binarize_static(x, seed=seed)
    elif binarize == "threshold":
        x = (x > 0.5).astype(np.float32)
    return x.astype(np.float32, copy=False), y.astype(np.int64, copy=False)
