"""Fault tolerance for ``model.fit``: atomic backups to resume from, a history that survives a
kill, and a stop on a non-finite loss that says where it happened.
"""

import csv
import json
import math
import os

import keras
import numpy as np

from keras_ae.training.atomic import atomic_file, atomic_write_csv, atomic_write_json


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
        # Called by the base class at the end of every epoch (save_freq="epoch").
        if not self.write:
            return
        with atomic_file(self._weights_path, prefix=".latest.", suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)
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


def history_rows(history):
    """``keras.callbacks.History.history`` -> rows for ``history.csv`` (one per epoch)."""
    keys = sorted(history)
    epochs = len(next(iter(history.values()))) if history else 0
    rows = [{"epoch": i + 1, **{k: float(history[k][i]) for k in keys}} for i in range(epochs)]
    return rows, ["epoch"] + keys


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

