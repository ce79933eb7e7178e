"""One writer at a time: an exclusive lock on a run directory or an export base folder.

The lock is ``fcntl.flock`` on a hidden file ``.lock`` inside the folder. The kernel releases it
when the holder exits, however it exits (SIGKILL included), so a lock left by a dead process is
simply taken over: there is no stale-lock guessing from process ids. The file records the
holder's process id and command line, for the message the second writer gets. It is removed on
release; a process that opened the file just before that removal notices (the inode it locked
is no longer the one at the path) and tries again, so two writers never both hold it.

Example::

    with folder_lock("runs/vae", "run directory"):
        ...  # train and write the run directory
"""

import contextlib
import errno
import fcntl
import json
import os
import sys

LOCK_NAME = ".lock"


class LockedError(ValueError):
    """The folder is locked by another live process (the message names it)."""


def _holder(path):
    """The ``{"pid", "command"}`` the lock file at ``path`` records, or ``{}`` if unreadable."""
    try:
        with open(path) as f:
            holder = json.load(f)
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


class FolderLock:
    """An exclusive lock on ``folder`` (created if missing): ``acquire()``/``release()`` or ``with``.

    Args:
        folder: the folder to lock; its lock file is ``folder/.lock``.
        what: what the folder is, for the message (``"run directory"``, ``"export folder"``).

    ``acquire`` raises :class:`LockedError` when another live process holds the lock (the
    message names its pid and command), and ``ValueError`` when ``folder`` is a file or cannot
    be created.
    """

    def __init__(self, folder, what="folder"):
        self.folder = os.path.abspath(folder)
        self.what = what
        self.path = os.path.join(self.folder, LOCK_NAME)
        self._fd = None

    def acquire(self):
        folder, what, path = self.folder, self.what, self.path
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise ValueError(f"{what} {folder} is a file, not a folder")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise ValueError(f"cannot create the {what} {folder}: {e.strerror}") from None
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise ValueError(f"cannot lock the {what} {folder}: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise ValueError(f"cannot lock the {what} {folder}: {e.strerror}") from None
                holder = _holder(path)
                by = f" by process {holder['pid']}" if "pid" in holder else ""
                command = f" ({holder['command']})" if holder.get("command") else ""
                raise LockedError(f"the {what} {folder} is in use{by}{command}; wait for it to finish "
                                  "or choose another folder") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file between our open and our lock: try again
        os.ftruncate(fd, 0)
        command = " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]) if sys.argv else ""
        os.write(fd, json.dumps({"pid": os.getpid(), "command": command}).encode())
        self._fd = fd
        return self

    def release(self):
        if self._fd is None:
            return
        # Remove the file while still holding the lock, so nobody locks a file about to vanish.
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def folder_lock(folder, what="folder"):
    """``FolderLock(folder, what)``, for ``with folder_lock("runs/vae", "run directory"): ...``."""
    return FolderLock(folder, what)
