"""Fault tolerance for ``model.fit``: atomic backups to resume from, a history that survives a
kill, and a stop on a non-finite loss that says where it happened.
"""

import csv
import json
import math
import os
import shutil

import h5py
import keras
import numpy as np

from keras_ae.training.atomic import DamagedFileError, atomic_file, atomic_write_csv, atomic_write_json


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras ``BackupAndRestore`` whose backup files are replaced atomically.

    Upstream writes ``latest.weights.h5`` and ``training_metadata.json`` in place, so a kill
    during the write leaves a torn file, and a kill between the two writes leaves the weights of
    one epoch with the epoch count of the one before. Here the weights of epoch ``k`` go to
    ``epoch-k.weights.h5`` (a temporary file, then a rename), then ``training_metadata.json`` is
    replaced atomically and names that file, then the older weights are removed: the metadata
    is the one switch, and it always names an epoch and the weights of that same epoch.

    Two more differences from upstream: the backup is kept when ``fit`` ends (upstream deletes
    it, so a crash between the end of ``fit`` and the saving of the model lost the whole run;
    call :func:`remove_backup` once the model is saved), and an epoch whose logs hold a NaN or
    an infinity is not backed up, so the backup keeps the last good epoch.

    Args:
        backup_dir: folder of the backup (kept across restarts and after ``fit``).
        write: ``False`` on non-chief multi-worker tasks: they restore from the chief's backup
            (on a shared file system) but never write or delete it.
        learning_rate: the main optimizer's learning rate after a restore, default None: the
            backup's. The backup holds the optimizer's state, its learning rate included, so a
            run resumed with a new rate (say a lower one after a NaN) needs it set again.

    Example:
        >>> cb = AtomicBackupAndRestore("runs/vae/backup")  # model.fit(..., callbacks=[cb])
    """

    def __init__(self, backup_dir, write=True, learning_rate=None):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.write = write
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch, logs=None):
        if not _all_finite(logs) or nonfinite_weights(self.model):
            return  # the weights went bad during this epoch: keep the last good backup
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        # Called by the base class at the end of every epoch (save_freq="epoch").
        if not self.write:
            return
        name = f"epoch-{self._current_epoch}.weights.h5"
        with atomic_file(os.path.join(self.backup_dir, name), prefix=f".{name}.", suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)
        atomic_write_json(self._training_metadata_path, {"epoch": self._current_epoch, "batch": 0, "weights": name})
        for old in os.listdir(self.backup_dir):
            if old.endswith(".weights.h5") and old != name and not old.startswith("."):
                os.remove(os.path.join(self.backup_dir, old))

    def _load_model(self):
        # Called by the base class when fit begins: the weights the metadata names, and its epoch.
        if not self.model.built:
            raise ValueError("AtomicBackupAndRestore needs a built model before fit()")
        weights = backup_weights_path(self.backup_dir)
        if weights is not None:
            # The model builds its optimizers before loading (a keras-ae model each on its own
            # variables: the main one never on a parameter group's); Keras built a plain model's.
            self.model.load_weights(weights)
            if self.learning_rate is not None:
                self.model.optimizer.learning_rate = self.learning_rate
        epoch = backup_epoch(self.backup_dir)
        if epoch:
            self.model._initial_epoch = epoch


def _all_finite(logs):
    """Whether every number in Keras ``logs`` is finite."""
    for value in (logs or {}).values():
        try:
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                return False
        except (TypeError, ValueError):
            continue  # not a number (Keras logs hold only numbers, but be lenient)
    return True


def nonfinite_weights(model):
    """Paths of ``model``'s float weights holding a NaN or an infinity (empty if all are finite).

    The logged loss can stay finite while weights are not: XLA's ``max(NaN, 0)`` is 0, so a
    NaN that enters before a ReLU may never reach the loss. One pass over the weights per epoch.
    """
    bad = []
    for variable in model.weights:
        value = np.asarray(keras.ops.convert_to_numpy(variable))
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            bad.append(getattr(variable, "path", variable.name))
    return bad


def backup_epoch(backup_dir):
    """The number of epochs a ``BackupAndRestore`` folder has saved (0 if none).

    Raises:
        ValueError: ``training_metadata.json`` is unreadable or holds no epoch count.

    Example: ``backup_epoch("runs/vae/backup")``.
    """
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    try:
        with open(path) as f:
            epoch = json.load(f)["epoch"]
    except OSError as e:
        raise ValueError(f"the backup metadata {path} cannot be read: {e.strerror}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise DamagedFileError(f"the backup metadata {path} is damaged ({type(e).__name__}: {e})") from None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"the backup metadata {path} holds epoch {epoch!r}, not a count of epochs")
    return epoch


def backup_weights_path(backup_dir):
    """The weights file of a backup: the one its metadata names (``latest.weights.h5`` for a
    Keras backup), or ``None`` if there is none."""
    path = os.path.join(backup_dir, "training_metadata.json")
    name = "latest.weights.h5"
    if os.path.isfile(path):
        try:
            with open(path) as f:
                name = json.load(f).get("weights", name)
        except (OSError, ValueError, AttributeError):
            pass  # backup_epoch reports the unreadable metadata
    if not isinstance(name, str) or os.path.basename(name) != name:
        raise ValueError(f"the backup metadata {path} names the weights file {name!r}, not a file in {backup_dir}")
    weights = os.path.join(backup_dir, name)
    return weights if os.path.isfile(weights) else None


def check_backup(model, backup_dir):
    """Load the backup in ``backup_dir`` into ``model`` (built and compiled); return its epoch count.

    ``BackupAndRestore`` loads the same files when ``fit`` starts and fails there with a
    traceback; this finds a torn or foreign backup before training, with a one-line reason.

    Raises:
        ValueError: the metadata or the weights cannot be read into ``model``.
    """
    epoch = backup_epoch(backup_dir)
    weights = backup_weights_path(backup_dir)
    if weights is None:
        if epoch:
            raise ValueError(f"the backup {backup_dir} names epoch {epoch} but holds no weights file")
        return 0
    try:
        with h5py.File(weights, "r") as f:
            f.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
    except Exception as e:  # noqa: BLE001 - h5py raises OSError, KeyError, ... for a torn file
        raise DamagedFileError(f"the backup weights {weights} are damaged ({_first_line(e)})") from None
    try:
        model.load_weights(weights)
    except Exception as e:  # noqa: BLE001 - Keras raises many types for weights that do not fit
        raise ValueError(f"the backup weights {weights} do not fit this model: {_first_line(e)}") from None
    return epoch


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def remove_backup(backup_dir):
    """Remove a backup folder: first renamed (so a half-removed backup is never taken for one), then deleted."""
    doomed = os.path.join(os.path.dirname(os.path.abspath(backup_dir)), f".{os.path.basename(backup_dir)}.removing")
    shutil.rmtree(doomed, ignore_errors=True)  # one whose removal was interrupted
    if not os.path.isdir(backup_dir):
        return
    os.rename(backup_dir, doomed)
    shutil.rmtree(doomed)


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
    """Rows of a ``history.csv`` (empty if there is none), numbers as floats and epochs as ints.

    Raises:
        ValueError: the file is unreadable or is not a history (no ``epoch`` column, non-numbers).
    """
    if not os.path.isfile(path):
        return []
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and "epoch" not in rows[0]:
            raise ValueError("it has no epoch column")
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v not in ("", None)}
                for row in rows]
    except OSError as e:
        raise ValueError(f"the history {path} cannot be read: {e.strerror}") from None
    except (ValueError, TypeError, csv.Error) as e:
        raise DamagedFileError(f"the history {path} is damaged: {e}") from None


def history_rows(history):
    """``keras.callbacks.History.history`` -> rows for ``history.csv`` (one per epoch)."""
    keys = sorted(history)
    epochs = len(next(iter(history.values()))) if history else 0
    rows = [{"epoch": i + 1, **{k: float(history[k][i]) for k in keys}} for i in range(epochs)]
    return rows, ["epoch"] + keys


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """Keras ``TerminateOnNaN`` that says where the loss stopped being finite and which terms did.

    After ``fit``, ``failure`` is ``None`` or one line: the epoch and batch, the non-finite loss
    terms (every logged term is checked, not only the total), and the last good epoch, whose
    weights :class:`AtomicBackupAndRestore` keeps.

    Example: ``cb = StopOnNaN(); model.fit(...); if cb.failure: print(cb.failure)``.
    """

    def __init__(self):
        super().__init__()
        self.failure = None
        self.epoch = 0
        self.last_good_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.failure is None:  # every epoch before this one finished (here or before a resume)
            self.last_good_epoch = max(self.last_good_epoch, epoch)

    def on_batch_end(self, batch, logs=None):
        self._check(logs, f"batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, "its end (validation)")  # e.g. a finite training loss but a NaN val_loss
        if self.failure is None:
            bad = nonfinite_weights(self.model)
            if bad:
                self.failure = (f"weights became non-finite in epoch {epoch + 1} though the logged loss stayed "
                                f"finite ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); "
                                + (f"the backup keeps epoch {self.last_good_epoch}" if self.last_good_epoch
                                   else "no epoch finished, so there is no backup"))
                self.model.stop_training = True

    def _check(self, logs, where):
        if self.failure is not None:
            return
        bad = {}
        for name, value in (logs or {}).items():
            try:
                number = float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                continue
            if not math.isfinite(number):
                bad[name] = number
        if not bad:
            return
        first = "loss" if "loss" in bad else sorted(bad)[0]
        terms = sorted(name for name in bad if name != "loss")
        kept = (f"the backup keeps epoch {self.last_good_epoch}" if self.last_good_epoch
                else "no epoch finished, so there is no backup")
        self.failure = (f"{first} became {bad[first]} at epoch {self.epoch + 1}, {where}"
                        f" (non-finite terms: {', '.join(terms) if terms else 'loss'}); {kept}")
        self.model.stop_training = True
