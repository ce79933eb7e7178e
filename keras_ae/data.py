"""Named datasets -> ``tf.data`` pipelines of float32 images in [0, 1].

Every dataset is addressed by a name (see :data:`DATASET_NAMES`) or ``npz:PATH`` for your own
arrays. :func:`load_dataset` gives unbatched ``(x, y)`` elements, ``x`` float32 ``[H, W, C]`` in
[0, 1] and ``y`` an int64 label (``-1`` where the dataset has none); :func:`load_arrays` gives the
same as numpy arrays; :func:`training_pipeline` and :func:`evaluation_pipeline` turn either into
batches of ``x`` only, ready for ``model.fit``.

Datasets, their example shapes and splits (sizes of the real data):

============== ============= ===================================================================
name           shape         splits
============== ============= ===================================================================
digits         (8, 8, 1)     train 1437, test 360: scikit-learn's bundled digits (offline), a
                             fixed stratified split (``test_size=0.2, random_state=0``); the
                             pixel values 0..16 are divided by 16.
mnist          (28, 28, 1)   train 60000, test 10000
fashion_mnist  (28, 28, 1)   train 60000, test 10000
binarized_mnist (28, 28, 1)  train 50000, validation 10000, test 10000 (Larochelle & Murray's
                             fixed binarization; pixels are exactly 0 or 1), label -1.
cifar10        (32, 32, 3)   train 50000, test 10000
omniglot       (28, 28, 1)   train 19280, test 13180, small1 2720, small2 3120: TFDS stores the
                             105x105 scans as RGB; we take one channel, invert it so that ink is
                             1 on a 0 background (the MNIST convention, as in Burda et al.'s
                             IWAE benchmark) and resize to 28x28 (``image_size=105`` keeps the
                             native size). The label is the character class (0..1622).
dsprites       (64, 64, 1)   TFDS has only ``train`` (737280 images, ordered by the latent
                             factors). We hold out every 7th image in TFDS order
                             (``index % 7 == 0``): test 105326, train 631954. 7 is coprime with
                             every latent factor's size, so the held-out images cover every
                             shape, scale, orientation and position evenly. Pixels are 0 or 1;
                             the label is the shape (0 square, 1 ellipse, 2 heart).
celeb_a        (64, 64, 3)   train 162770, validation 19867, test 19962: the aligned 218x178
                             faces, centre-cropped to 178x178 and resized to ``image_size``
                             (default 64); label -1.
npz:PATH       from the file ``train`` / ``test`` from the arrays ``x_train`` / ``x_test`` (required)
                             and ``y_train`` / ``y_test`` (optional, else -1). uint8 is divided
                             by 255; float (or bool) must already lie in [0, 1]. ``[N, H, W]``
                             gets a channel axis; ``[N, D]`` vectors give examples of shape
                             ``(D,)``.
============== ============= ===================================================================

``image_size=S`` (any image dataset) centre-crops a non-square image to a square and resizes it
to ``S x S`` with antialiased bilinear interpolation.

TFDS datasets are read with ``tfds.load`` (downloaded on first use into ``data_dir``, default
``~/tensorflow_datasets``); tests use ``tfds.testing.mock_data``.
"""

import functools
import os
import zipfile

import numpy as np
import tensorflow as tf

__all__ = [
    "DATASET_NAMES",
    "UnknownDatasetError",
    "dataset_names",
    "dataset_splits",
    "check_dataset_name",
    "check_split",
    "dataset_shape",
    "load_dataset",
    "load_arrays",
    "binarize_static",
    "training_pipeline",
    "evaluation_pipeline",
    "BINARIZE_MODES",
]

DATASET_NAMES = (
    "digits",
    "mnist",
    "fashion_mnist",
    "binarized_mnist",
    "cifar10",
    "omniglot",
    "dsprites",
    "celeb_a",
)

NPZ_PREFIX = "npz:"

#: Accepted values of ``binarize`` in :func:`training_pipeline` (``None`` is also accepted).
BINARIZE_MODES = ("static", "dynamic", "threshold")

_SPLITS = {
    "digits": ("train", "test"),
    "mnist": ("train", "test"),
    "fashion_mnist": ("train", "test"),
    "binarized_mnist": ("train", "validation", "test"),
    "cifar10": ("train", "test"),
    "omniglot": ("train", "test", "small1", "small2"),
    "dsprites": ("train", "test"),
    "celeb_a": ("train", "validation", "test"),
}
_NPZ_SPLITS = ("train", "test")

# Shape of one example as this module delivers it when image_size is None.
_DEFAULT_SHAPES = {
    "digits": (8, 8, 1),
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
    "binarized_mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
    "omniglot": (28, 28, 1),
    "dsprites": (64, 64, 1),
    "celeb_a": (64, 64, 3),
}

_DIGITS_TEST_SIZE = 0.2
_DIGITS_SPLIT_SEED = 0
# dsprites has no held-out split in TFDS; see the module docstring for why 7.
_DSPRITES_TEST_PERIOD = 7


class DatasetUnavailableError(ValueError):
    """A known TFDS dataset that is neither prepared locally nor downloadable (no network)."""


class UnknownDatasetError(ValueError):
    """A dataset name that is neither a known name nor ``npz:PATH``."""


def dataset_names():
    """Return the known dataset names (``npz:PATH`` is accepted too).

    Example:
        >>> "digits" in dataset_names()
        True
    """
    return DATASET_NAMES


def _known_names_text():
    return ", ".join(DATASET_NAMES) + ", or npz:PATH for your own .npz file"


def _npz_path(name):
    return os.path.expanduser(name[len(NPZ_PREFIX):])


def check_dataset_name(name):
    """Return ``name`` if it names a dataset, else raise :class:`UnknownDatasetError`.

    Args:
        name: one of :data:`DATASET_NAMES` or ``"npz:PATH"``.

    Returns:
        the name, unchanged.

    Raises:
        UnknownDatasetError: the name is unknown (the message lists the known names).
        ValueError: ``npz:PATH`` whose file does not exist.

    Example:
        >>> check_dataset_name("mnist")
        'mnist'
    """
    if isinstance(name, str) and name.startswith(NPZ_PREFIX):
        path = _npz_path(name)
        if not path:
            raise UnknownDatasetError(
                f"dataset name {name!r} has no path after 'npz:'; write npz:PATH, e.g. npz:data.npz"
            )
        if not os.path.isfile(path):
            raise ValueError(f"npz dataset file not found: {path}")
        return name
    if not isinstance(name, str) or name not in DATASET_NAMES:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {_known_names_text()}")
    return name


def dataset_splits(name):
    """Return the split names available for dataset ``name``.

    Example:
        >>> dataset_splits("binarized_mnist")
        ('train', 'validation', 'test')
    """
    name = check_dataset_name(name)
    if name.startswith(NPZ_PREFIX):
        return _NPZ_SPLITS
    return _SPLITS[name]


def check_split(name, split):
    """Return ``split`` if dataset ``name`` has it, else raise ``ValueError`` listing the splits.

    Example:
        >>> check_split("mnist", "test")
        'test'
    """
    allowed = dataset_splits(name)
    if split not in allowed:
        raise ValueError(
            f"split {split!r} is not available for dataset {name!r}; choose one of: {', '.join(allowed)}"
        )
    return split


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer or None, got {image_size!r}")
    return int(image_size)


# ----------------------------------------------------------------------------------------------
# npz files


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
    if len(shape) == 2:
        return (int(shape[1]),)
    if len(shape) == 3:
        return (int(shape[1]), int(shape[2]), 1)
    if len(shape) == 4:
        return tuple(int(s) for s in shape[1:])
    raise ValueError(
        f"{key} in {path} must have shape [N, D], [N, H, W] or [N, H, W, C], got {tuple(shape)}"
    )


def _npz_shapes(name):
    """Per-example shape of an npz dataset, after checking both required keys are there."""
    path = _npz_path(check_dataset_name(name))
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


def _load_npz_arrays(name, split):
    _npz_shapes(name)  # checks both keys and consistent shapes before reading data
    path = _npz_path(name)
    with np.load(path, allow_pickle=False) as data:
        x = _npz_x(np.asarray(data["x_" + split]), "x_" + split, path)
        y = _npz_y(data, "y_" + split, x.shape[0], path)
    return x, y


# ----------------------------------------------------------------------------------------------
# digits


@functools.lru_cache(maxsize=1)
def _digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]  # [N, 8, 8] -> [N, 8, 8, 1]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=_DIGITS_TEST_SIZE, random_state=_DIGITS_SPLIT_SEED, stratify=y
    )
    return {"train": (x_train, y_train), "test": (x_test, y_test)}


def _load_digits_arrays(split):
    x, y = _digits_split()[split]
    return x.copy(), y.copy()


# ----------------------------------------------------------------------------------------------
# image helpers


def _resize_square(image, size):
    """Centre-crop ``[..., H, W, C]`` to a square and resize it to ``size x size``."""
    shape = tf.shape(image)
    height, width = shape[-3], shape[-2]
    side = tf.minimum(height, width)
    top = (height - side) // 2
    left = (width - side) // 2
    image = image[..., top:top + side, left:left + side, :]
    image = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    # The triangle filter has non-negative weights, but rounding can still step past [0, 1].
    return tf.clip_by_value(image, 0.0, 1.0)


def _resize_static(image, image_size, native_hw):
    if image_size is None or tuple(native_hw) == (image_size, image_size):
        return image
    return _resize_square(image, image_size)


def _image_shape(name, image_size):
    shape = _DEFAULT_SHAPES[name]
    if image_size is None:
        return shape
    return (image_size, image_size, shape[-1])


def dataset_shape(name, image_size=None):
    """Return the shape of one example of dataset ``name`` without loading the data.

    Args:
        name: a name from :data:`DATASET_NAMES` or ``"npz:PATH"`` (only the array header is read).
        image_size: resize images to ``image_size x image_size`` (default: the shapes in the
            module docstring).

    Returns:
        ``(H, W, C)`` for images, ``(D,)`` for npz vectors.

    Example:
        >>> dataset_shape("mnist")
        (28, 28, 1)
        >>> dataset_shape("celeb_a", image_size=32)
        (32, 32, 3)
    """
    name = check_dataset_name(name)
    image_size = _check_image_size(image_size)
    if name.startswith(NPZ_PREFIX):
        shape = _npz_shapes(name)
        if image_size is None:
            return shape
        if len(shape) != 3:
            raise ValueError(f"image_size needs image data, but {name} holds vectors of shape {shape}")
        return (image_size, image_size, shape[-1])
    return _image_shape(name, image_size)


# ----------------------------------------------------------------------------------------------
# TFDS


def _tfds_load(tfds_name, split, data_dir, skip_image_decoding=False):
    import tensorflow_datasets as tfds

    decoders = {"image": tfds.decode.SkipDecoding()} if skip_image_decoding else None
    # shuffle_files=False: the order is part of the dsprites held-out split and of reproducibility.
    try:
        return tfds.load(tfds_name, split=split, data_dir=data_dir, shuffle_files=False, decoders=decoders,
                         with_info=True)
    except Exception as e:  # noqa: BLE001 - download and preparation fail with many exception types
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DatasetUnavailableError(
            f"dataset {tfds_name!r} is not prepared in {data_dir or 'the TFDS data directory'} and could not be "
            f"downloaded ({type(e).__name__}: {reason[:200]}); prepare it where there is a network, or use "
            "'digits' or 'npz:PATH'"
        ) from e


def _unit_image(image):
    return tf.cast(image, tf.float32) / 255.0


def _binary_image(image):
    # Stored as 0/1 uint8; "> 0" also keeps any other encoding (or mock data) binary.
    return tf.cast(image > 0, tf.float32)


def _no_label(example):
    return tf.constant(-1, tf.int64)


def _tfds_dataset(name, split, data_dir, image_size):
    """Unbatched (x, y) from TFDS for one of the TFDS-backed names."""
    tfds_split = split
    if name == "dsprites":
        tfds_split = "train"
    # dsprites splits by filtering all 737280 images: decode the PNGs only of those kept.
    ds, info = _tfds_load(name, tfds_split, data_dir, skip_image_decoding=name == "dsprites")

    if name == "dsprites":
        total = int(ds.cardinality())
        period = tf.constant(_DSPRITES_TEST_PERIOD, tf.int64)
        if split == "test":
            ds = ds.enumerate().filter(lambda i, ex: tf.equal(i % period, 0))
        else:
            ds = ds.enumerate().filter(lambda i, ex: tf.not_equal(i % period, 0))
        image_feature = info.features["image"]
        ds = ds.map(lambda i, ex: {**ex, "image": image_feature.decode_example(ex["image"])})
        if total >= 0:
            # filter() forgets the size; restore it for fit's progress bar and the shuffle buffer.
            n_test = -(-total // _DSPRITES_TEST_PERIOD)
            ds = ds.apply(tf.data.experimental.assert_cardinality(n_test if split == "test" else total - n_test))

    if name in ("mnist", "fashion_mnist", "cifar10"):
        native = _DEFAULT_SHAPES[name][:2]

        def convert(ex):
            x = _resize_static(_unit_image(ex["image"]), image_size, native)
            return x, tf.cast(ex["label"], tf.int64)

    elif name == "binarized_mnist":

        def convert(ex):
            x = _resize_static(_binary_image(ex["image"]), image_size, (28, 28))
            return x, _no_label(ex)

    elif name == "dsprites":

        def convert(ex):
            x = _resize_static(_binary_image(ex["image"]), image_size, (64, 64))
            return x, tf.cast(ex["label_shape"], tf.int64)

    elif name == "omniglot":
        size = image_size or _DEFAULT_SHAPES["omniglot"][0]

        def convert(ex):
            # The scans are grey stored as RGB with black ink on white: keep one channel, invert.
            x = 1.0 - _unit_image(ex["image"][..., :1])
            return _resize_static(x, size, (105, 105)), tf.cast(ex["label"], tf.int64)

    elif name == "celeb_a":
        size = image_size or _DEFAULT_SHAPES["celeb_a"][0]

        def convert(ex):
            return _resize_square(_unit_image(ex["image"]), size), _no_label(ex)

    else:  # pragma: no cover - guarded by check_dataset_name
        raise AssertionError(name)

    ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    shape = _image_shape(name, image_size)
    # Resizing loses the static shape; restore it so Keras can build models from element_spec.
    return ds.map(lambda x, y: (tf.ensure_shape(x, shape), y))


def load_dataset(name, split="train", data_dir=None, image_size=None):
    """Load a named dataset as unbatched ``(x, y)`` elements.

    Args:
        name: a name from :data:`DATASET_NAMES` or ``"npz:PATH"``.
        split: ``"train"``, ``"test"``, or another split the dataset has (see
            :func:`dataset_splits`).
        data_dir: TFDS data directory (default: TFDS's own, ``~/tensorflow_datasets``).
        image_size: resize images to ``image_size x image_size`` (centre crop if not square).

    Returns:
        a ``tf.data.Dataset`` of ``(x, y)``: ``x`` float32 of :func:`dataset_shape` in [0, 1],
        ``y`` an int64 label, ``-1`` where the dataset has none.

    Example:
        >>> ds = load_dataset("digits", "test")
        >>> x, y = next(iter(ds))
        >>> tuple(x.shape), x.dtype.name, y.dtype.name
        ((8, 8, 1), 'float32', 'int64')
    """
    name = check_dataset_name(name)
    check_split(name, split)
    image_size = _check_image_size(image_size)
    if name == "digits" or name.startswith(NPZ_PREFIX):
        x, y = _load_local_arrays(name, split, image_size)
        return tf.data.Dataset.from_tensor_slices((x, y))
    return _tfds_dataset(name, split, data_dir, image_size)


def _load_local_arrays(name, split, image_size, max_examples=None):
    if name == "digits":
        x, y = _load_digits_arrays(split)
    else:
        x, y = _load_npz_arrays(name, split)
    if max_examples is not None:
        x, y = x[:max_examples], y[:max_examples]
    if image_size is not None:
        if x.ndim != 4:
            raise ValueError(f"image_size needs image data, but {name} holds vectors of shape {x.shape[1:]}")
        if x.shape[1:3] != (image_size, image_size):
            x = _resize_square(tf.constant(x), image_size).numpy()
    return x.astype(np.float32, copy=False), y


def _check_binarize(binarize, allowed):
    if binarize is not None and binarize not in allowed:
        choices = ", ".join(repr(b) for b in (None,) + tuple(allowed))
        raise ValueError(f"binarize must be one of {choices}, got {binarize!r}")


def load_arrays(name, split="train", max_examples=None, binarize=None, seed=0, data_dir=None,
                image_size=None):
    """Load a named dataset into numpy arrays.

    Args:
        name: a name from :data:`DATASET_NAMES` or ``"npz:PATH"``.
        split: a split the dataset has (see :func:`dataset_splits`).
        max_examples: keep only the first ``max_examples`` examples (default: all).
        binarize: ``None``, ``"static"`` (one fixed Bernoulli sample per pixel, see
            :func:`binarize_static`) or ``"threshold"`` (``x > 0.5``). Dynamic binarization
            needs a new sample every epoch: use :func:`training_pipeline` for it.
        seed: seed of the static binarization.
        data_dir: TFDS data directory.
        image_size: resize images to ``image_size x image_size``.

    Returns:
        ``(x, y)``: ``x`` float32 ``[N, *dataset_shape(name)]`` in [0, 1], ``y`` int64 ``[N]``.

    Example:
        >>> x, y = load_arrays("digits", "train", max_examples=100)
        >>> x.shape, y.shape
        ((100, 8, 8, 1), (100,))
    """
    name = check_dataset_name(name)
    check_split(name, split)
    if binarize == "dynamic":
        raise ValueError(
            "binarize='dynamic' draws a new sample every epoch, which fixed arrays cannot hold; "
            "use training_pipeline(..., binarize='dynamic')"
        )
    _check_binarize(binarize, ("static", "threshold"))
    if max_examples is not None and (
        isinstance(max_examples, bool) or not isinstance(max_examples, (int, np.integer)) or max_examples < 1
    ):
        raise ValueError(f"max_examples must be a positive integer or None, got {max_examples!r}")
    image_size = _check_image_size(image_size)

    if name == "digits" or name.startswith(NPZ_PREFIX):
        x, y = _load_local_arrays(name, split, image_size, max_examples)
    else:
        ds = _tfds_dataset(name, split, data_dir, image_size)
        if max_examples is not None:
            ds = ds.take(max_examples)
        xs, ys = [], []
        for xb, yb in ds.batch(1024).as_numpy_iterator():
            xs.append(xb)
            ys.append(yb)
        shape = _image_shape(name, image_size)
        x = np.concatenate(xs) if xs else np.zeros((0,) + shape, np.float32)
        y = np.concatenate(ys) if ys else np.zeros((0,), np.int64)

    if binarize == "static":
        x = binarize_static(x, seed=seed)
    elif binarize == "threshold":
        x = (x > 0.5).astype(np.float32)
    return x.astype(np.float32, copy=False), y.astype(np.int64, copy=False)


# ----------------------------------------------------------------------------------------------
# binarization


def _check_unit_interval(x, what):
    return [
        tf.debugging.assert_greater_equal(x, 0.0, message=f"{what} has values below 0"),
        tf.debugging.assert_less_equal(x, 1.0, message=f"{what} has values above 1"),
    ]


def _bernoulli(x, seed):
    """One Bernoulli(x) sample per pixel; ``seed`` is a stateless seed of shape [2]."""
    with tf.control_dependencies(_check_unit_interval(x, "x to binarize")):
        u = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=tf.float32)
    return tf.cast(u < x, tf.float32)


def _static_sample(index, x, seed):
    # Keyed by the example's position, so the sample is fixed whatever order it is read in.
    return _bernoulli(x, tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)]))


def _validate_unit_array(x, name="x"):
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_):
        raise ValueError(
            f"{name} must be float in [0, 1], got dtype {x.dtype}"
            + ("; divide uint8 images by 255 first" if x.dtype == np.uint8 else "")
        )
    x = x.astype(np.float32, copy=False)
    if x.size and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(f"{name} has values outside [0, 1] (min {x.min():.4g}, max {x.max():.4g})")
    return x


def binarize_static(x, seed=0):
    """Draw one fixed Bernoulli sample per pixel (Larochelle & Murray's static binarization).

    Pixel ``j`` of example ``i`` becomes 1 with probability ``x[i, j]``. The sample depends only
    on ``seed`` and the example's index, so the same call always gives the same array, and
    :func:`training_pipeline` with ``binarize="static"`` gives the same sample for the same seed.

    Args:
        x: float array ``[N, ...]`` in [0, 1].
        seed: integer seed.

    Returns:
        float32 array of the same shape holding 0.0 and 1.0.

    Example:
        >>> x, _ = load_arrays("digits", max_examples=10)
        >>> xb = binarize_static(x, seed=0)
        >>> np.unique(xb).tolist()
        [0.0, 1.0]
    """
    x = _validate_unit_array(x)
    if x.ndim < 1:
        raise ValueError(f"x must have a batch axis, got shape {x.shape}")
    if x.shape[0] == 0:
        return x.copy()
    ds = tf.data.Dataset.from_tensor_slices(x).enumerate()
    ds = ds.map(lambda i, xi: _static_sample(i, xi, seed)).batch(4096)
    return np.concatenate(list(ds.as_numpy_iterator())).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# pipelines


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def _x_dataset(source):
    """A dataset of float32 x alone from a numpy array or a dataset of (x, y) or x elements."""
    if isinstance(source, tf.data.Dataset):
        spec = source.element_spec
        if isinstance(spec, (tuple, list)):
            if not spec:
                raise ValueError("source dataset has empty elements; expected (x, y) or x")
            ds = source.map(lambda x, *rest: x)
            spec = spec[0]
        elif isinstance(spec, tf.TensorSpec):
            ds = source
        else:
            raise ValueError(
                f"source dataset must yield x or (x, y) tensors, got elements of type {spec!r}"
            )
        if not (spec.dtype.is_floating or spec.dtype == tf.bool):
            raise ValueError(
                f"source dataset yields x of dtype {spec.dtype.name}; expected float in [0, 1]"
                + (" (divide uint8 images by 255)" if spec.dtype == tf.uint8 else "")
            )
        return ds.map(lambda x: tf.cast(x, tf.float32))
    if isinstance(source, (tuple, list)) or isinstance(source, str):
        raise ValueError(
            "source must be a numpy array x or a tf.data.Dataset of (x, y) or x elements, got "
            f"{type(source).__name__}; for a named dataset use load_dataset(name)"
        )
    x = np.asarray(source)
    if x.ndim < 1:
        raise ValueError(f"source array must have a batch axis, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_):
        raise ValueError(
            f"source array has dtype {x.dtype}; expected float in [0, 1]"
            + (" (divide uint8 images by 255)" if x.dtype == np.uint8 else "")
        )
    return tf.data.Dataset.from_tensor_slices(x.astype(np.float32, copy=False))


def _apply_cache(ds, cache):
    if cache is True:
        return ds.cache()
    if cache is False or cache is None:
        return ds
    if isinstance(cache, (str, os.PathLike)):
        return ds.cache(os.fspath(cache))
    raise ValueError(f"cache must be True, False or a file path, got {cache!r}")


def _default_shuffle_buffer(ds):
    n = int(ds.cardinality())
    if n > 0:
        # A buffer as large as the data is a full shuffle; cap it to bound memory.
        return min(n, 60_000)
    return 10_000


def training_pipeline(source, batch_size, shuffle=True, seed=0, binarize=None, cache=True,
                      drop_remainder=False, repeat=False, shuffle_buffer=None):
    """Batches of ``x`` for ``model.fit``: cache, shuffle, binarize, batch, prefetch.

    The order is: (static/threshold binarization) -> cache -> shuffle (reshuffled every epoch,
    seeded) -> repeat -> batch -> (dynamic binarization) -> prefetch. Dynamic binarization comes
    after the cache and the shuffle so that every epoch draws a fresh sample for every example;
    its noise comes from ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``, so
    epochs differ but the same ``seed`` reproduces the whole run.

    Args:
        source: numpy array ``x`` ``[N, ...]`` (float in [0, 1]), or a ``tf.data.Dataset`` of
            ``(x, y)`` or ``x`` elements (e.g. :func:`load_dataset`); labels are dropped.
        batch_size: examples per batch (the global batch under ``tf.distribute``).
        shuffle: shuffle the examples (default ``True``).
        seed: seed of the shuffle and the binarization.
        binarize: ``None``; ``"static"`` (one fixed Bernoulli sample, the same every epoch);
            ``"dynamic"`` (a fresh Bernoulli sample every epoch); ``"threshold"`` (``x > 0.5``).
        cache: ``True`` (in memory), ``False``, or a file path for ``Dataset.cache(path)``
            (use it for data larger than memory, e.g. celeb_a).
        drop_remainder: drop the last incomplete batch.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        shuffle_buffer: shuffle buffer size (default: the whole dataset, at most 60000). TFDS
            stores dsprites ordered by its latent factors, so a buffer smaller than the dataset
            gives batches of few shapes and scales: pass ``shuffle_buffer`` = the dataset size
            (and ``cache=PATH``: 631954 float32 64x64 images are about 10 GB).

    Returns:
        a ``tf.data.Dataset`` of float32 ``[B, *shape]`` batches.

    Example:
        >>> ds = training_pipeline(load_dataset("digits"), batch_size=32, binarize="dynamic")
        >>> next(iter(ds)).shape
        TensorShape([32, 8, 8, 1])
    """
    batch_size = _check_batch_size(batch_size)
    _check_binarize(binarize, BINARIZE_MODES)
    if isinstance(source, np.ndarray) and binarize is not None:
        _validate_unit_array(source, "source array")
    ds = _x_dataset(source)

    if binarize == "static":
        ds = ds.enumerate().map(
            lambda i, x: _static_sample(i, x, seed), num_parallel_calls=tf.data.AUTOTUNE
        )
    elif binarize == "threshold":
        ds = ds.map(lambda x: tf.cast(x > 0.5, tf.float32), num_parallel_calls=tf.data.AUTOTUNE)

    ds = _apply_cache(ds, cache)
    if shuffle:
        if shuffle_buffer is None:
            shuffle_buffer = _default_shuffle_buffer(ds)
        elif isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, (int, np.integer)) \
                or shuffle_buffer < 1:
            raise ValueError(f"shuffle_buffer must be an integer >= 1 or None, got {shuffle_buffer!r}")
        ds = ds.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if binarize == "dynamic":
        # One int64 per batch; re-randomized on every new iteration (= every fit epoch). One draw
        # per batch, not per example: 0.7 instead of 4.5 ms per MNIST batch of 100 (measured by
        # iterating the pipeline), which had made it slower than the training step it feeds.
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        seed_t = tf.constant(seed, tf.int64)
        ds = tf.data.Dataset.zip((ds, noise)).map(
            lambda x, r: _bernoulli(x, tf.stack([r, seed_t])), num_parallel_calls=tf.data.AUTOTUNE
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def evaluation_pipeline(source, batch_size, cache=True):
    """Batches of ``x`` in order for evaluation: no shuffle, no binarization, cached, prefetched.

    Args:
        source: numpy array ``x`` or a ``tf.data.Dataset`` of ``(x, y)`` or ``x`` elements.
        batch_size: examples per batch.
        cache: ``True`` (in memory), ``False``, or a file path.

    Returns:
        a ``tf.data.Dataset`` of float32 ``[B, *shape]`` batches; the last one may be smaller.

    Example:
        >>> ds = evaluation_pipeline(load_dataset("digits", "test"), batch_size=100)
        >>> [int(b.shape[0]) for b in ds]
        [100, 100, 100, 60]
    """
    batch_size = _check_batch_size(batch_size)
    ds = _apply_cache(_x_dataset(source), cache)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
