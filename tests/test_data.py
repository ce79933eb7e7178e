"""Tests of keras_ae.data: named datasets, npz files, binarization and the tf.data pipelines.

TFDS cannot download here, so every TFDS name is loaded under ``tfds.testing.mock_data``. No
``dataset_info.json`` ships with tensorflow-datasets, so the mock runs with
``MockPolicy.USE_CODE``: features come from the builder classes (random uint8 images of the right
shape) and any split name is accepted, which is why split names are checked by keras_ae itself.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import data as D

TFDS_NAMES = [n for n in D.DATASET_NAMES if D.dataset_spec(n).source == "tfds"]


def write_npz(tmp_path, filename="data.npz", **arrays):
    path = tmp_path / filename
    np.savez(path, **arrays)
    return f"npz:{path}"


def epoch(ds):
    return np.concatenate(list(ds.as_numpy_iterator()))


# ---------------------------------------------------------------------------------------------
# names, shapes, splits


def test_names():
    assert D.dataset_names() == D.DATASET_NAMES
    assert D.DATASET_NAMES[0] == "digits"
    assert set(D.DATASET_NAMES) == {
        "digits", "mnist", "fashion_mnist", "binarized_mnist", "cifar10", "omniglot", "dsprites", "celeb_a",
        "dsprites-procedural", "moving-objects",
    }
    for name in D.DATASET_NAMES:
        assert D.check_dataset_name(name) == name


@pytest.mark.parametrize("bad", ["mnsit", "MNIST", "", None, "npz:"])
def test_unknown_dataset_lists_known_names(bad):
    with pytest.raises(D.UnknownDatasetError) as err:
        D.load_dataset(bad)
    message = str(err.value)
    assert "\n" not in message
    if bad != "npz:":
        assert repr(bad) in message
        for name in D.DATASET_NAMES:
            assert name in message
        assert "npz:PATH" in message
    assert isinstance(err.value, ValueError)


def test_a_registered_spec_is_served_everywhere(monkeypatch):
    """A new source is one register() call: names, splits, shapes and loaders follow the spec."""
    monkeypatch.setattr(D.registry, "_SPECS", dict(D.registry._SPECS))  # undone after the test
    x = np.linspace(0, 1, 5 * 6, dtype=np.float32).reshape(5, 6)
    spec = D.DatasetSpec(name="ramp", source="test", splits=("all",), shape=(6,), has_labels=False,
                         load_arrays=lambda name, split: (x, np.full((5,), -1, np.int64)))
    assert D.register(spec) is spec and D.dataset_spec("ramp") is spec
    assert D.dataset_names()[-1] == "ramp" and D.dataset_splits("ramp") == ("all",)
    assert D.dataset_shape("ramp") == (6,)
    np.testing.assert_array_equal(D.load_arrays("ramp", "all", max_examples=2)[0], x[:2])
    assert [tuple(e.shape) for e, _ in D.load_dataset("ramp", "all")] == [(6,)] * 5
    with pytest.raises(ValueError, match="'train' is not available"):
        D.load_arrays("ramp")
    with pytest.raises(ValueError, match="already registered"):
        D.register(spec)
    with pytest.raises(ValueError, match="exactly one of load_arrays and load_dataset"):
        D.DatasetSpec(name="broken", source="test", splits=("all",), shape=(6,), has_labels=False)


def test_unknown_dataset_everywhere():
    for fn in (D.check_dataset_name, D.dataset_shape, D.load_arrays, D.dataset_splits):
        with pytest.raises(D.UnknownDatasetError):
            fn("imagenet")


def test_missing_npz_file_names_path(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(ValueError, match="nope.npz"):
        D.check_dataset_name(f"npz:{path}")
    with pytest.raises(ValueError, match="nope.npz"):
        D.load_dataset(f"npz:{path}")


def test_unknown_split_names_split_and_choices():
    with pytest.raises(ValueError, match=r"'valid'.*train, test"):
        D.load_dataset("digits", split="valid")
    with pytest.raises(ValueError, match=r"'validation'.*'mnist'"):
        D.load_arrays("mnist", split="validation")
    assert D.dataset_splits("binarized_mnist") == ("train", "validation", "test")
    assert D.dataset_splits("celeb_a") == ("train", "validation", "test")
    assert D.dataset_splits("dsprites") == ("train", "test")


def test_static_shapes():
    expected = {
        "digits": (8, 8, 1),
        "mnist": (28, 28, 1),
        "fashion_mnist": (28, 28, 1),
        "binarized_mnist": (28, 28, 1),
        "cifar10": (32, 32, 3),
        "omniglot": (28, 28, 1),
        "dsprites": (64, 64, 1),
        "celeb_a": (64, 64, 3),
    }
    for name, shape in expected.items():
        assert D.dataset_shape(name) == shape
    assert D.dataset_shape("celeb_a", image_size=32) == (32, 32, 3)
    assert D.dataset_shape("omniglot", image_size=105) == (105, 105, 1)
    with pytest.raises(ValueError, match="image_size"):
        D.dataset_shape("mnist", image_size=0)


# ---------------------------------------------------------------------------------------------
# digits


def test_digits_fixed_split():
    x_train, y_train = D.load_arrays("digits", "train")
    x_test, y_test = D.load_arrays("digits", "test")
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0 and x_test.max() <= 1.0
    # stratified: every class in the test split, 35-37 of each
    assert set(np.bincount(y_test, minlength=10)) <= {35, 36, 37}

    again_x, again_y = D.load_arrays("digits", "test")
    np.testing.assert_array_equal(again_x, x_test)
    np.testing.assert_array_equal(again_y, y_test)

    # disjoint: the bundled digits have a few exact duplicates, so compare against all 1797
    from sklearn.datasets import load_digits

    all_x = load_digits().images.reshape(-1, 64) / 16.0
    train_rows = {r.tobytes() for r in x_train.reshape(-1, 64).astype(np.float64)}
    test_rows = [r.tobytes() for r in x_test.reshape(-1, 64).astype(np.float64)]
    all_rows = [r.tobytes() for r in all_x]
    duplicated = {r for r in all_rows if all_rows.count(r) > 1}
    assert not [r for r in test_rows if r in train_rows and r not in duplicated]


def test_digits_dataset_matches_arrays():
    ds = D.load_dataset("digits", "test")
    assert ds.element_spec[0].shape == (8, 8, 1) and ds.element_spec[0].dtype == tf.float32
    assert ds.element_spec[1].dtype == tf.int64
    xs, ys = zip(*ds.as_numpy_iterator())
    x, y = D.load_arrays("digits", "test")
    np.testing.assert_array_equal(np.stack(xs), x)
    np.testing.assert_array_equal(np.array(ys), y)


def test_load_arrays_max_examples_and_resize():
    x, y = D.load_arrays("digits", max_examples=5)
    assert x.shape == (5, 8, 8, 1) and y.shape == (5,)
    x16, _ = D.load_arrays("digits", max_examples=3, image_size=16)
    assert x16.shape == (3, 16, 16, 1) and 0.0 <= x16.min() and x16.max() <= 1.0
    with pytest.raises(ValueError, match="max_examples"):
        D.load_arrays("digits", max_examples=0)
    with pytest.raises(ValueError, match="dynamic"):
        D.load_arrays("digits", binarize="dynamic")
    with pytest.raises(ValueError, match="'sometimes'"):
        D.load_arrays("digits", binarize="sometimes")


# ---------------------------------------------------------------------------------------------
# TFDS names under mock_data


def _check_images(x, shape):
    assert x.shape[1:] == shape
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x)) and x.min() >= 0.0 and x.max() <= 1.0


@pytest.mark.parametrize("name", TFDS_NAMES)
def test_tfds_names_load_under_mock(name, mock_tfds):
    shape = D.dataset_shape(name)
    with mock_tfds(num_examples=6):
        ds = D.load_dataset(name, "train")
        assert ds.element_spec[0].shape == shape and ds.element_spec[0].dtype == tf.float32
        assert ds.element_spec[1].shape == () and ds.element_spec[1].dtype == tf.int64
        xs, ys = zip(*ds.as_numpy_iterator())
        test_x, _ = D.load_arrays(name, "test", max_examples=3)
    x, y = np.stack(xs), np.array(ys)
    _check_images(x, shape)
    _check_images(test_x, shape)
    assert len(test_x) <= 3
    if name in ("binarized_mnist", "dsprites"):
        assert set(np.unique(x)) <= {0.0, 1.0}
    if name in ("binarized_mnist", "celeb_a"):
        assert np.all(y == -1)
    else:
        assert np.all(y >= 0)
    # the random mock images are not constant, so the scaling really maps them into [0, 1]
    assert x.max() > x.min()


def test_mock_images_are_scaled_not_clipped(mock_tfds):
    with mock_tfds(num_examples=4):
        x, y = D.load_arrays("mnist", "test")
        import tensorflow_datasets as tfds

        raw = np.stack([ex["image"] for ex in tfds.load("mnist", split="test").as_numpy_iterator()])
    np.testing.assert_allclose(x, raw.astype(np.float32) / 255.0)


def test_omniglot_is_grey_inverted(mock_tfds):
    with mock_tfds(num_examples=2):
        x, _ = D.load_arrays("omniglot", image_size=105)
        import tensorflow_datasets as tfds

        raw = np.stack([ex["image"] for ex in tfds.load("omniglot", split="train").as_numpy_iterator()])
    assert x.shape == (2, 105, 105, 1)
    np.testing.assert_allclose(x[..., 0], 1.0 - raw[..., 0] / 255.0, atol=1e-6)


def test_celeb_a_image_size(mock_tfds):
    with mock_tfds(num_examples=2):
        x, y = D.load_arrays("celeb_a", "validation", image_size=32)
    _check_images(x, (32, 32, 3))
    assert np.all(y == -1)


def test_dsprites_held_out_split(mock_tfds):
    with mock_tfds(num_examples=15):
        train = list(D.load_dataset("dsprites", "train").as_numpy_iterator())
        test = list(D.load_dataset("dsprites", "test").as_numpy_iterator())
        import tensorflow_datasets as tfds

        raw = [ex["image"] for ex in tfds.load("dsprites", split="train").as_numpy_iterator()]
        test_size = int(D.load_dataset("dsprites", "test").cardinality())
        train_size = int(D.load_dataset("dsprites", "train").cardinality())
    np.testing.assert_array_equal(np.stack([x for x, _ in test])[..., 0], np.stack(raw[::7])[..., 0] > 0)
    # every 7th example (0, 7, 14) is held out, and the sizes are known up front
    assert len(test) == 3 and len(train) == 12
    assert (test_size, train_size) == (3, 12)
    assert all(lbl in (0, 1, 2) for _, lbl in train + test)


def test_an_unprepared_tfds_dataset_fails_at_once_naming_it_and_the_data_dir(tmp_path):
    import time

    start = time.perf_counter()
    with pytest.raises(D.DatasetUnavailableError, match=r"dataset 'mnist' is not prepared in .*nothing.*--data-dir"):
        D.load_arrays("mnist", "test", data_dir=str(tmp_path / "nothing"))
    # without the check, TFDS retries the download for minutes; the check itself is well under 5 s
    assert time.perf_counter() - start < 30


def test_tfds_split_slicing(mock_tfds):
    from unittest import mock

    import tensorflow_datasets as tfds

    # mock_data ignores the slice (it makes num_examples whatever the split), so check that the
    # expression reaches tfds.load unchanged
    with mock_tfds(num_examples=4), mock.patch.object(tfds, "load", wraps=tfds.load) as load:
        x, _ = D.load_arrays("mnist", "train[:50%]")
        D.load_arrays("mnist", "train[:2]+test[:3]")
    assert [c.kwargs["split"] for c in load.call_args_list] == ["train[:50%]", "train[:2]+test[:3]"]
    _check_images(x, (28, 28, 1))
    with pytest.raises(ValueError, match=r"names \['valid'\], not splits of dataset 'mnist'"):
        D.check_split("mnist", "valid[:10%]")
    with pytest.raises(ValueError, match="is not a TFDS split expression"):
        D.check_split("mnist", "train[::x]")
    with pytest.raises(ValueError, match="dsprites takes only 'train' or 'test'"):
        D.check_split("dsprites", "train[:10%]")
    with pytest.raises(ValueError, match="split 'train' is not available for dataset 'digits'|choose one of"):
        D.check_split("digits", "train[:10%]")


def test_tfds_pipeline_end_to_end(mock_tfds):
    with mock_tfds(num_examples=10):
        ds = D.training_pipeline(D.load_dataset("binarized_mnist"), batch_size=4, binarize="dynamic")
        batches = list(ds.as_numpy_iterator())
    assert [b.shape for b in batches] == [(4, 28, 28, 1), (4, 28, 28, 1), (2, 28, 28, 1)]


# ---------------------------------------------------------------------------------------------
# npz


def test_npz_uint8_images(tmp_path):
    rng = np.random.default_rng(0)
    name = write_npz(
        tmp_path,
        x_train=rng.integers(0, 256, (10, 6, 5), dtype=np.uint8),
        x_test=rng.integers(0, 256, (4, 6, 5), dtype=np.uint8),
        y_train=np.arange(10),
    )
    assert D.dataset_shape(name) == (6, 5, 1)
    x, y = D.load_arrays(name, "train")
    assert x.shape == (10, 6, 5, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(y, np.arange(10))
    _, y_test = D.load_arrays(name, "test")  # no y_test: labels -1
    np.testing.assert_array_equal(y_test, -np.ones(4))
    ds = D.load_dataset(name, "test")
    assert ds.element_spec[0].shape == (6, 5, 1) and ds.element_spec[1].dtype == tf.int64
    assert D.dataset_shape(name, image_size=4) == (4, 4, 1)
    assert D.load_arrays(name, image_size=4)[0].shape == (10, 4, 4, 1)


def test_npz_float_and_rgb(tmp_path):
    x_train = np.random.default_rng(1).random((7, 4, 4, 3))
    name = write_npz(tmp_path, x_train=x_train, x_test=x_train[:2], y_test=np.array([3, 4]))
    x, _ = D.load_arrays(name)
    np.testing.assert_allclose(x, x_train.astype(np.float32))
    assert D.load_arrays(name, "test")[1].tolist() == [3, 4]


def test_npz_vectors(tmp_path):
    name = write_npz(tmp_path, x_train=np.full((5, 12), 0.25, np.float32), x_test=np.zeros((2, 12), np.float32))
    assert D.dataset_shape(name) == (12,)
    ds = D.load_dataset(name, "train")
    assert ds.element_spec[0].shape == (12,)
    batches = list(D.training_pipeline(ds, batch_size=2, binarize="static").as_numpy_iterator())
    assert [b.shape for b in batches] == [(2, 12), (2, 12), (1, 12)]
    with pytest.raises(ValueError, match="vectors"):
        D.dataset_shape(name, image_size=8)


def test_npz_missing_key(tmp_path):
    name = write_npz(tmp_path, x_train=np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="x_test"):
        D.load_dataset(name, "train")
    with pytest.raises(ValueError, match="x_test"):
        D.dataset_shape(name)


def test_npz_float_out_of_range(tmp_path):
    name = write_npz(tmp_path, x_train=np.linspace(0, 255, 32).reshape(2, 4, 4), x_test=np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match=r"x_train.*\[0, 255\].*\[0, 1\]"):
        D.load_arrays(name)


def test_npz_bad_contents(tmp_path):
    name = write_npz(tmp_path, "int.npz", x_train=np.zeros((2, 3), np.int32), x_test=np.zeros((1, 3), np.int32))
    with pytest.raises(ValueError, match="int32"):
        D.load_arrays(name)
    name = write_npz(tmp_path, "shapes.npz", x_train=np.zeros((2, 3), np.uint8), x_test=np.zeros((1, 4), np.uint8))
    with pytest.raises(ValueError, match="different example shapes"):
        D.load_arrays(name)
    name = write_npz(tmp_path, "y.npz", x_train=np.zeros((2, 3), np.uint8), x_test=np.zeros((1, 3), np.uint8),
                     y_train=np.zeros(5))
    with pytest.raises(ValueError, match="y_train"):
        D.load_arrays(name)
    name = write_npz(tmp_path, "nan.npz", x_train=np.full((2, 3), np.nan), x_test=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        D.load_arrays(name)
    not_npz = tmp_path / "x.npz"
    np.save(not_npz, np.zeros(3))  # np.save appends .npy
    os.replace(str(not_npz) + ".npy", not_npz)
    with pytest.raises(ValueError, match="not an .npz file"):
        D.dataset_shape(f"npz:{not_npz}")


# ---------------------------------------------------------------------------------------------
# binarization


def test_binarize_static_is_deterministic_and_binary():
    x, _ = D.load_arrays("digits", max_examples=200)
    a = D.binarize_static(x, seed=0)
    b = D.binarize_static(x, seed=0)
    c = D.binarize_static(x, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert set(np.unique(a)) == {0.0, 1.0}
    # pixels at 0 stay 0, pixels at 1 stay 1, and the mean follows the intensities
    assert np.all(a[x == 0.0] == 0.0) and np.all(a[x == 1.0] == 1.0)
    assert abs(a.mean() - x.mean()) < 0.01
    # same as load_arrays(binarize="static") and the pipeline's static mode, in source order
    np.testing.assert_array_equal(D.load_arrays("digits", max_examples=200, binarize="static")[0], a)
    np.testing.assert_array_equal(epoch(D.training_pipeline(x, 64, shuffle=False, binarize="static")), a)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        D.binarize_static(x * 2)


def test_static_binarization_same_every_epoch():
    x, _ = D.load_arrays("digits", max_examples=64)
    ds = D.training_pipeline(x, 16, shuffle=True, seed=2, binarize="static")
    e1, e2 = epoch(ds), epoch(ds)
    assert not np.array_equal(e1, e2)  # reshuffled ...
    # ... but the same set of binary images
    np.testing.assert_array_equal(np.sort(e1.reshape(64, -1), axis=0), np.sort(e2.reshape(64, -1), axis=0))
    assert {tuple(r) for r in e1.reshape(64, -1)} == {tuple(r) for r in e2.reshape(64, -1)}


def test_dynamic_binarization_differs_by_epoch_and_reproduces():
    x, _ = D.load_arrays("digits", max_examples=64)

    def two_epochs(seed, shuffle):
        ds = D.training_pipeline(x, 16, shuffle=shuffle, seed=seed, binarize="dynamic")
        return epoch(ds), epoch(ds)

    e1, e2 = two_epochs(5, shuffle=False)
    assert set(np.unique(e1)) == {0.0, 1.0}
    assert not np.array_equal(e1, e2)
    # a fresh pipeline with the same seed replays both epochs exactly
    r1, r2 = two_epochs(5, shuffle=False)
    np.testing.assert_array_equal(e1, r1)
    np.testing.assert_array_equal(e2, r2)
    s1, s2 = two_epochs(5, shuffle=True)
    t1, t2 = two_epochs(5, shuffle=True)
    np.testing.assert_array_equal(s1, t1)
    np.testing.assert_array_equal(s2, t2)
    assert not np.array_equal(two_epochs(6, shuffle=False)[0], e1)
    # an unbiased sample: the mean over both epochs tracks the intensities
    assert abs((e1.mean() + e2.mean()) / 2 - x.mean()) < 0.02
    # with repeat=True the noise stream runs on, so consecutive passes differ as well
    it = iter(D.training_pipeline(x, 16, shuffle=False, binarize="dynamic", repeat=True))
    stream = np.concatenate([next(it).numpy() for _ in range(8)])
    assert not np.array_equal(stream[:64], stream[64:])


def test_threshold_binarization():
    x, _ = D.load_arrays("digits", max_examples=32)
    out = epoch(D.training_pipeline(x, 32, shuffle=False, binarize="threshold"))
    np.testing.assert_array_equal(out, (x > 0.5).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# pipelines


def test_training_pipeline_batches_x_only():
    ds = D.training_pipeline(D.load_dataset("digits", "test"), batch_size=100)
    assert ds.element_spec.shape.as_list() == [None, 8, 8, 1]
    assert ds.element_spec.dtype == tf.float32
    sizes = [b.shape[0] for b in ds.as_numpy_iterator()]
    assert sizes == [100, 100, 100, 60]
    dropped = D.training_pipeline(D.load_dataset("digits", "test"), batch_size=100, drop_remainder=True)
    assert dropped.element_spec.shape.as_list() == [100, 8, 8, 1]
    assert len(list(dropped)) == 3
    # x-only datasets work too
    x, _ = D.load_arrays("digits", max_examples=10)
    from_x = D.training_pipeline(tf.data.Dataset.from_tensor_slices(x), batch_size=4, shuffle=False)
    np.testing.assert_array_equal(epoch(from_x), x)


def test_training_pipeline_shuffles_reproducibly():
    x, _ = D.load_arrays("digits", max_examples=100)
    a = D.training_pipeline(x, 10, seed=0)
    b = D.training_pipeline(x, 10, seed=0)
    a1, a2, b1, b2 = epoch(a), epoch(a), epoch(b), epoch(b)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2) and not np.array_equal(a1, x)
    np.testing.assert_array_equal(np.sort(a1.reshape(100, -1), axis=0), np.sort(x.reshape(100, -1), axis=0))


def test_evaluation_pipeline_in_order():
    x, _ = D.load_arrays("digits", "test")
    ds = D.evaluation_pipeline(D.load_dataset("digits", "test"), batch_size=128)
    out = epoch(ds)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(epoch(ds), out)
    assert [b.shape[0] for b in ds.as_numpy_iterator()] == [128, 128, 104]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        D.training_pipeline(np.zeros((4, 2), np.float32), batch_size)
    with pytest.raises(ValueError, match="batch_size"):
        D.evaluation_pipeline(np.zeros((4, 2), np.float32), batch_size)


def test_bad_pipeline_arguments():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="'bernoulli'"):
        D.training_pipeline(x, 2, binarize="bernoulli")
    with pytest.raises(ValueError, match="uint8"):
        D.training_pipeline(np.zeros((4, 2), np.uint8), 2)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        D.training_pipeline(x + 3, 2, binarize="dynamic")
    with pytest.raises(ValueError, match="load_dataset"):
        D.training_pipeline("digits", 2)
    with pytest.raises(ValueError, match="cache"):
        D.training_pipeline(x, 2, cache=3)


def test_fit_on_training_pipeline():
    from keras_ae.models import Autoencoder

    x, _ = D.load_arrays("digits", max_examples=64)
    model = Autoencoder(input_shape=D.dataset_shape("digits"), latent_dim=2, reconstruction="bernoulli")
    model.compile(optimizer="adam")
    history = model.fit(D.training_pipeline(x, 32, binarize="dynamic"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])


def test_docstring_examples():
    import doctest

    # The examples live in the modules of the package and use its public names.
    attempted = 0
    public = {n: getattr(D, n) for n in D.__all__}
    for module in (D.registry, D.loading, D.pipelines):
        result = doctest.testmod(module, extraglobs=public, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted > 0


def test_a_dataset_that_cannot_be_downloaded_is_a_clear_error(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(D.DatasetUnavailableError, match="'mnist' is not prepared .* could not be downloaded"):
        D.load_arrays("mnist", "test", data_dir=str(tmp_path), download=True)
