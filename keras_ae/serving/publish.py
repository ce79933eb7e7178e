"""A whole export version, published by one rename: a reader sees all of it or none of it.

A version of a model is assembled in one hidden temporary folder next to where it belongs and
renamed into place when every file of it is written::

    BASE/NAME/VERSION/                 the SavedModel TF Serving loads (saved_model.pb, variables/)
    BASE/NAME/VERSION/tflite/          NAME.Q.tflite and its NAME.Q.json sidecar, per quantization
    BASE/NAME/VERSION/requests/        SIGNATURE.json: REST :predict bodies, checked against it
    BASE/tflite/NAME/VERSION  ->  ../../NAME/VERSION/tflite      (a relative link, for phones)

TF Serving loads ``saved_model.pb`` and ``variables/`` of ``BASE/NAME/VERSION`` and ignores other
files there, so the version folder keeps the layout it expects. The ``tflite/`` tree is a link
made *before* the rename: until the rename it points at nothing (``os.path.exists`` is False), so
the TFLite files appear with the SavedModel, in the same instant. An export killed before the
rename leaves a hidden ``.VERSION.XXXXXXXX.tmp`` folder and maybe a dangling link; the next
export into ``BASE`` removes them (:func:`remove_leftovers`, under the folder's lock).

Example::

    with staged_version("/models", "ae", 3) as version:
        write_saved_model(model, version.stage)
        export_tflite(model, version.tflite_file("none"), "none")
        version.publish()                      # /models/ae/3 and /models/tflite/ae/3 appear
"""

import contextlib
import os
import shutil
import tempfile

from keras_ae.training.atomic import PUBLIC_DIR_MODE, TEMPORARY_NAME, publish_tree, remove_path

def tflite_link(base_dir, name, version):
    """``BASE/tflite/NAME/VERSION``: where phones find the TFLite files of a version."""
    return os.path.join(base_dir, "tflite", name, str(version))


def remove_leftovers(base_dir):
    """Remove what exports killed before their rename left in ``base_dir``; the removed paths.

    That is hidden temporary files and folders (:data:`keras_ae.training.atomic.TEMPORARY_NAME`)
    in ``BASE``, in each model folder ``BASE/NAME`` and in ``BASE/tflite/NAME``, and links in
    ``BASE/tflite/NAME`` that point at no published version. Call it only while holding ``BASE``'s lock
    (:class:`keras_ae.training.FolderLock`): a running export's temporary folder looks the same.
    """
    removed = []
    folders = [base_dir]
    for root in (base_dir, os.path.join(base_dir, "tflite")):
        if os.path.isdir(root):
            folders += [os.path.join(root, d) for d in sorted(os.listdir(root))
                        if not d.startswith(".") and os.path.isdir(os.path.join(root, d))]
    tflite_root = os.path.join(base_dir, "tflite")
    for folder in folders:
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            dangling = os.path.dirname(folder) == tflite_root and os.path.islink(path) and not os.path.exists(path)
            if not (TEMPORARY_NAME.match(entry) or dangling):
                continue
            remove_path(path)
            removed.append(path)
    return removed


class StagedVersion:
    """One version being assembled: write into :attr:`stage`, then :meth:`publish` it (see the module).

    Attributes:
        path: the published version folder ``BASE/NAME/VERSION``.
        stage: the hidden temporary folder it is assembled in (renamed to ``path`` by ``publish``).
        tflite_dir, requests_dir: the staged ``tflite/`` and ``requests/`` folders.
    """

    def __init__(self, base_dir, name, version):
        self.base_dir, self.name, self.version = os.path.abspath(base_dir), name, int(version)
        self.path = os.path.join(self.base_dir, name, str(self.version))
        self.link = tflite_link(self.base_dir, name, self.version)
        for taken in (self.path, self.link):
            if os.path.lexists(taken):
                raise FileExistsError(f"{taken} already exists; an exported version is never overwritten")
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.stage = tempfile.mkdtemp(prefix=f".{self.version}.", suffix=".tmp", dir=os.path.dirname(self.path))
        self.tflite_dir = os.path.join(self.stage, "tflite")
        self.requests_dir = os.path.join(self.stage, "requests")
        self.published = False
        self._linked = False

    def tflite_file(self, quantization):
        """The staged path of the ``quantization`` TFLite file (``NAME.Q.tflite``)."""
        os.makedirs(self.tflite_dir, exist_ok=True)
        return os.path.join(self.tflite_dir, f"{self.name}.{quantization}.tflite")

    def tflite_files(self):
        """``{quantization: staged path}`` of the TFLite files written so far."""
        if not os.path.isdir(self.tflite_dir):
            return {}
        suffix = ".tflite"
        return {f[len(self.name) + 1:-len(suffix)]: os.path.join(self.tflite_dir, f)
                for f in sorted(os.listdir(self.tflite_dir)) if f.startswith(self.name + ".") and f.endswith(suffix)}

    def published_path(self, staged_path):
        """Where a staged file is read once published: TFLite files through the ``tflite/`` link."""
        relative = os.path.relpath(staged_path, self.stage)
        if relative.split(os.sep)[0] == "tflite":
            return os.path.join(self.link, os.path.relpath(staged_path, self.tflite_dir))
        return os.path.join(self.path, relative)

    def publish(self):
        """Make the version visible: modes 0755/0644, the ``tflite/`` link, then the one rename."""
        if os.path.isdir(self.tflite_dir) and not os.listdir(self.tflite_dir):
            os.rmdir(self.tflite_dir)  # nothing converted: no empty folder, no link
        publish_tree(self.stage)
        if os.path.isdir(self.tflite_dir):
            parent = os.path.dirname(self.link)
            os.makedirs(parent, exist_ok=True)
            for folder in (os.path.dirname(parent), parent):
                os.chmod(folder, PUBLIC_DIR_MODE)
            os.symlink(os.path.relpath(os.path.join(self.path, "tflite"), parent), self.link)
            self._linked = True
        if os.path.lexists(self.path):  # os.rename would replace an empty folder
            raise FileExistsError(f"{self.path} already exists; an exported version is never overwritten")
        os.rename(self.stage, self.path)
        self.published = True
        os.chmod(os.path.dirname(self.path), PUBLIC_DIR_MODE)

    def discard(self):
        """Remove the staged folder and the link of a version that is not published."""
        if self.published:
            return
        if self._linked:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.link)
        shutil.rmtree(self.stage, ignore_errors=True)
        for folder in (os.path.dirname(self.link), os.path.dirname(os.path.dirname(self.link)),
                       os.path.dirname(self.path)):
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only if empty: a folder this version made


@contextlib.contextmanager
def staged_version(base_dir, name, version):
    """Yield a :class:`StagedVersion`; one that the block did not :meth:`~StagedVersion.publish` is discarded.

    ``FileExistsError`` if the version (or its ``tflite/`` link) exists: a version is never overwritten.
    """
    version = StagedVersion(base_dir, name, version)
    try:
        yield version
    finally:
        version.discard()
