"""The run directory's lifecycle: what a training run writes, in which order, and how it resumes.

A run directory holds ``config.json`` (written first: the run's settings), ``history.csv`` and
``backup/`` (after every epoch: the history before the backup, so it is never behind the epoch
restored), ``tensorboard/``, the pictures and ``metrics.json``, and ``model.keras`` last. So
``model.keras`` marks a complete run; until it is there the backup (at the last epoch) is kept,
and a run killed at any point is resumed (it only evaluates again) and never lost. Every file is
written atomically (:mod:`keras_ae.training.atomic`); one writer at a time holds the folder's lock
(:mod:`keras_ae.training.locks`).

The zoo's runner drives it (``python -m zoo train``); any training script can::

    run = RunDirectory("runs/mine")
    run.check("my-recipe", resume=False)
    run.write_config({"recipe": {"name": "my-recipe"}, ...})
    model.fit(x, epochs=10, callbacks=run.callbacks([]))
    run.finish(model, metrics, write_pictures=lambda: [])

Problems a user can fix (a complete run, another recipe's run, a torn backup) are
:class:`RunDirectoryError` s (``ValueError``) with one-line messages.
"""

import contextlib
import os
import shutil
import tempfile
from typing import Callable, List, Optional, Tuple

from keras_ae.training import atomic, backup, locks

CONFIG = "config.json"
MODEL = "model.keras"
HISTORY = "history.csv"
METRICS = "metrics.json"
BACKUP = "backup"
TENSORBOARD = "tensorboard"


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as asked: missing, foreign, complete, interrupted or unreadable."""


#: What to do about a damaged ``config.json``.
CONFIG_ADVICE = ("restore it from a copy: it holds the run's settings, which eval, export and --resume read "
                 "(python -m zoo train writes it first)")


def read_json(path, expect=None, advice=None):
    """The JSON document at ``path``, or :class:`RunDirectoryError` saying why it cannot be read.

    A file that is there but not JSON (truncated, overwritten) is named as damaged, followed by
    ``advice`` (what to do) when given. ``expect=dict`` also refuses a document that is not a
    JSON object.
    """
    import json

    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except OSError as e:
        raise RunDirectoryError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise RunDirectoryError(f"{path} is damaged (not JSON: {e})" + (f"; {advice}" if advice else "")) from None
    if expect is dict and not isinstance(document, dict):
        raise RunDirectoryError(f"{path} must hold a JSON object, got {type(document).__name__}"
                                + (f"; {advice}" if advice else ""))
    return document


def read_run_config(run_dir, need_dataset=True):
    """The ``config.json`` of a run directory, checked to be one (a recipe, a dataset), or :class:`RunDirectoryError`."""
    path = os.path.join(run_dir, CONFIG)
    config = read_json(path, expect=dict, advice=CONFIG_ADVICE)
    recipe = config.get("recipe")
    if not isinstance(recipe, dict) or not isinstance(recipe.get("name"), str) \
            or (need_dataset and not isinstance(config.get("dataset"), str)):
        raise RunDirectoryError(f"{path} is not a zoo run configuration (no recipe or dataset)")
    return config


@contextlib.contextmanager
def locked(run_dir, lock=True):
    """Hold the run directory's lock for the block (:class:`RunDirectoryError` if another process holds it).

    Once it holds the lock, the temporary files a killed writer left in the run directory and
    its backup (a half-saved ``model.keras``, a backup's weights) are removed. A folder this
    call created and nothing was written to is removed again afterwards.
    """
    if not lock:
        yield
        return
    existed = os.path.exists(run_dir)
    held = locks.FolderLock(run_dir, "run directory")
    try:
        held.acquire()
    except ValueError as e:
        raise RunDirectoryError(str(e)) from None
    try:
        for folder in (run_dir, os.path.join(run_dir, BACKUP)):
            atomic.remove_temporary_files(folder)
        yield
    finally:
        held.release()
        if not existed and os.path.isdir(run_dir) and not os.listdir(run_dir):
            os.rmdir(run_dir)


def check_run_dir(run_dir, recipe_name, resume, chief=True):
    """The saved ``config.json`` of an interrupted run to resume (or ``None``), or :class:`RunDirectoryError`.

    A run directory is complete once ``model.keras`` is there (it is written last). Without it,
    a folder holding ``config.json`` is an interrupted run, which only ``resume`` continues.
    A non-chief multi-worker task (``chief=False``) leaves the run directory to the chief, which
    may be writing it already: it only reads the configuration of a run it resumes.
    """
    if not chief:
        resumable = resume and os.path.isfile(os.path.join(run_dir, CONFIG))
        return read_run_config(run_dir, need_dataset=False) if resumable else None
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunDirectoryError(f"--out {run_dir} is a file, not a run directory")
    if os.path.exists(os.path.join(run_dir, MODEL)):
        try:
            atomic.check_keras_archive(os.path.join(run_dir, MODEL))
        except atomic.DamagedFileError as e:
            config = read_run_config(run_dir, need_dataset=False) if os.path.isfile(os.path.join(run_dir, CONFIG)) \
                else None
            raise RunDirectoryError(f"{e}; {damaged_model_advice(run_dir, config)}") from None
        raise RunDirectoryError(f"{run_dir} already holds a trained model (a complete run); choose another --out")
    if not os.path.isfile(os.path.join(run_dir, CONFIG)):
        if resume:
            raise RunDirectoryError(f"--resume: {run_dir} holds no run to resume (no config.json); "
                                    "drop --resume to start a new run there")
        if os.path.isdir(os.path.join(run_dir, BACKUP)):
            raise RunDirectoryError(f"{run_dir} holds a backup but no config.json; it is not a zoo run, "
                                    "choose another --out")
        return None
    previous = read_run_config(run_dir, need_dataset=False)
    other = previous["recipe"]["name"]
    if other != recipe_name:
        raise RunDirectoryError(f"{run_dir} holds a run of recipe {other!r}, not {recipe_name!r}; choose another --out")
    if not resume:
        raise RunDirectoryError(f"{run_dir} holds an interrupted run; pass --resume to continue it or choose another "
                                "--out")
    return previous


def load_run(run_dir):
    """``(config, model)`` of a finished run directory, or :class:`RunDirectoryError` naming what is missing or broken."""
    config_path = os.path.join(run_dir, CONFIG)
    model_path = os.path.join(run_dir, MODEL)
    if not os.path.isdir(run_dir):
        raise RunDirectoryError(f"run directory {run_dir} does not exist")
    if not os.path.isfile(config_path):
        raise RunDirectoryError(f"{run_dir} is not a finished run: config.json is missing")
    config = read_run_config(run_dir)
    if not os.path.isfile(model_path):
        raise RunDirectoryError(
            f"{run_dir} is not a finished run: model.keras is missing"
            + (f" (it was interrupted; continue it with `python -m zoo train {config['recipe']['name']} "
               f"--out {run_dir} --resume`)" if os.path.isdir(os.path.join(run_dir, BACKUP)) else ""))
    try:
        return config, atomic.load_model_file(model_path)
    except atomic.DamagedFileError as e:
        raise RunDirectoryError(f"{e}; {damaged_model_advice(run_dir, config)}") from None
    except ValueError as e:
        raise RunDirectoryError(str(e)) from None


def damaged_model_advice(run_dir, config=None):
    """What to do about a damaged ``model.keras`` of ``run_dir``: finish it again from its backup, else retrain."""
    recipe = (config or {}).get("recipe")
    name = recipe.get("name", "NAME") if isinstance(recipe, dict) else "NAME"
    if os.path.isdir(os.path.join(run_dir, BACKUP)):
        return (f"its backup is still there: delete it and finish the run again with `python -m zoo train {name} "
                f"--out {run_dir} --resume`")
    return f"restore it from a copy, or train the run again (`python -m zoo train {name} --out NEW_DIR`)"


#: What to do about a damaged backup or history: the run cannot continue from it.
BACKUP_ADVICE = ("delete the backup folder to train the run again from its first epoch with --resume, "
                 "or choose another --out")


def versions():
    """``{"tensorflow", "keras", "tensorflow_probability"}`` versions, recorded in ``config.json``."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "tensorflow_probability": tfp.__version__}


def write_failure_message(run_dir, error):
    """The one-line message of a write to the run directory that failed (an ``OSError``, e.g. a full disk)."""
    reason = error.strerror or str(error)
    where = f" ({error.filename})" if error.filename else ""
    return (f"cannot write the run directory {run_dir}: {reason}{where}; nothing is half-written and the "
            "backup keeps the last finished epoch: continue with --resume once the cause is fixed")


class RunDirectory:
    """One run directory through its lifecycle (module docstring): config, per-epoch files, final files.

    Args:
        path: the run directory.
        chief: whether this process writes it. A non-chief multi-worker task trains in step but
            writes nothing shared: its files go to a scratch folder (:attr:`write_dir`), removed
            by :meth:`discard_worker_files`.
    """

    def __init__(self, path: str, chief: bool = True):
        self.path = path
        self.chief = chief
        self.write_dir = path if chief else tempfile.mkdtemp(prefix="zoo-worker-")
        self.backup_dir = os.path.join(path, BACKUP)
        self.history_path = os.path.join(self.write_dir, HISTORY)

    def file(self, name: str) -> str:
        """The path of a file of the finished run (``metrics.json``, a picture, ...)."""
        return os.path.join(self.path, name)

    def resume_state(self, model, train_ds) -> Tuple[list, int]:
        """``(history rows, epochs done)`` of an interrupted run; restores nothing yet (the backup callback does).

        Checks the history and the backup against ``model`` (a torn or foreign one is a
        :class:`RunDirectoryError` here, not inside ``fit``) and opens as many iterators of
        ``train_ds`` as the finished epochs did: each new iterator of a pipeline reshuffles (and
        re-binarizes) from the pipeline's seed state, so a resumed epoch sees the batches of an
        uninterrupted run only if as many iterators were opened before it. Keras 3's
        EpochIterator (checked with 3.15) opens two per epoch when the number of batches is known
        (one to train on, one made at the end of the epoch and discarded at the next one's
        start), else one. tests/test_faults.py checks that a resumed run's weights equal an
        uninterrupted run's.
        """
        try:
            history = backup.read_history(self.history_path)
            resumed_at = backup.check_backup(model, self.backup_dir)
        except atomic.DamagedFileError as e:
            advice = (f"delete {self.history_path} to resume without the earlier epochs' rows"
                      if str(e).startswith("the history") else BACKUP_ADVICE)
            raise RunDirectoryError(f"cannot resume {self.path}: {str(e).splitlines()[0]}; {advice}") from None
        except ValueError as e:
            raise RunDirectoryError(f"cannot resume {self.path}: {str(e).splitlines()[0]}") from None
        per_epoch = 2 if int(train_ds.cardinality()) > 0 else 1
        for _ in range(per_epoch * resumed_at):
            iter(train_ds)
        return history, resumed_at

    def write_config(self, config: dict) -> None:
        """Write ``config.json`` atomically (the first file of a new run), or :class:`RunDirectoryError`."""
        os.makedirs(self.write_dir, exist_ok=True)
        path = os.path.join(self.write_dir, CONFIG)
        try:
            atomic.atomic_write_json(path, config)
        except OSError as e:
            raise RunDirectoryError(f"cannot write {path}: {e.strerror or e}") from None

    def record_resume(self, settings: dict, resumed_at: int, command: Optional[str] = None) -> dict:
        """Record in ``config.json`` the settings a resumed run changes, with the epoch they take effect.

        ``settings`` (``{"epochs": 200, "learning_rate": 1e-4, ...}``) replace the recorded ones,
        so a later ``--resume`` keeps them; each one that differs is appended to ``"changes"``
        as ``{"setting", "was", "now", "from_epoch"}`` (``from_epoch = resumed_at + 1``, the
        first epoch trained with it), and each resume to ``"resumes"`` (after which epoch, the
        command). Returns ``{setting: (was, now)}`` of the changes. Nothing is written on a
        non-chief task.
        """
        import json

        path = os.path.join(self.path, CONFIG)
        config = read_run_config(self.path, need_dataset=False)
        plain = json.loads(json.dumps(settings))  # tuples as lists, as they are read back
        changed = {key: (config.get(key), value) for key, value in plain.items() if config.get(key) != value}
        config.update(plain)
        config.setdefault("changes", []).extend(
            {"setting": key, "was": was, "now": now, "from_epoch": resumed_at + 1} for key, (was, now) in changed.items())
        config.setdefault("resumes", []).append({"after_epoch": resumed_at, "command": command,
                                                 "changed": sorted(changed)})
        if self.chief:
            try:
                atomic.atomic_write_json(path, config)
            except OSError as e:
                raise RunDirectoryError(f"cannot write {path}: {e.strerror or e}") from None
        return changed

    def callbacks(self, history: list, learning_rate: Optional[float] = None) -> list:
        """The run directory's per-epoch callbacks: TensorBoard logs, ``history.csv``, the atomic backup.

        ``history``: the rows already written (:meth:`resume_state`), continued by the writer.
        The history comes before the backup, so it is never behind the epoch restored; the
        backup is kept when ``fit`` ends and removed only by :meth:`finish`. ``learning_rate``:
        the rate a resumed run trains with (the backup's optimizer state holds the old one).
        """
        import keras

        os.makedirs(self.write_dir, exist_ok=True)
        return [keras.callbacks.TensorBoard(log_dir=os.path.join(self.write_dir, TENSORBOARD), write_graph=False),
                backup.HistoryWriter(self.history_path, history),
                backup.AtomicBackupAndRestore(self.backup_dir, write=self.chief, learning_rate=learning_rate)]

    def record_failure(self, failed: dict) -> None:
        """Write ``metrics.json`` of a failed run (``status: failed`` and why), on the chief."""
        if self.chief:
            atomic.atomic_write_json(os.path.join(self.write_dir, METRICS), failed)

    def discard_worker_files(self) -> None:
        """Remove a non-chief task's scratch folder."""
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)

    def finish(self, model, metrics: dict, write_pictures: Optional[Callable[[], List[str]]] = None) -> tuple:
        """The last steps, in order: the pictures, ``metrics.json``, then ``model.keras``; then the backup goes.

        Args:
            model: the trained model.
            metrics: the test metrics (``metrics.json``).
            write_pictures: writes the run's pictures into the run directory and returns their
                paths (``keras_ae.pictures.write_run_pictures``), or None.
        Returns:
            the names of the run directory's files, the pictures last.
        Raises:
            OSError: a write failed (a full disk): nothing is half-written and the backup is kept
                (:func:`write_failure_message` says so).
        """
        written = list(write_pictures()) if write_pictures is not None else []
        atomic.atomic_write_json(os.path.join(self.path, METRICS), metrics)
        atomic.atomic_save_model(model, os.path.join(self.path, MODEL))
        backup.remove_backup(self.backup_dir)
        return (CONFIG, MODEL, HISTORY, METRICS, TENSORBOARD + "/") + tuple(os.path.basename(p) for p in written)
