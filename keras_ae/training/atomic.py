"""Atomic file IO: every file of a run directory or an export is written whole or not at all.

Each writer goes through a temporary file in the target's folder and renames it over the target
(``os.replace`` is atomic on POSIX), so a reader, a resumed run or a serving process sees either
the old file or the whole new one, never a half-written file. Serving uses these too.
"""

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib

import keras


#: Hidden temporary names the writers here make (``tempfile`` adds 8 characters):
#: ``.NAME.XXXXXXXX.tmp`` and ``.NAME.XXXXXXXX.SUFFIX`` (``.keras``, ``.weights.h5``, ``.png``).
TEMPORARY_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)+$")


def remove_temporary_files(folder):
    """Remove the temporary files and folders (:data:`TEMPORARY_NAME`) a killed writer left in ``folder``.

    Call it only while holding the folder's lock (:class:`keras_ae.training.FolderLock`): a
    running writer's temporary file looks the same. Returns the removed paths.
    """
    removed = []
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, entry)
        if not TEMPORARY_NAME.match(entry):
            continue
        remove_path(path)
        removed.append(path)
    return removed


def remove_path(path):
    """Remove a file, a link (not its target) or a whole folder."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def _default_file_mode():
    """The mode a plain ``open(path, "w")`` would create: 0666 minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


#: Modes of published files and folders (exports): readable by every user, whatever the umask.
PUBLIC_FILE_MODE, PUBLIC_DIR_MODE = 0o644, 0o755


def _default_dir_mode():
    """The mode a plain ``os.mkdir(path)`` would create: 0777 minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def publish_tree(path, recursive=True):
    """Make ``path`` readable by every user: folders 0755, files 0644 (recursively by default).

    Exports are read by TF Serving, which often runs as another user; ``mkdtemp`` creates 0700
    and a strict umask 0600, so an export sets its modes explicitly.
    """
    if os.path.isdir(path):
        os.chmod(path, PUBLIC_DIR_MODE)
        if recursive:
            for root, dirs, files in os.walk(path):
                for d in dirs:
                    os.chmod(os.path.join(root, d), PUBLIC_DIR_MODE)
                for f in files:
                    os.chmod(os.path.join(root, f), PUBLIC_FILE_MODE)
    elif os.path.exists(path):
        os.chmod(path, PUBLIC_FILE_MODE)


@contextlib.contextmanager
def atomic_file(path, prefix=None, suffix=".tmp", mode=None):
    """Yield a temporary path next to ``path``; when the block succeeds, rename it onto ``path``.

    The temporary file gets ``mode``, by default the usual umask mode (``mkstemp`` creates
    0600). On any exception it is removed and ``path`` is left as it was.

    Args:
        path: the file to (re)place; its folder is created if missing.
        prefix: the temporary name's start, default ``".<basename>."`` (hidden).
        suffix: the temporary name's end, default ``".tmp"``; writers that pick a format from the
            extension (``.keras``, ``.weights.h5``) need theirs.

    Example::

        with atomic_file("run/model.keras", suffix=".keras") as tmp:
            model.save(tmp)
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if prefix is None:
        prefix = f".{os.path.basename(path)}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _default_file_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def atomic_write_bytes(path, data, mode=None):
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    A reader sees either the old file or the whole new one, never a half-written file. ``mode``:
    the file's mode (default: the umask's).
    """
    with atomic_file(path, mode=mode) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_text(path, text, mode=None):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(path, obj, mode=None):
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically (numpy values as lists)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", mode=mode)


def _json_default(value):
    """JSON form of what ``json`` cannot write itself: arrays and numpy scalars, tuples."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def atomic_write_csv(path, rows, fieldnames):
    """Write ``rows`` (dicts) as a CSV file with a header of ``fieldnames``, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def atomic_save_model(model, path):
    """``model.save(path)`` through a temporary ``.keras`` file, then rename."""
    with atomic_file(path, prefix=".model.", suffix=".keras") as tmp:
        model.save(tmp)


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
    os.chmod(tmp, _default_dir_mode())  # mkdtemp makes 0700; the folder keeps it after the rename
    try:
        yield tmp
        os.rename(tmp, final_path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def is_disk_full(error):
    """Whether ``error`` (or an exception it was raised from) says the disk or the quota is full.

    Python raises ``OSError(ENOSPC)`` (``EDQUOT`` past a quota); TensorFlow's writers raise
    ``tf.errors.ResourceExhaustedError`` (or another ``OpError``) whose message holds the C
    library's "No space left on device", and a child process only prints it.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if os.strerror(errno.ENOSPC) in str(error) or os.strerror(errno.EDQUOT) in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


class DamagedFileError(ValueError):
    """A file that is there but damaged (truncated, overwritten, corrupt): the message names it and how.

    Callers that know the context add what to do (train again, resume, restore a copy).
    """


def check_keras_archive(path):
    """Raise :class:`DamagedFileError` unless ``path`` is a whole ``.keras`` archive (a zip with its CRCs right).

    A ``.keras`` file is a zip archive; a truncated one has lost its central directory (at the
    end), and a corrupted one fails a member's CRC-32. Keras reports the first as "File not
    found", which is wrong: the file is there, and it is damaged.
    """
    size = os.path.getsize(path)
    if size == 0:
        raise DamagedFileError(f"the model file {path} is damaged (it is empty)")
    if not zipfile.is_zipfile(path):
        raise DamagedFileError(f"the model file {path} is damaged (not a whole .keras zip archive: truncated "
                               f"or overwritten, {size} bytes)")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
        raise DamagedFileError(f"the model file {path} is damaged ({e})") from None
    if bad is not None:
        raise DamagedFileError(f"the model file {path} is damaged (its member {bad} fails its CRC check)")
    if "config.json" not in names:
        raise DamagedFileError(f"the model file {path} is damaged (a zip archive without the model's config.json)")


def load_model_file(path):
    """``keras.models.load_model(path)``, the keras-ae classes being registered.

    Importing any part of keras_ae runs ``keras_ae/__init__``, which imports (and so registers)
    every model and layer class; a plain ``keras.saving.load_model`` needs ``import keras_ae``.

    Raises:
        DamagedFileError: the file is there but damaged (:func:`check_keras_archive`).
        ValueError: one line naming the file and what is wrong with it (Keras raises many
            exception types for a missing or foreign file).
    """
    if not os.path.isfile(path):
        raise ValueError(f"cannot load the model {path}: there is no such file")
    check_keras_archive(path)
    try:
        return keras.models.load_model(path)
    except Exception as e:  # noqa: BLE001
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"cannot load the model {path}: {reason}") from None
