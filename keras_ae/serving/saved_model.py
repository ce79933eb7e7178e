"""SavedModel export in the TF Serving layout ``BASE/NAME/VERSION/``, and its parity with Keras.

Versions are integers; a new export takes the next free one, and an existing version is never
overwritten. The folder is written under a hidden temporary name and renamed when complete.
"""

import os
import re

import numpy as np
import tensorflow as tf

from keras_ae.serving.errors import ExportError
from keras_ae.serving.parity import runner_parity
from keras_ae.serving.signatures import build_export_archive, check_exportable
from keras_ae.training.atomic import atomic_directory, publish_tree


def _version_numbers(model_dir):
    """The integer version folders under ``model_dir``, ascending (empty if it does not exist)."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir) if re.fullmatch(r"\d+", d))


def next_version(base_dir, name):
    """The next free integer version under ``base_dir/name`` (1 for a new model)."""
    versions = _version_numbers(os.path.join(base_dir, name))
    return versions[-1] + 1 if versions else 1


def check_version(base_dir, name, version):
    """Validate a requested version: a positive integer that is not exported yet. Returns it."""
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or int(version) < 1:
        raise ExportError(f"version must be a positive integer, got {version!r}")
    path = os.path.join(base_dir, name, str(int(version)))
    if os.path.exists(path):
        raise ExportError(f"{path} already exists; an exported version is never overwritten")
    return int(version)


def check_model_name(name):
    """Validate a model name: letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit. Returns it."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ExportError(f"model name must be a string of letters, digits, '.', '_' or '-', got {name!r}")
    return name


def write_saved_model(model, path, check_finite=True):
    """Write ``model`` with every export signature as a SavedModel at ``path`` (no versioning)."""
    build_export_archive(model, check_finite).write_out(path, verbose=False)


def export_saved_model(model, base_dir, name, version=None):
    """Write ``model`` as a SavedModel to ``base_dir/name/version/`` (the TF Serving layout).

    The SavedModel is written to a temporary sibling folder (its name starts with a dot, which
    TF Serving ignores) and renamed when complete, so a running server never sees half a model.
    Folders are mode 0755 and files 0644 whatever the umask, so any user can serve it.

    Args:
        model: a keras_ae model (built, or buildable from its config).
        base_dir: the model base folder (what TF Serving's ``base_path`` points at, minus ``name``).
        name: the model name, e.g. ``"ae-digits"``.
        version: a positive integer; default: the next free version (1 for a new model). An
            existing version raises :class:`ExportError` and is left untouched.
    Returns:
        the path of the version folder.

    Example::

        path = export_saved_model(model, "/tmp/models", "ae")
        served = tf.saved_model.load(path)
        served.signatures["reconstruct"](x=tf.zeros([1, 8, 8, 1]))["reconstruction"]
    """
    name = check_model_name(name)
    check_exportable(model)
    version = next_version(base_dir, name) if version is None else check_version(base_dir, name, version)
    final = os.path.join(base_dir, name, str(version))
    try:
        with atomic_directory(final) as tmp:
            write_saved_model(model, tmp)
            publish_tree(tmp)  # 0755/0644: TF Serving may run as another user
    except FileExistsError as e:
        raise ExportError(str(e)) from None
    return final


def saved_model_runner(path):
    """``run(signature, inputs)`` over ``tf.saved_model.load(path).signatures`` (numpy out)."""
    loaded = tf.saved_model.load(path)

    def run(sig, inputs):
        fn = loaded.signatures[sig]
        out = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in out.items()}

    run.loaded = loaded
    return run


def saved_model_parity(model, path, x):
    """Errors of a SavedModel version folder against the Keras model on the probe batch ``x``.

    Returns the dict of :func:`keras_ae.serving.runner_parity`.
    """
    return runner_parity(model, saved_model_runner(path), x)
