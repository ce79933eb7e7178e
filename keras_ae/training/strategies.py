"""Where a run trains: the ``tf.distribute`` strategy, the multi-worker chief, the dtype policy."""

import json
import os

import keras
import tensorflow as tf


def current_strategy():
    """The ``tf.distribute`` strategy of the current scope (the default strategy outside any)."""
    return tf.distribute.get_strategy()


STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")


def parse_tf_config(text=None):
    """Read and check ``TF_CONFIG`` (the cluster spec of ``MultiWorkerMirroredStrategy``).

    Args:
        text: the JSON text, default ``os.environ["TF_CONFIG"]``.

    Returns:
        the parsed dict: ``{"cluster": {"worker": [...], ...}, "task": {"type", "index"}}``.

    Raises:
        ValueError: one line naming what is missing or wrong.

    Example:
        >>> parse_tf_config('{"cluster": {"worker": ["127.0.0.1:2001"]}, "task": {"type": "worker", "index": 0}}')["task"]
        {'type': 'worker', 'index': 0}
    """
    if text is None:
        text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError("--strategy multiworker needs TF_CONFIG (a JSON cluster spec) in the environment")
    if not isinstance(text, (str, bytes)):
        raise ValueError(f"TF_CONFIG must be JSON text, got {type(text).__name__}")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {e.msg} at character {e.pos}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object, got {type(config).__name__}")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError('TF_CONFIG needs a "cluster" object such as {"worker": ["host:port", ...]}')
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) and ":" in a for a in addresses):
            raise ValueError(f'TF_CONFIG cluster "{job}" must be a non-empty list of "host:port" strings')
        for address in addresses:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f'TF_CONFIG cluster "{job}" address {address!r} needs a host and a port '
                                 "in 1..65535")
    if "worker" not in cluster and "chief" not in cluster:
        raise ValueError('TF_CONFIG cluster needs a "worker" (or "chief") job')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError('TF_CONFIG needs a "task" object such as {"type": "worker", "index": 0}')
    if task["type"] not in cluster:
        raise ValueError(f'TF_CONFIG task type {task["type"]!r} is not a job of the cluster ({", ".join(cluster)})')
    index = task["index"]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise ValueError(f'TF_CONFIG task index {index!r} is out of range for job {task["type"]!r} '
                         f'of {len(cluster[task["type"]])} tasks')
    return config


def make_strategy(name="auto"):
    """The ``tf.distribute`` strategy called ``name``.

    ``auto``: ``MirroredStrategy`` over the GPUs when more than one is visible, else the default
    (single-device) strategy; ``default``: the default strategy; ``mirrored``: ``MirroredStrategy``
    over every local GPU (the CPU if none); ``multiworker``: ``MultiWorkerMirroredStrategy`` from
    ``TF_CONFIG``; ``tpu``: ``TPUStrategy`` through ``TPUClusterResolver``. Create it before any
    other TensorFlow work: collective ops are configured when the runtime starts.

    Args:
        name: one of :data:`STRATEGIES`, default ``"auto"``.

    Returns:
        a ``tf.distribute.Strategy``; build and compile the model inside its ``scope()``.

    Raises:
        ValueError: unknown name, malformed ``TF_CONFIG``, or no TPU.

    Example:
        >>> strategy = make_strategy("default")
        >>> strategy.num_replicas_in_sync
        1
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        parse_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"--strategy tpu found no TPU: {first}") from None
    return tf.distribute.TPUStrategy(resolver)


def check_global_batch(batch_size, strategy):
    """Raise ``ValueError`` unless the global ``batch_size`` splits evenly over the replicas.

    Example: ``check_global_batch(64, make_strategy("auto"))``.
    """
    from keras_ae import _checks

    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f"global batch size {batch_size} is not divisible by the {replicas} replicas "
                         f"of the strategy; use a multiple of {replicas}")
    return batch_size


def is_chief(strategy=None):
    """Whether this process writes shared files: always, except on non-chief multi-worker tasks.

    Example: ``if is_chief(strategy): atomic_write_json(path, metrics)``.
    """
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


# -- precision ---------------------------------------------------------------------------------
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def set_precision(name="float32"):
    """Set Keras's global dtype policy before models are built.

    Mixed policies compute layers in float16/bfloat16 with float32 weights; the distribution
    heads cast their parameters to float32, so log-probabilities and KL terms stay float32, and
    ``compile`` wraps the optimizer in a ``LossScaleOptimizer`` for ``mixed_float16``.

    Args:
        name: one of :data:`PRECISIONS`, default ``"float32"``.

    Example:
        >>> set_precision("mixed_bfloat16"); set_precision("float32")
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    keras.mixed_precision.set_global_policy(name)
    return name

