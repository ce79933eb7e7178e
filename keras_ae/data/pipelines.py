"""tf.data pipelines for ``model.fit`` and evaluation, and Bernoulli binarization of [0, 1] data.

:func:`training_pipeline` caches, shuffles, binarizes (static, dynamic or threshold), batches and
prefetches; :func:`evaluation_pipeline` batches in order. Both take a numpy array ``x`` or a
``tf.data.Dataset`` of ``(x, y)`` or ``x`` elements and yield batches of ``x`` alone.
"""

import os

import numpy as np
import tensorflow as tf

from keras_ae import _checks

__all__ = ["BINARIZE_MODES", "binarize_static", "training_pipeline", "evaluation_pipeline"]

#: Accepted values of ``binarize`` in :func:`training_pipeline` (``None`` is also accepted).
BINARIZE_MODES = ("static", "dynamic", "threshold")


def check_binarize(binarize, allowed):
    """Raise ``ValueError`` unless ``binarize`` is None or one of ``allowed``."""
    if binarize is not None and binarize not in allowed:
        choices = ", ".join(repr(b) for b in (None,) + tuple(allowed))
        raise ValueError(f"binarize must be one of {choices}, got {binarize!r}")



def _check_unit_interval(x, what):
    """Assertions that tensor ``x`` lies in [0, 1], for ``tf.control_dependencies``."""
    return [
        tf.debugging.assert_greater_equal(x, 0.0, message=f"{what} has values below 0"),
        tf.debugging.assert_less_equal(x, 1.0, message=f"{what} has values above 1"),
    ]


def _bernoulli(x, seed):
    """One Bernoulli(x) sample per pixel; ``seed`` is a stateless seed of shape [2]."""
    with tf.control_dependencies(_check_unit_interval(x, "x to binarize")):
        u = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=tf.float32)
    return tf.cast(u < x, tf.float32)


def _static_sample(index, x, seed):
    """The static Bernoulli sample of example number ``index``."""
    # Keyed by the example's position, so the sample is fixed whatever order it is read in.
    return _bernoulli(x, tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)]))


def _validate_unit_array(x, name="x"):
    """Return numpy ``x`` as float32 after checking it is float (or bool) in [0, 1]."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_):
        raise ValueError(
            f"{name} must be float in [0, 1], got dtype {x.dtype}"
            + ("; divide uint8 images by 255 first" if x.dtype == np.uint8 else "")
        )
    x = x.astype(np.float32, copy=False)
    if x.size and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(f"{name} has values outside [0, 1] (min {x.min():.4g}, max {x.max():.4g})")
    return x


def binarize_static(x, seed=0):
    """Draw one fixed Bernoulli sample per pixel (Larochelle & Murray's static binarization).

    Pixel ``j`` of example ``i`` becomes 1 with probability ``x[i, j]``. The sample depends only
    on ``seed`` and the example's index, so the same call always gives the same array, and
    :func:`training_pipeline` with ``binarize="static"`` gives the same sample for the same seed.

    Args:
        x: float array ``[N, ...]`` in [0, 1].
        seed: integer seed.

    Returns:
        float32 array of the same shape holding 0.0 and 1.0.

    Example:
        >>> x, _ = load_arrays("digits", max_examples=10)
        >>> xb = binarize_static(x, seed=0)
        >>> np.unique(xb).tolist()
        [0.0, 1.0]
    """
    x = _validate_unit_array(x)
    if x.ndim < 1:
        raise ValueError(f"x must have a batch axis, got shape {x.shape}")
    if x.shape[0] == 0:
        return x.copy()
    ds = tf.data.Dataset.from_tensor_slices(x).enumerate()
    ds = ds.map(lambda i, xi: _static_sample(i, xi, seed)).batch(4096)
    return np.concatenate(list(ds.as_numpy_iterator())).astype(np.float32)


def _check_batch_size(batch_size):
    """Return ``batch_size`` as an int, else raise ``ValueError``."""
    return _checks.check_positive_int(batch_size, "batch_size")


def _x_dataset(source):
    """A dataset of float32 x alone from a numpy array or a dataset of (x, y) or x elements."""
    if isinstance(source, tf.data.Dataset):
        spec = source.element_spec
        if isinstance(spec, (tuple, list)):
            if not spec:
                raise ValueError("source dataset has empty elements; expected (x, y) or x")
            ds = source.map(lambda x, *rest: x)
            spec = spec[0]
        elif isinstance(spec, tf.TensorSpec):
            ds = source
        else:
            raise ValueError(
                f"source dataset must yield x or (x, y) tensors, got elements of type {spec!r}"
            )
        if not (spec.dtype.is_floating or spec.dtype == tf.bool):
            raise ValueError(
                f"source dataset yields x of dtype {spec.dtype.name}; expected float in [0, 1]"
                + (" (divide uint8 images by 255)" if spec.dtype == tf.uint8 else "")
            )
        return ds.map(lambda x: tf.cast(x, tf.float32))
    if isinstance(source, (tuple, list)) or isinstance(source, str):
        raise ValueError(
            "source must be a numpy array x or a tf.data.Dataset of (x, y) or x elements, got "
            f"{type(source).__name__}; for a named dataset use load_dataset(name)"
        )
    x = np.asarray(source)
    if x.ndim < 1:
        raise ValueError(f"source array must have a batch axis, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_):
        raise ValueError(
            f"source array has dtype {x.dtype}; expected float in [0, 1]"
            + (" (divide uint8 images by 255)" if x.dtype == np.uint8 else "")
        )
    return tf.data.Dataset.from_tensor_slices(x.astype(np.float32, copy=False))


def _apply_cache(ds, cache):
    """Cache ``ds`` in memory (True), not at all (False/None) or in the file ``cache``."""
    if cache is True:
        return ds.cache()
    if cache is False or cache is None:
        return ds
    if isinstance(cache, (str, os.PathLike)):
        return ds.cache(os.fspath(cache))
    raise ValueError(f"cache must be True, False or a file path, got {cache!r}")


def _default_shuffle_buffer(ds):
    """The whole dataset if its size is known, at most 60000; else 10000."""
    n = int(ds.cardinality())
    if n > 0:
        # A buffer as large as the data is a full shuffle; cap it to bound memory.
        return min(n, 60_000)
    return 10_000


def training_pipeline(source, batch_size, shuffle=True, seed=0, binarize=None, cache=True,
                      drop_remainder=False, repeat=False, shuffle_buffer=None):
    """Batches of ``x`` for ``model.fit``: cache, shuffle, binarize, batch, prefetch.

    The order is: (static/threshold binarization) -> cache -> shuffle (reshuffled every epoch,
    seeded) -> repeat -> batch -> (dynamic binarization) -> prefetch. Dynamic binarization comes
    after the cache and the shuffle so that every epoch draws a fresh sample for every example;
    its noise comes from ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``, so
    epochs differ but the same ``seed`` reproduces the whole run.

    Args:
        source: numpy array ``x`` ``[N, ...]`` (float in [0, 1]), or a ``tf.data.Dataset`` of
            ``(x, y)`` or ``x`` elements (e.g. :func:`~keras_ae.data.load_dataset`); labels are dropped.
        batch_size: examples per batch (the global batch under ``tf.distribute``).
        shuffle: shuffle the examples (default ``True``).
        seed: seed of the shuffle and the binarization.
        binarize: ``None``; ``"static"`` (one fixed Bernoulli sample, the same every epoch);
            ``"dynamic"`` (a fresh Bernoulli sample every epoch); ``"threshold"`` (``x > 0.5``).
        cache: ``True`` (in memory), ``False``, or a file path for ``Dataset.cache(path)``
            (use it for data larger than memory, e.g. celeb_a).
        drop_remainder: drop the last incomplete batch.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        shuffle_buffer: shuffle buffer size (default: the whole dataset, at most 60000). TFDS
            stores dsprites ordered by its latent factors, so a buffer smaller than the dataset
            gives batches of few shapes and scales: pass ``shuffle_buffer`` = the dataset size
            (and ``cache=PATH``: 631954 float32 64x64 images are about 10 GB).

    Returns:
        a ``tf.data.Dataset`` of float32 ``[B, *shape]`` batches.

    Example:
        >>> ds = training_pipeline(load_dataset("digits"), batch_size=32, binarize="dynamic")
        >>> next(iter(ds)).shape
        TensorShape([32, 8, 8, 1])
    """
    batch_size = _check_batch_size(batch_size)
    check_binarize(binarize, BINARIZE_MODES)
    if isinstance(source, np.ndarray) and binarize is not None:
        _validate_unit_array(source, "source array")
    ds = _x_dataset(source)

    if binarize == "static":
        ds = ds.enumerate().map(
            lambda i, x: _static_sample(i, x, seed), num_parallel_calls=tf.data.AUTOTUNE
        )
    elif binarize == "threshold":
        ds = ds.map(lambda x: tf.cast(x > 0.5, tf.float32), num_parallel_calls=tf.data.AUTOTUNE)

    ds = _apply_cache(ds, cache)
    if shuffle:
        if shuffle_buffer is None:
            shuffle_buffer = _default_shuffle_buffer(ds)
        else:
            shuffle_buffer = _checks.check_positive_int(shuffle_buffer, "shuffle_buffer")
        ds = ds.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if binarize == "dynamic":
        # One int64 per batch; re-randomized on every new iteration (= every fit epoch). One draw
        # per batch, not per example: 0.7 instead of 4.5 ms per MNIST batch of 100 (measured by
        # iterating the pipeline), which had made it slower than the training step it feeds.
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        seed_t = tf.constant(seed, tf.int64)
        ds = tf.data.Dataset.zip((ds, noise)).map(
            lambda x, r: _bernoulli(x, tf.stack([r, seed_t])), num_parallel_calls=tf.data.AUTOTUNE
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def evaluation_pipeline(source, batch_size, cache=True):
    """Batches of ``x`` in order for evaluation: no shuffle, no binarization, cached, prefetched.

    Args:
        source: numpy array ``x`` or a ``tf.data.Dataset`` of ``(x, y)`` or ``x`` elements.
        batch_size: examples per batch.
        cache: ``True`` (in memory), ``False``, or a file path.

    Returns:
        a ``tf.data.Dataset`` of float32 ``[B, *shape]`` batches; the last one may be smaller.

    Example:
        >>> ds = evaluation_pipeline(load_dataset("digits", "test"), batch_size=100)
        >>> [int(b.shape[0]) for b in ds]
        [100, 100, 100, 60]
    """
    batch_size = _check_batch_size(batch_size)
    ds = _apply_cache(_x_dataset(source), cache)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
