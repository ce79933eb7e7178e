"""Batches for the evaluation functions: test arrays go through a model in bounded chunks.

Shared by :mod:`keras_ae.evaluation.likelihood` and :mod:`keras_ae.evaluation.metrics`, so that
every estimate sees the same batches and the same per-batch seeds.
"""

import numpy as np

from keras_ae import _checks


def batches(x, batch_size):
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size]


def batches_with(x, condition, batch_size):
    """``(batch, condition of the batch)`` over ``x``; ``condition``: ``{name: array aligned with x}`` or None."""
    condition = {k: np.asarray(v) for k, v in (condition or {}).items()}
    for key, value in condition.items():
        if len(value) != len(x):
            raise ValueError(f"the condition {key!r} has {len(value)} entries for {len(x)} examples of x")
    for start in range(0, len(x), _checks.check_positive_int(batch_size, "batch_size")):
        yield x[start:start + batch_size], {k: v[start:start + batch_size] for k, v in condition.items()}


def batch_seed(seed, index):
    """A distinct integer seed for batch ``index`` of an evaluation seeded with ``seed``."""
    return (int(seed) * 100_003 + index) % (2**31 - 1)


def checked_array(model, x):
    """The whole test array checked once (shape, NaN, range) as float32 numpy."""
    return np.asarray(model.check_inputs(np.asarray(x)), np.float32)
