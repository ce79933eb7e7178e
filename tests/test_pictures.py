"""Pictures in run directories: every file is a valid PNG of sensible size, written atomically."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_ae import pictures
from keras_ae.models import RAE, Autoencoder

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(size=(24, 8, 8, 1)).astype("float32")
LABELS = np.arange(24) % 3


def _assert_png(path, min_side=100):
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
    assert min_side <= width <= 4000 and min_side <= height <= 4000, (path, image.size)


def _assert_no_temporary_files(folder):
    leftovers = [name for name in os.listdir(folder) if name.startswith(".") or name.endswith(".tmp")]
    assert not leftovers, leftovers


def _tiny_autoencoder(input_shape, latent_dim):
    return Autoencoder(input_shape=input_shape, latent_dim=latent_dim, hidden_units=(8,), seed=0)


@pytest.mark.parametrize("input_shape", [(8, 8, 1), (64,), (10,), (6, 5, 2)])
def test_deterministic_run_pictures_two_dimensional_latent(tmp_path, input_shape):
    # (64,) is drawn as 8x8 images, (10,) as line plots, (6, 5, 2) as channels side by side.
    x = RNG.uniform(size=(24,) + input_shape).astype("float32")
    model = _tiny_autoencoder(input_shape, latent_dim=2)
    written = pictures.write_run_pictures(model, x, LABELS, str(tmp_path))
    names = [os.path.basename(p) for p in written]
    assert names == ["reconstructions.png", "interpolations.png", "traversals.png", "manifold.png",
                     "latent_scatter.png"]
    for path in written:
        _assert_png(path)
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    _assert_no_temporary_files(tmp_path)


def test_deterministic_model_gets_no_samples_or_manifold(tmp_path):
    model = _tiny_autoencoder((8, 8, 1), latent_dim=4)
    written = pictures.write_run_pictures(model, IMAGES, None, str(tmp_path / "run"))
    assert [os.path.basename(p) for p in written] == ["reconstructions.png", "interpolations.png", "traversals.png"]
    with pytest.raises(ValueError, match="does not declare is_generative"):
        pictures.sample_grid(model, str(tmp_path / "samples.png"))
    with pytest.raises(ValueError, match="a float vector of size 2"):
        pictures.manifold_grid(model, str(tmp_path / "manifold.png"))


def test_single_pictures_and_options(tmp_path):
    model = _tiny_autoencoder((8, 8, 1), latent_dim=3)
    path = pictures.reconstruction_grid(model, IMAGES, str(tmp_path / "r.png"), n=13)  # two row pairs
    _assert_png(path)
    _assert_png(pictures.interpolation_grid(model, IMAGES, str(tmp_path / "i.png"), pairs=2, steps=4,
                                            method="slerp"))
    _assert_png(pictures.latent_traversal(model, IMAGES, str(tmp_path / "t.png"), dims=[2, 0], steps=3))
    model2 = _tiny_autoencoder((8, 8, 1), latent_dim=2)
    one_hot = np.eye(3)[LABELS]
    _assert_png(pictures.latent_scatter(model2, IMAGES, one_hot, str(tmp_path / "s.png")))
    _assert_no_temporary_files(tmp_path)


def test_bad_arguments(tmp_path):
    model = _tiny_autoencoder((8, 8, 1), latent_dim=3)
    with pytest.raises(ValueError, match="dims"):
        pictures.latent_traversal(model, IMAGES, str(tmp_path / "t.png"), dims=[5])
    with pytest.raises(ValueError, match="steps"):
        pictures.interpolation_grid(model, IMAGES, str(tmp_path / "i.png"), steps=1)
    with pytest.raises(ValueError, match="method"):
        pictures.interpolation_grid(model, IMAGES, str(tmp_path / "i.png"), method="cubic")
    model2 = _tiny_autoencoder((8, 8, 1), latent_dim=2)
    with pytest.raises(ValueError, match="one label per example"):
        pictures.latent_scatter(model2, IMAGES, LABELS[:5], str(tmp_path / "s.png"))
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("latent_dim", [2, 3])
def test_generative_run_pictures_with_a_fitted_density(tmp_path, latent_dim):
    model = RAE(input_shape=(8, 8, 1), latent_dim=latent_dim, hidden_units=(8,), reconstruction="bernoulli",
                density_components=2, seed=0)
    model.fit_density(IMAGES)
    written = pictures.write_run_pictures(model, IMAGES, LABELS, str(tmp_path), seed=1)
    names = [os.path.basename(p) for p in written]
    expected = ["reconstructions.png", "interpolations.png", "traversals.png", "samples.png"]
    assert names == expected + (["manifold.png", "latent_scatter.png"] if latent_dim == 2 else [])
    for path in written:
        _assert_png(path)
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    _assert_no_temporary_files(tmp_path)
    # The same seed draws the same samples, so the picture is reproducible.
    again = pictures.sample_grid(model, str(tmp_path / "again.png"), seed=1)
    with open(again, "rb") as a, open(tmp_path / "samples.png", "rb") as b:
        assert a.read() == b.read()


def test_loss_curves_draw_every_term_from_history_rows_or_a_keras_history(tmp_path):
    from PIL import Image

    from keras_ae import pictures

    rows = [{"epoch": e, "loss": 10.0 / e, "kl": 1.0 + e, "val_loss": 11.0 / e} for e in range(1, 6)]
    path = pictures.loss_curves(rows, str(tmp_path / "curves.png"))
    with Image.open(path) as image:
        wide, _ = image.size
    history = {"loss": [3.0, 2.0], "reconstruction": [2.5, 1.5], "kl": [0.5, 0.5]}
    path3 = pictures.loss_curves(history, str(tmp_path / "three.png"))
    with Image.open(path3) as image:
        assert abs(image.size[0] / wide - 1.5) < 0.05  # one panel per term: three side by side, two before
    with pytest.raises(ValueError, match="at least one epoch"):
        pictures.loss_curves([], str(tmp_path / "none.png"))
