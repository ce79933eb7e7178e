"""The training-step machinery under the contract: batch structure, fused XLA steps, multi-worker logs.

Written once for every family: :class:`keras_ae.models.base.BaseAutoencoder` uses these to
unpack a batch (``x``, ``(x, y)``, ``(x, y, w)`` or a dict), to run several XLA steps as one
program on a single replica, and to work around two Keras 3 bugs under
``MultiWorkerMirroredStrategy``.
"""

import tensorflow as tf

#: names of the positions of a tuple batch, as Keras's ``fit(x, y, sample_weight)`` packs them.
TUPLE_KEYS = ("x", "y", "sample_weight")


def unpack_batch(data):
    """A batch as a dict: ``x`` -> ``{"x": x}``; ``(x, y, w)`` -> ``{"x", "y", "sample_weight"}``; a dict stays.

    Raises ``ValueError`` for a dict without ``"x"`` or a tuple of more than three parts.
    """
    if isinstance(data, dict):
        if "x" not in data:
            raise ValueError(f"a dict batch needs the key 'x' (the data), got keys {sorted(data)}")
        return dict(data)
    if isinstance(data, (tuple, list)):
        if len(data) > len(TUPLE_KEYS):
            raise ValueError(f"a tuple batch is (x,), (x, y) or (x, y, sample_weight), got {len(data)} parts")
        return {key: value for key, value in zip(TUPLE_KEYS, data) if value is not None}
    return {"x": data}


def unpack_x(data):
    """Only the data ``x`` of a batch (see :func:`unpack_batch`)."""
    return unpack_batch(data)["x"]


def is_default_strategy(strategy):
    """TensorFlow's no-op strategy (no ``tf.distribute`` scope): a replica step is a plain call."""
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def in_multi_worker_mode(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and \
        strategy.extended._in_multi_worker_mode()


def reducible_logs(logs):
    """Step logs that Keras's multi-worker log reduction accepts.

    Workaround for keras-team/keras#20585 and tensorflow/tensorflow#72388 (checked with Keras
    3.15.1): under MultiWorkerMirroredStrategy Keras reduces every log with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar. A ``[1]`` log reduces to the
    mean over replicas of each replica's running mean (exact for equal per-replica batches); the
    epoch logs are read from the metrics themselves, whose sync-on-read totals are exact.
    """
    if not in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def _empty_like(spec):
    """A zero-example tensor of an element spec (the stand-in for a batch that is not there)."""
    shape = [0] + [d if d is not None else 0 for d in spec.shape[1:]]
    return tf.zeros(shape, spec.dtype)


def _batch_size(element):
    return tf.shape(tf.nest.flatten(element)[0])[0]


def make_fused_train_function(model, steps):
    """A train function that pulls up to ``steps`` batches and runs them in one XLA program.

    The whole element structure (``x``, labels, extras) is carried, not only ``x``. Same
    contract as Keras's: run up to ``steps`` steps, return the last step's logs, raise
    ``StopIteration`` when the iterator is already exhausted. When fewer than ``steps`` batches
    are left or their sizes differ (the last, smaller batch of an epoch), they run one XLA step
    at a time instead, as in Keras; that step is compiled only if it is needed.
    """

    @tf.function(reduce_retracing=True)
    def pull(iterator):
        empty = tf.nest.map_structure(_empty_like, iterator.element_spec)
        pulled = [iterator.get_next_as_optional() for _ in range(steps)]
        batches = [tf.cond(p.has_value(), lambda p=p: p.get_value(), lambda: empty) for p in pulled]
        count = tf.add_n([tf.cast(p.has_value(), tf.int32) for p in pulled])
        sizes = tf.stack([_batch_size(b) for b in batches])
        return count, tf.reduce_all(tf.equal(sizes, sizes[0])), batches

    @tf.function(jit_compile=True, reduce_retracing=True)
    def run_stacked(batches):
        stacked = tf.nest.map_structure(lambda *parts: tf.stack(parts), *batches)

        def body(i, logs):
            return i + 1, model.train_step(tf.nest.map_structure(lambda t: t[i], stacked))

        _, logs = tf.while_loop(lambda i, logs: i < steps, body, (tf.constant(0), model.metric_logs()))
        return logs

    @tf.function(jit_compile=True, reduce_retracing=True)
    def run_one(batch):
        return model.train_step(batch)

    def train_function(iterator):
        if isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
            count, same_size, batches = pull(iterator)
            count = int(count)
            if count == 0:
                raise StopIteration
            if count == steps and bool(same_size):
                return run_stacked(batches)
            batches = batches[:count]
        else:  # a Python iterator (``train_on_batch``)
            batches = [data for _, data in zip(range(steps), iterator)]
        for batch in batches:
            logs = run_one(batch)
        return logs

    train_function.fused_steps = steps
    return train_function
