"""Tests of the procedural dSprites generator (keras_ae.data.procedural): factor space, determinism, rendering."""

import numpy as np
import pytest

from keras_ae import data as D
from keras_ae.data.procedural import ProceduralDSprites


@pytest.fixture(scope="module")
def sprites():
    return ProceduralDSprites()


def test_factor_space_is_dsprites(sprites):
    assert sprites.factor_sizes == (3, 6, 40, 32, 32)
    assert sprites.num_combinations == 737280 == int(np.prod(sprites.factor_sizes))
    np.testing.assert_allclose(sprites.factor_values[1][[0, -1]], [0.5, 1.0])
    np.testing.assert_allclose(sprites.factor_values[2][[0, -1]], [0.0, 2 * np.pi])
    for column in (3, 4):
        np.testing.assert_allclose(sprites.factor_values[column][[0, -1]], [0.0, 1.0])


def test_every_combination_is_addressable(sprites):
    """index <-> factors is a bijection on all 737,280 combinations, in dSprites' order."""
    indices = np.arange(sprites.num_combinations)
    factors = sprites.index_to_factors(indices)
    assert factors.shape == (737280, 5) and factors.dtype == np.int64
    np.testing.assert_array_equal(sprites.factors_to_index(factors), indices)
    assert len(np.unique(factors @ np.array([1, 10, 1000, 100000, 10000000]))) == 737280
    np.testing.assert_array_equal(factors[1], [0, 0, 0, 0, 1])  # position y varies fastest
    np.testing.assert_array_equal(factors[32], [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(factors[-1], [2, 5, 39, 31, 31])


def test_images_are_deterministic_binary_and_fit(sprites):
    indices = np.array([0, 1, 12345, 400000, 737279])
    first = sprites.images(indices)
    assert first.shape == (5, 64, 64, 1) and first.dtype == np.float32
    assert set(np.unique(first)) == {0.0, 1.0}
    np.testing.assert_array_equal(first, sprites.images(indices))  # same index, same image
    np.testing.assert_array_equal(first[2:3], sprites.images([12345]))  # whatever the batch
    # Every sprite has ink and never touches the border (it is never clipped).
    assert (first.sum(axis=(1, 2, 3)) > 10).all()
    border = first[:, [0, -1], :, :].sum() + first[:, :, [0, -1], :].sum()
    assert border == 0


def test_each_factor_changes_the_image(sprites):
    base = np.array([[2, 3, 5, 10, 20]])
    image = sprites.render(base)
    for column, size in enumerate(sprites.factor_sizes):
        for value in range(size):
            if value == base[0, column]:
                continue
            other = base.copy()
            other[0, column] = value
            changed = np.abs(sprites.render(other) - image).sum()
            assert changed > 0, (sprites.FACTOR_NAMES[column], value)
    # the larger the scale, the more ink
    scales = np.repeat(base, 6, axis=0)
    scales[:, 1] = np.arange(6)
    assert np.all(np.diff(sprites.render(scales).sum(axis=(1, 2, 3))) > 0)


def test_sampling_interface(sprites):
    factors = sprites.sample_factors(1000, np.random.default_rng(3))
    assert factors.shape == (1000, 5) and factors.dtype == np.int64
    assert (factors.min(axis=0) == 0).all() and (factors.max(axis=0) == np.array(sprites.factor_sizes) - 1).all()
    np.testing.assert_array_equal(factors, sprites.sample_factors(1000, 3))  # an int seed is a Generator's
    legacy = sprites.sample_factors(10, np.random.RandomState(0))
    assert legacy.shape == (10, 5)
    x = sprites.sample_observations_from_factors(factors[:7], np.random.default_rng(0))
    np.testing.assert_array_equal(x, sprites.render(factors[:7]))
    assert sprites.sample_factors(0, 0).shape == (0, 5)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 4), np.int64), r"shape \[n, 5\]"),
    (np.array([[0, 6, 0, 0, 0]]), "factor scale .* 0..5"),
    (np.array([[0, 0, 0, -1, 0]]), "factor position_x"),
    (np.array([[0.5, 0, 0, 0, 0]]), "integer class indices"),
])
def test_bad_factors_are_named(sprites, bad, match):
    with pytest.raises(ValueError, match=match):
        sprites.render(bad)


def test_bad_indices(sprites):
    with pytest.raises(ValueError, match="0..737279"):
        sprites.images([737280])


def test_registered_dataset():
    spec = D.dataset_spec("dsprites-procedural")
    assert spec.source == "procedural" and spec.ground_truth("dsprites-procedural").num_combinations == 737280
    assert D.dataset_shape("dsprites-procedural") == (64, 64, 1)
    x, y = D.load_arrays("dsprites-procedural:40", "train")
    assert x.shape == (40, 64, 64, 1) and x.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(y)) <= {0, 1, 2}
    from keras_ae.data import procedural

    train, test = procedural.split_indices("dsprites-procedural", "train"), procedural.split_indices("x", "test")
    assert len(train) == 32768 and len(test) == 2048 and not set(train) & set(test)
    np.testing.assert_array_equal(procedural.split_indices("dsprites-procedural:40", "train"), train[:40])
    np.testing.assert_array_equal(y, ProceduralDSprites().index_to_factors(train[:40])[:, 0])
    for bad in ("dsprites-procedural:0", "dsprites-procedural:x", "dsprites-procedural:735233"):
        with pytest.raises(D.UnknownDatasetError, match="dsprites-procedural:N"):
            D.check_dataset_name(bad)
    assert D.dataset_spec("digits").ground_truth is None


def test_docstring_examples():
    import doctest

    from keras_ae.data import procedural

    result = doctest.testmod(procedural, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
