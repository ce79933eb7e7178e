"""Your own arrays: the ``npz:PATH`` family of dataset names.

``PATH`` is an ``.npz`` file (``np.savez``) with the arrays ``x_train`` and ``x_test``
(required) and ``y_train`` / ``y_test`` (optional, else every label is -1). uint8 is divided by
255; float (or bool) must already lie in [0, 1]. ``[N, H, W]`` gets a channel axis; ``[N, D]``
vectors give examples of shape ``(D,)``.
"""

import os
import zipfile
import zlib

import numpy as np

from keras_ae.data.registry import DatasetSpec, UnknownDatasetError, register

NPZ_PREFIX = "npz:"


def _npz_path(name):
    """Return the file path of ``npz:PATH`` with ``~`` expanded."""
    return os.path.expanduser(name[len(NPZ_PREFIX):])


def check_npz_name(name):
    """Raise unless ``name`` is ``npz:PATH`` with a non-empty PATH to an existing file."""
    path = _npz_path(name)
    if not path:
        raise UnknownDatasetError(
            f"dataset name {name!r} has no path after 'npz:'; write npz:PATH, e.g. npz:data.npz"
        )
    if not os.path.isfile(path):
        raise ValueError(f"npz dataset file not found: {path}")


def _npz_member_shape(path, key):
    """Shape of ``key`` in an .npz file (None if absent), reading only the .npy header."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(
            f"{path} is not an .npz file (a zip of .npy arrays, as np.savez writes)"
        ) from None
    with archive:
        member = key + ".npy"
        if member not in archive.namelist():
            return None
        with archive.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                return tuple(np.lib.format.read_array_header_1_0(f)[0])
            if version == (2, 0):
                return tuple(np.lib.format.read_array_header_2_0(f)[0])
    # Rarer .npy versions: read the whole array rather than parse the header ourselves.
    with np.load(path, allow_pickle=False) as data:
        return data[key].shape


def _npz_example_shape(shape, key, path):
    """Example shape of an x array of shape ``[N, D]``, ``[N, H, W]`` or ``[N, H, W, C]``."""
    if len(shape) == 2:
        return (int(shape[1]),)
    if len(shape) == 3:
        return (int(shape[1]), int(shape[2]), 1)
    if len(shape) == 4:
        return tuple(int(s) for s in shape[1:])
    raise ValueError(
        f"{key} in {path} must have shape [N, D], [N, H, W] or [N, H, W, C], got {tuple(shape)}"
    )


def npz_shape(name):
    """Per-example shape of an npz dataset, after checking both required keys are there."""
    path = _npz_path(name)
    shapes = {}
    for key in ("x_train", "x_test"):
        shape = _npz_member_shape(path, key)
        if shape is None:
            raise ValueError(f"{path} has no array {key!r}; an npz dataset needs x_train and x_test")
        shapes[key] = _npz_example_shape(shape, key, path)
    if shapes["x_train"] != shapes["x_test"]:
        raise ValueError(
            f"x_train and x_test in {path} have different example shapes: "
            f"{shapes['x_train']} vs {shapes['x_test']}"
        )
    return shapes["x_train"]


def _npz_x(arr, key, path):
    """Scale an x array from an .npz file to float32 in [0, 1] with a channel axis."""
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.bool_:
        x = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        x = arr.astype(np.float32)
        if x.size and not np.all(np.isfinite(x)):
            raise ValueError(f"{key} in {path} contains NaN or infinite values")
        if x.size and (x.min() < 0.0 or x.max() > 1.0):
            raise ValueError(
                f"{key} in {path} is float with values in [{x.min():.4g}, {x.max():.4g}]; float data "
                f"must lie in [0, 1] (store uint8 0-255, or scale it first)"
            )
    else:
        raise ValueError(
            f"{key} in {path} has dtype {arr.dtype}; use uint8 (0-255) or float in [0, 1]"
        )
    example_shape = _npz_example_shape(x.shape, key, path)
    return x.reshape((x.shape[0],) + example_shape)


def _npz_y(data, key, n, path):
    """Labels ``key`` of an .npz file as int64 ``[n]``, or ``-1`` everywhere if it has none."""
    if key not in data.files:
        return np.full((n,), -1, dtype=np.int64)
    y = np.asarray(data[key])
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{key} in {path} must have shape [{n}] to match its x array, got {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.equal(np.mod(y, 1), 0)):
            pass  # integer labels saved as float are fine
        else:
            raise ValueError(f"{key} in {path} must hold integer labels, got dtype {y.dtype}")
    return y.astype(np.int64)


def load_npz_arrays(name, split):
    """Return ``(x, y)`` of one split of ``npz:PATH``: float32 in [0, 1] and int64 labels."""
    npz_shape(name)  # checks both keys and consistent shapes before reading data
    path = _npz_path(name)
    try:
        with np.load(path, allow_pickle=False) as data:
            x = np.asarray(data["x_" + split])
            y = _npz_y(data, "y_" + split, x.shape[0], path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        # A damaged archive (bad CRC, truncated member) is found only when the array is read.
        raise ValueError(f"{path} is damaged: reading x_{split} failed ({e})") from None
    return _npz_x(x, "x_" + split, path), y


NPZ = register(DatasetSpec(
    name=NPZ_PREFIX,
    source="npz",
    splits=("train", "test"),
    shape=npz_shape,
    has_labels=None,  # y_train / y_test are optional
    load_arrays=load_npz_arrays,
    check_name=check_npz_name,
    usage="npz:PATH for your own .npz file",
))
