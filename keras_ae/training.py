"""Training support: strategy choice, compile defaults, and run directories written atomically."""

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile

import keras
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
