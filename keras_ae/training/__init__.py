"""Training support: strategy choice, compile defaults, fault tolerance, and files written atomically.

================= ==========================================================================
module            what it holds
================= ==========================================================================
``atomic``        atomic file IO (bytes, text, JSON, CSV, ``.keras`` models, folders), model
                  loading; serving writes through it too
``strategies``    ``tf.distribute`` strategies from a name and ``TF_CONFIG``, the chief, precision
``compile``       the default optimizer, the compile options measured fastest, the XLA cache
``backup``        atomic ``BackupAndRestore``, ``history.csv`` across restarts, stop on NaN
``locks``         one writer at a time on a run directory or an export folder (``flock``)
``run_directory`` a run directory's lifecycle: config first, history and backups per epoch,
                  pictures and metrics, ``model.keras`` last; the resume bookkeeping
================= ==========================================================================

Every public name is re-exported here: ``from keras_ae import training; training.make_strategy()``.
"""

from keras_ae.training.atomic import (DamagedFileError, atomic_directory, atomic_file, atomic_save_model,
                                      atomic_write_bytes, atomic_write_csv, atomic_write_json, atomic_write_text,
                                      check_keras_archive, is_disk_full, load_model_file, publish_tree)
from keras_ae.training.backup import (AtomicBackupAndRestore, HistoryWriter, StopOnNaN, backup_epoch,
                                      backup_weights_path, check_backup, history_rows, nonfinite_weights,
                                      read_history, remove_backup)
from keras_ae.training.locks import FolderLock, LockedError, folder_lock
from keras_ae.training.run_directory import RunDirectory, RunDirectoryError, load_run
from keras_ae.training.compile import XLA_CACHE_VARIABLE, compile_model, default_optimizer, enable_xla_cache
from keras_ae.training.strategies import (PRECISIONS, STRATEGIES, check_global_batch, current_strategy,
                                          is_chief, make_strategy, parse_tf_config, set_precision)

__all__ = [
    "DamagedFileError", "atomic_directory", "atomic_file", "atomic_save_model", "atomic_write_bytes",
    "atomic_write_csv", "atomic_write_json", "atomic_write_text", "check_keras_archive", "is_disk_full",
    "load_model_file", "publish_tree",
    "AtomicBackupAndRestore", "HistoryWriter", "StopOnNaN", "backup_epoch", "backup_weights_path", "check_backup",
    "history_rows", "nonfinite_weights", "read_history", "remove_backup",
    "FolderLock", "LockedError", "folder_lock",
    "RunDirectory", "RunDirectoryError", "load_run",
    "XLA_CACHE_VARIABLE", "compile_model", "default_optimizer", "enable_xla_cache",
    "PRECISIONS", "STRATEGIES", "check_global_batch", "current_strategy", "is_chief", "make_strategy",
    "parse_tf_config", "set_precision",
]
