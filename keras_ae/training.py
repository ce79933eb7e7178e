"""Training support: strategy choice, compile defaults, and run directories written atomically."""

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf


# -- atomic files ----------------------------------------------------------------------------
def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    A reader sees either the old file or the whole new one, never a half-written file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_file_mode())  # mkstemp creates 0600; keep the usual umask mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _default_file_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def atomic_write_csv(path, rows, fieldnames):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def atomic_save_model(model, path):
    """``model.save(path)`` through a temporary ``.keras`` file, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".keras", dir=folder)
    os.close(fd)
    try:
        model.save(tmp)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(final_path):
    """Yield a temporary sibling folder; on success rename it to ``final_path`` (which must not exist).

    On failure the temporary folder is removed and nothing at ``final_path`` is touched.
    """
    final_path = os.path.abspath(final_path)
    parent = os.path.dirname(final_path)
    os.makedirs(parent, exist_ok=True)
    if os.path.exists(final_path):
        raise FileExistsError(f"{final_path} already exists; it is never overwritten")
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(final_path)}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        os.rename(tmp, final_path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_model_file(path):
    """``keras.models.load_model(path)`` with every keras-ae class registered.

    Raises:
        ValueError: one line naming the file and what is wrong with it (Keras raises many
            exception types for a missing, truncated or foreign file).
    """
    import keras_ae.models  # noqa: F401  registers the model classes

    try:
        return keras.models.load_model(path)
    except Exception as e:  # noqa: BLE001
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"cannot load the model {path}: {reason}") from None


# -- compile defaults ------------------------------------------------------------------------
def default_optimizer(learning_rate=1e-3):
    """Adam, the optimizer every zoo recipe is measured with."""
    return keras.optimizers.Adam(learning_rate=learning_rate)


def compile_model(model, learning_rate=1e-3, **kwargs):
    """Compile with the zoo defaults (Adam); ``kwargs`` go to ``model.compile``."""
    kwargs.setdefault("optimizer", default_optimizer(learning_rate))
    model.compile(**kwargs)
    return model


def history_rows(history):
    """``keras.callbacks.History.history`` -> rows for ``history.csv`` (one per epoch)."""
    keys = sorted(history)
    epochs = len(next(iter(history.values()))) if history else 0
    rows = [{"epoch": i + 1, **{k: float(history[k][i]) for k in keys}} for i in range(epochs)]
    return rows, ["epoch"] + keys


def current_strategy():
    return tf.distribute.get_strategy()


# -- strategies --------------------------------------------------------------------------------
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


# -- fast defaults -----------------------------------------------------------------------------
def fast_compile_options(strategy=None, per_batch_callbacks=False, model=None):
    """``compile`` arguments measured fastest on this project's 2-core CPU (``python -m zoo bench``).

    Measured with ``python -m zoo bench`` (random data, batch = the recipe's): running 10 steps per
    ``tf.function`` call (``steps_per_execution``) made the small digits models up to 2.4x faster;
    XLA (``jit_compile``) made the MNIST-size MLPs (512 hidden units) 1.3-1.6x faster, but the
    digits-size and convolutional models 1.2-2x slower, so it is used only for MLPs with a layer
    of 512 units or more. Both apply on a single replica only, where they were measured. With
    both on, the base model runs the 10 steps of a call as one XLA program
    (``BaseAutoencoder.make_train_function``), another 1.1-1.2x on the 784-512-16 VAE.
    Callbacks that set a variable before every batch (KL warm-up, temperature annealing) would
    run only every 10 steps, so ``per_batch_callbacks=True`` keeps one step per call.

    Args:
        strategy: the ``tf.distribute`` strategy (default: the current one).
        per_batch_callbacks: whether the run has callbacks that act on every batch.
        model: the model to compile (XLA is chosen from its architecture); None: no XLA.

    Example:
        >>> fast_compile_options(tf.distribute.get_strategy())
        {'jit_compile': False, 'steps_per_execution': 10}
    """
    strategy = strategy or tf.distribute.get_strategy()
    single = strategy.num_replicas_in_sync == 1 and not isinstance(strategy, tf.distribute.TPUStrategy)
    large_mlp = (model is not None and getattr(model, "architecture", None) == "mlp"
                 and max(getattr(model, "hidden_units", ()) or (0,)) >= 512
                 and getattr(model, "supports_xla", True))
    return {"jit_compile": bool(single and large_mlp),
            "steps_per_execution": 10 if single and not per_batch_callbacks else 1}


# -- fault tolerance ---------------------------------------------------------------------------
class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras ``BackupAndRestore`` whose backup files are replaced atomically.

    Upstream writes ``latest.weights.h5`` and ``training_metadata.json`` in place, so a kill
    during the write leaves a torn file; here each goes through a temporary file and a rename,
    weights first, so the metadata never names an epoch whose weights are not on disk.

    Args:
        backup_dir: folder of the backup (kept across restarts, removed when ``fit`` ends).
        write: ``False`` on non-chief multi-worker tasks: they restore from the chief's backup
            (on a shared file system) but never write or delete it.

    Example:
        >>> cb = AtomicBackupAndRestore("runs/vae/backup")  # model.fit(..., callbacks=[cb])
    """

    def __init__(self, backup_dir, write=True):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=write)
        self.write = write

    def _save_model(self):
        if not self.write:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".latest.", suffix=".weights.h5", dir=self.backup_dir)
        os.close(fd)
        try:
            self.model.save_weights(tmp, overwrite=True)
            os.replace(tmp, self._weights_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise
        atomic_write_json(self._training_metadata_path, {"epoch": self._current_epoch, "batch": 0})


def backup_epoch(backup_dir):
    """The number of epochs a ``BackupAndRestore`` folder has saved (0 if none).

    Example: ``backup_epoch("runs/vae/backup")``.
    """
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as f:
        return int(json.load(f)["epoch"])


class HistoryWriter(keras.callbacks.Callback):
    """Rewrite ``history.csv`` atomically at the end of every epoch, continuing earlier rows.

    Place it before the backup callback: the history is then never behind the backup, and rows
    after the restored epoch are dropped (that epoch runs again).

    Args:
        path: the CSV file.
        rows: rows of earlier epochs (``read_history``), kept up to the epoch training resumes at.

    Example: ``model.fit(ds, callbacks=[HistoryWriter("run/history.csv"), backup])``.
    """

    def __init__(self, path, rows=()):
        super().__init__()
        self.path = path
        self.rows = list(rows)

    def on_epoch_end(self, epoch, logs=None):
        self.rows = [row for row in self.rows if int(row["epoch"]) <= epoch]
        self.rows.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        fields = ["epoch"] + sorted({k for row in self.rows for k in row if k != "epoch"})
        atomic_write_csv(self.path, self.rows, fields)


def read_history(path):
    """Rows of a ``history.csv`` (empty if there is none), numbers as floats and epochs as ints."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(f)]


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """Keras ``TerminateOnNaN`` that remembers where the loss stopped being finite.

    Example: ``cb = StopOnNaN(); model.fit(...); if cb.failure: print(cb.failure)``.
    """

    def __init__(self):
        super().__init__()
        self.failure = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss).reshape(-1)[0])):
            self.failure = f"loss became {float(np.asarray(loss).reshape(-1)[0])} at epoch {self.epoch + 1}, batch {batch + 1}"
            self.model.stop_training = True
