"""Argument and array checks, each written once, used by every public entry point.

Every check raises ``ValueError`` whose message names the argument and the value received, so a
user sees what was wrong (``x must have shape (batch,) + (64,), got (3, 63)``). Array checks run
only when executing eagerly: inside a traced function (``fit``, an export graph) the values are
not known, and the checks happened on the way in.
"""

import numbers
import re

import numpy as np
import tensorflow as tf


def check_integer(value, name, minimum=None, maximum=None):
    """An integer (not a bool) within ``[minimum, maximum]``; returns it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        if not (isinstance(value, (float, np.floating)) and float(value).is_integer()):
            raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {value}")
    return value


def check_positive_int(value, name):
    """An integer >= 1 (a number of samples, a batch size, ...)."""
    return check_integer(value, name, minimum=1)


def check_int_sequence(value, name, minimum=1):
    """A list or tuple of integers >= ``minimum`` (layer sizes, a shape); returns it as a tuple of ``int``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"{name} must be a tuple of integers >= {minimum}, got {value!r}")
    return tuple(check_integer(v, f"{name} entries", minimum=minimum) for v in value)


def check_number(value, name, minimum=None, maximum=None, exclusive_minimum=False, exclusive_maximum=False):
    """A finite real number within the bounds (inclusive unless said); returns it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    received, value = value, float(value)
    low_ok = minimum is None or (value > minimum if exclusive_minimum else value >= minimum)
    high_ok = maximum is None or (value < maximum if exclusive_maximum else value <= maximum)
    if not np.isfinite(value) or not low_ok or not high_ok:
        bound = []
        if minimum is not None:
            bound.append(f"{'>' if exclusive_minimum else '>='} {minimum:g}")
        if maximum is not None:
            bound.append(f"{'<' if exclusive_maximum else '<='} {maximum:g}")
        raise ValueError(f"{name} must be {' and '.join(bound) if bound else 'finite'}, got {received}")
    return value


def check_choice(value, name, choices):
    """One of ``choices``; the message lists them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_seed(seed, name="seed"):
    """``None`` or an integer seed >= 0."""
    if seed is None:
        return None
    return check_integer(seed, name, minimum=0)


def _range_text(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_batch(x, spec, name="x", value_range=None, reason=None):
    """Check a batch against the spec of one example and return it as a tensor of ``spec.dtype``.

    Args:
        x: array-like or tensor ``[B, *spec.shape]``.
        spec: ``tf.TensorSpec`` of one example (shape without the batch axis, dtype).
        name: the argument's name, for messages.
        value_range: ``(low, high)`` the values must lie in (inclusive), or None.
        reason: why the range holds, for the message (e.g. "a bernoulli likelihood").
    Returns:
        the batch as a ``tf.Tensor`` of ``spec.dtype``.

    Example: ``check_batch(x, tf.TensorSpec((64,), tf.float32), value_range=(0, 1))``.
    """
    dtype = tf.as_dtype(spec.dtype)
    if isinstance(x, tf.data.Dataset):
        raise ValueError(f"{name} must be an array or tensor, got a tf.data.Dataset; pass a batch")
    if not tf.executing_eagerly():
        return tf.cast(x, dtype)
    if isinstance(x, (tf.Tensor, tf.Variable)):
        got = x.dtype
        if not (got.is_floating or got.is_integer or got == tf.bool):
            raise ValueError(f"{name} must be numeric, got dtype {got.name}")
        arr = x.numpy()
    else:
        arr = np.asarray(x)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    shape = tuple(spec.shape)
    if arr.shape == shape and shape:
        raise ValueError(f"{name} has shape {arr.shape}, one example: add a batch axis, expected (batch,) + {shape}")
    if arr.ndim != len(shape) + 1 or tuple(arr.shape[1:]) != shape:
        raise ValueError(f"{name} must have shape (batch,) + {shape}, got {arr.shape}")
    if dtype.is_integer:
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError(f"{name} must hold integers ({dtype.name} codes), got dtype {arr.dtype} "
                                 "with non-integer values")
    elif not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if value_range is not None and arr.size:
        low, high = value_range
        if arr.min() < low or arr.max() > high:
            because = f"; {reason} needs data in [{low:g}, {high:g}]" if reason else ""
            raise ValueError(f"{name} has values outside [{low:g}, {high:g}] (min {arr.min():.4g}, "
                             f"max {arr.max():.4g}){because}")
    return tf.convert_to_tensor(arr.astype(dtype.as_numpy_dtype, copy=False))


def check_batch_size_match(tensors, names):
    """Tensors that describe the same examples must have the same batch size."""
    sizes = [int(t.shape[0]) if t.shape.rank else None for t in tensors]
    if tf.executing_eagerly() and len(set(sizes)) > 1:
        listed = ", ".join(f"{n} has {s}" for n, s in zip(names, sizes))
        raise ValueError(f"batch sizes differ: {listed}")


#: Start and end of the messages of :func:`check_dataset_values`'s in-pipeline assertions.
DATASET_CHECK, _MIDDLE, _END = "keras_ae input check: ", " <<", " >>"


def check_dataset_values(ds, unpack, name="x", value_range=None, reason=None):
    """``ds`` with the data of every element checked as it is read: finite, within ``value_range``.

    The numpy path checks the whole array once (:func:`check_batch`); a ``tf.data`` pipeline is
    checked batch by batch inside the pipeline (a min and a max per batch, on the input
    threads), so bad data stops ``fit`` at the first bad batch instead of training on
    it. :func:`dataset_check_error` turns the failure into a one-line ``ValueError``.

    Args:
        ds: a ``tf.data.Dataset`` of batches (``x``, a tuple or a dict).
        unpack: ``element -> x``, the data of an element.
        name: the argument's name, for messages.
        value_range: ``(low, high)`` (inclusive), or None for finiteness only.
        reason: why the range holds, for the message (e.g. "a bernoulli likelihood").
    """
    def check(*element):
        element = element[0] if len(element) == 1 else element
        x = unpack(element)
        if not (x.dtype.is_floating or x.dtype.is_integer):
            return element
        # Two reductions and no elementwise pass: TensorFlow's min and max propagate NaN (a NaN
        # anywhere makes both NaN; checked by the tests), and an infinity is a min or a max.
        x32 = tf.reshape(tf.cast(x, tf.float32), [-1])
        smallest, largest = tf.reduce_min(x32), tf.reduce_max(x32)
        finite = tf.logical_and(tf.math.is_finite(smallest), tf.math.is_finite(largest))
        not_finite = DATASET_CHECK + f"{name} contains NaN or infinite values" + _MIDDLE + _END
        asserts = [tf.debugging.Assert(finite, [not_finite])]
        if value_range is not None:
            low, high = value_range
            because = f"; {reason} needs data in [{low:g}, {high:g}]" if reason else ""
            in_range = tf.logical_or(tf.logical_not(finite), tf.logical_and(smallest >= low, largest <= high))
            asserts.append(tf.debugging.Assert(in_range, [
                DATASET_CHECK + f"{name} has values outside [{low:g}, {high:g}]" + _MIDDLE + because + _END,
                "min", smallest,
                "max", largest]))
        with tf.control_dependencies(asserts):
            return tf.nest.map_structure(tf.identity, element)

    return ds.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def dataset_check_error(error):
    """The one-line ``ValueError`` of a failed :func:`check_dataset_values` assertion, else ``None``."""
    text = str(error)
    start = text.find(DATASET_CHECK)
    if start < 0:
        return None
    head, _, rest = text[start + len(DATASET_CHECK):].partition(_MIDDLE)
    tail = rest.split(_END, 1)[0]
    found = re.search(r"\[min\] \[([^\]]*)\] \[max\] \[([^\]]*)\]", text[start:])
    where = f"min {found[1]}, max {found[2]} in a batch of the dataset" if found else "in a batch of the dataset"
    return ValueError(f"{head} ({where}){tail}")
