"""Semi-supervised data: a labelled/unlabelled split and batches that mix the two in a stated ratio.

:func:`labelled_split` keeps ``N`` labels balanced over the classes (chosen by a seed) and hides
the rest; :func:`mixed_pipeline` makes ``model.fit`` batches ``{"x": [B, ...], "y": [B]}`` of
``labelled_per_batch`` labelled examples and ``B - labelled_per_batch`` unlabelled ones whose
label is ``UNLABELLED`` (-1). One batch structure serves both kinds, so the semi-supervised
models (``keras_ae.models.M2``, ``ADGM``) train on Keras's per-step and fused XLA paths and
under ``tf.distribute``: the labelled rows are spread evenly through the batch, so every
replica's contiguous slice holds its share of them.

Example::

    x, y = keras_ae.data.load_arrays("digits", "train")
    split = labelled_split(x, y, labels_per_class=10, seed=0)
    ds = mixed_pipeline(split, batch_size=64, labelled_per_batch=16, seed=0)
    model.fit(ds, epochs=50)
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_ae import _checks
from keras_ae.data.pipelines import _validate_unit_array

#: the label of an unlabelled example in a mixed batch.
UNLABELLED = -1

__all__ = ["UNLABELLED", "LabelledSplit", "labelled_split", "mixed_pipeline", "interleaved_order"]


class LabelledSplit(NamedTuple):
    """A training set with few labels.

    Attributes:
        x_labelled: ``[N_l, ...]`` float32, the examples that keep their labels.
        y_labelled: ``[N_l]`` int32 labels in ``[0, num_classes)``.
        x_unlabelled: ``[N_u, ...]`` float32, every other example (its label hidden).
        labelled_indices: ``[N_l]`` positions of the labelled examples in the full set (sorted).
        num_classes: number of classes.
    """

    x_labelled: np.ndarray
    y_labelled: np.ndarray
    x_unlabelled: np.ndarray
    labelled_indices: np.ndarray
    num_classes: int


def labelled_split(x, y, labels_per_class=None, num_labels=None, seed=0, num_classes=None):
    """Keep ``N`` labels balanced over the classes, chosen by ``seed``; the rest is unlabelled.

    Each class keeps ``N // K`` labels; the ``N % K`` left over go one each to classes drawn
    by the seed. The labelled examples of a class are a seeded random choice among its examples.

    Args:
        x: examples ``[N, ...]``, float in [0, 1].
        y: labels ``[N]``, ints in ``[0, num_classes)``.
        labels_per_class: labels kept per class (or give ``num_labels``).
        num_labels: labels kept in total, >= the number of classes.
        seed: integer seed of the choice; the same seed, the same split.
        num_classes: default ``max(y) + 1``.
    Returns:
        a :class:`LabelledSplit`.
    """
    x = np.asarray(x, np.float32)
    _validate_unit_array(x, "x")
    y = np.asarray(y)
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},) (one label per example of x), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise ValueError("y must hold labels >= 0 (a split needs every training label; -1 marks none)")
    seed = _checks.check_seed(seed)
    k = int(y.max()) + 1 if num_classes is None else _checks.check_integer(num_classes, "num_classes", 2)
    if y.size and y.max() >= k:
        raise ValueError(f"y has labels up to {int(y.max())}, outside [0, {k}) for num_classes={k}")
    if (labels_per_class is None) == (num_labels is None):
        raise ValueError("give exactly one of labels_per_class and num_labels")
    if labels_per_class is not None:
        num_labels = _checks.check_positive_int(labels_per_class, "labels_per_class") * k
    num_labels = _checks.check_integer(num_labels, "num_labels", minimum=k)
    rng = np.random.default_rng(seed)
    per_class = np.full(k, num_labels // k)
    per_class[rng.permutation(k)[:num_labels % k]] += 1
    chosen = []
    for c in range(k):
        members = np.flatnonzero(y == c)
        if len(members) < per_class[c]:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than the {per_class[c]} labels asked")
        chosen.append(rng.choice(members, size=per_class[c], replace=False))
    labelled = np.sort(np.concatenate(chosen))
    unlabelled = np.setdiff1d(np.arange(len(x)), labelled)
    return LabelledSplit(x[labelled], y[labelled].astype(np.int32), x[unlabelled], labelled, k)


def interleaved_order(num_labelled, num_unlabelled):
    """The positions that spread ``num_labelled`` rows evenly among ``num_unlabelled`` ones.

    Row ``i`` of ``concat([labelled, unlabelled])[order]`` is labelled at evenly spaced places,
    so any ``R`` contiguous equal slices (the replicas' shares of a global batch) each hold
    ``num_labelled / R`` labelled rows, to within one.
    """
    keys = np.concatenate([(np.arange(num_labelled) + 0.5) / max(num_labelled, 1),
                           (np.arange(num_unlabelled) + 0.5) / max(num_unlabelled, 1)])
    return np.argsort(keys, kind="stable").astype(np.int32)


def mixed_pipeline(split, batch_size, labelled_per_batch, seed=0):
    """Batches ``{"x", "y"}`` mixing labelled and unlabelled examples in a fixed ratio, for ``fit``.

    An epoch is one pass over the unlabelled examples in batches of ``batch_size -
    labelled_per_batch`` (the last incomplete batch is dropped, so every batch has the ratio);
    the few labelled examples are reshuffled and repeated as often as needed. Labelled rows
    carry their label, unlabelled ones ``UNLABELLED`` (-1); they are spread evenly through the
    batch (:func:`interleaved_order`), so the ratio holds on every replica too.

    Args:
        split: a :class:`LabelledSplit`.
        batch_size: examples per batch (the global batch under ``tf.distribute``).
        labelled_per_batch: labelled examples per batch, in ``[1, batch_size)``.
        seed: seed of both shuffles (reshuffled every epoch; the same seed, the same run).
    Returns:
        a ``tf.data.Dataset`` of ``{"x": float32 [B, ...], "y": int32 [B]}``.
    """
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    n_l = _checks.check_integer(labelled_per_batch, "labelled_per_batch", 1, batch_size - 1)
    n_u = batch_size - n_l
    if len(split.x_unlabelled) < n_u:
        raise ValueError(f"the split has {len(split.x_unlabelled)} unlabelled examples, fewer than the "
                         f"{n_u} of one batch (batch_size - labelled_per_batch)")
    seed = _checks.check_seed(seed)
    labelled = (tf.data.Dataset.from_tensor_slices((split.x_labelled, split.y_labelled))
                .shuffle(len(split.x_labelled), seed=seed, reshuffle_each_iteration=True)
                .repeat().batch(n_l, drop_remainder=True))
    unlabelled = (tf.data.Dataset.from_tensor_slices(split.x_unlabelled)
                  .shuffle(min(len(split.x_unlabelled), 60_000), seed=seed + 1, reshuffle_each_iteration=True)
                  .batch(n_u, drop_remainder=True))
    order = tf.constant(interleaved_order(n_l, n_u))

    def mix(unlabelled_x, labelled_batch):
        x_l, y_l = labelled_batch
        x = tf.concat([x_l, unlabelled_x], axis=0)
        y = tf.concat([tf.cast(y_l, tf.int32), tf.fill([n_u], tf.constant(UNLABELLED, tf.int32))], axis=0)
        return {"x": tf.gather(x, order), "y": tf.gather(y, order)}

    return tf.data.Dataset.zip((unlabelled, labelled)).map(mix).prefetch(tf.data.AUTOTUNE)
