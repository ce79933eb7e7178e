"""Public datasets read with TensorFlow Datasets (``tfds.load``).

Each dataset is one :class:`~keras_ae.data.registry.DatasetSpec` registered below: its TFDS
name, splits, delivered shape, native image size, how pixels become [0, 1] and which feature is
the label. ``tfds.load`` reads from ``data_dir`` (default ``~/tensorflow_datasets``); an unprepared dataset
is downloaded there only with ``download=True`` and otherwise raises
:class:`~keras_ae.data.registry.DatasetUnavailableError` at once. Splits take TFDS's slicing
syntax (``"train[:10%]"``, ``"train[1000:2000]"``, ``"train+test"``), except dsprites, whose
test split is held out by position. Tests use ``tfds.testing.mock_data``.

Images whose native size is not the delivered size (omniglot 105x105 -> 28x28, celeb_a 218x178
-> 64x64, or any ``image_size``) are centre-cropped to a square and resized with
:func:`~keras_ae.data.images.resize_square`.
"""

import functools

import tensorflow as tf

from keras_ae.data.images import binary_image, resize_to, unit_image
from keras_ae.data.registry import DatasetSpec, DatasetUnavailableError, register

# dsprites has no held-out split in TFDS: every 7th image in TFDS order is the test split. 7 is
# coprime with every latent factor's size, so the held-out images cover every factor evenly.
DSPRITES_TEST_PERIOD = 7


def _tfds_load(tfds_name, split, data_dir, skip_image_decoding=False, download=False):
    """``tfds.load`` of one split in file order, with ``info``; a clear error when unavailable.

    An unprepared dataset is downloaded only with ``download=True``; otherwise it fails at once
    (``builder.is_prepared()`` answers in under a second, while a download attempt without a
    network retries for minutes) with a :class:`DatasetUnavailableError` naming the dataset and
    the data directory.
    """
    import tensorflow_datasets as tfds

    if not download:
        from absl import logging as absl_logging

        verbosity = absl_logging.get_verbosity()
        absl_logging.set_verbosity(absl_logging.ERROR)  # TFDS warns about the empty folder it looks in
        try:
            builder = tfds.builder(tfds_name, data_dir=data_dir)
            prepared, where = builder.is_prepared(), builder.data_dir_root
        except Exception as e:  # noqa: BLE001 - a missing or unreadable data_dir fails in several ways
            prepared, where = False, f"{data_dir or 'the TFDS data directory'} ({type(e).__name__})"
        finally:
            absl_logging.set_verbosity(verbosity)
        if not prepared:
            raise DatasetUnavailableError(
                f"dataset {tfds_name!r} is not prepared in {where}; point data_dir (zoo: --data-dir) at a folder "
                f"where it is, or allow the download with download=True (zoo: --download)")
    decoders = {"image": tfds.decode.SkipDecoding()} if skip_image_decoding else None
    # shuffle_files=False: the order is part of the dsprites held-out split and of reproducibility.
    try:
        return tfds.load(tfds_name, split=split, data_dir=data_dir, shuffle_files=False, decoders=decoders,
                         with_info=True, download=download)
    except Exception as e:  # noqa: BLE001 - download and preparation fail with many exception types
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DatasetUnavailableError(
            f"dataset {tfds_name!r} is not prepared in {data_dir or 'the TFDS data directory'} and could not be "
            f"downloaded ({type(e).__name__}: {reason[:200]}); prepare it where there is a network, or use "
            "'digits' or 'npz:PATH'"
        ) from e


def _hold_out(ds, info, split, period):
    """Split TFDS's only split by position: index % period == 0 is ``test``, the rest ``train``.

    ``ds`` is read with its images still encoded, so only the kept images are decoded.
    """
    total = int(ds.cardinality())
    period_t = tf.constant(period, tf.int64)
    if split == "test":
        ds = ds.enumerate().filter(lambda i, ex: tf.equal(i % period_t, 0))
    else:
        ds = ds.enumerate().filter(lambda i, ex: tf.not_equal(i % period_t, 0))
    image_feature = info.features["image"]
    ds = ds.map(lambda i, ex: {**ex, "image": image_feature.decode_example(ex["image"])})
    if total >= 0:
        # filter() forgets the size; restore it for fit's progress bar and the shuffle buffer.
        n_test = -(-total // period)
        ds = ds.apply(tf.data.experimental.assert_cardinality(n_test if split == "test" else total - n_test))
    return ds


def _load_tfds(name, split, data_dir, image_size, *, shape, native_hw, pixels, label_key, holdout_period,
               download=False):
    """Unbatched ``(x, y)`` of one TFDS dataset: x float32 in [0, 1], y int64 (-1 if no label).

    Args:
        name, split, data_dir, image_size, download: as in :func:`keras_ae.data.load_dataset`.
        shape: the delivered example shape when ``image_size`` is None.
        native_hw: height and width of the stored images.
        pixels: stored image tensor -> float32 in [0, 1] with the delivered channels.
        label_key: the feature holding the label, or None (y is -1).
        holdout_period: if set, TFDS has only ``train``; split it with :func:`_hold_out`.
    """
    if holdout_period:
        ds, info = _tfds_load(name, "train", data_dir, skip_image_decoding=True, download=download)
        ds = _hold_out(ds, info, split, holdout_period)
    else:
        ds, _ = _tfds_load(name, split, data_dir, download=download)
    size = image_size or shape[0]
    out_shape = (size, size, shape[-1])

    def convert(ex):
        x = resize_to(pixels(ex["image"]), size, native_hw)
        y = tf.cast(ex[label_key], tf.int64) if label_key else tf.constant(-1, tf.int64)
        # Resizing loses the static shape; restore it so Keras can build models from element_spec.
        return tf.ensure_shape(x, out_shape), y

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)


def _inverted_grey(image):
    """Omniglot: grey scans stored as RGB, black ink on white -> one channel, ink 1 on 0."""
    return 1.0 - unit_image(image[..., :1])


def _register_tfds(name, splits, shape, native_hw, pixels, label_key, holdout_period=None):
    """Register the TFDS dataset ``name`` (see :func:`_load_tfds` for the arguments)."""
    return register(DatasetSpec(
        name=name,
        source="tfds",
        splits=splits,
        shape=shape,
        has_labels=label_key is not None,
        load_dataset=functools.partial(
            _load_tfds, shape=shape, native_hw=native_hw, pixels=pixels, label_key=label_key,
            holdout_period=holdout_period,
        ),
    ))


_TRAIN_TEST = ("train", "test")
_WITH_VALIDATION = ("train", "validation", "test")

_register_tfds("mnist", _TRAIN_TEST, (28, 28, 1), (28, 28), unit_image, "label")
_register_tfds("fashion_mnist", _TRAIN_TEST, (28, 28, 1), (28, 28), unit_image, "label")
# Larochelle & Murray's fixed binarization: pixels are exactly 0 or 1; no labels.
_register_tfds("binarized_mnist", _WITH_VALIDATION, (28, 28, 1), (28, 28), binary_image, None)
_register_tfds("cifar10", _TRAIN_TEST, (32, 32, 3), (32, 32), unit_image, "label")
# Ink 1 on a 0 background (the MNIST convention, as in Burda et al.'s IWAE benchmark), 28x28.
_register_tfds("omniglot", ("train", "test", "small1", "small2"), (28, 28, 1), (105, 105), _inverted_grey,
               "label")
_register_tfds("dsprites", _TRAIN_TEST, (64, 64, 1), (64, 64), binary_image, "label_shape",
               holdout_period=DSPRITES_TEST_PERIOD)
# The aligned 218x178 faces, centre-cropped to 178x178 and resized to 64x64; no labels.
_register_tfds("celeb_a", _WITH_VALIDATION, (64, 64, 3), (218, 178), unit_image, None)
