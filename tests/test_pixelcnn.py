"""Gated PixelCNN: causality measured with gradients, exact normalization, sampling that exports.

- through the whole stacked network (both stacks, several blocks, the head), the output at pixel
  ``i`` has zero gradient with respect to every input pixel ``>= i`` (first mask A) or ``> i``
  (B), and a non-zero gradient with respect to every earlier pixel (no blind spot);
- ``exp(log p(x))`` of all 512 binary 3x3 images sums to 1, and the same for a code grid;
- the exported seeded ``sample`` equals ``model.sample`` for the same seed (SavedModel, loaded with
  TensorFlow alone), and the contract harness passes (tests/test_harness_configs.py).
"""

import itertools
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import serving
from keras_ae.layers.pixelcnn import GatedPixelCNN, MaskedConv2D, causal_mask
from keras_ae.models import PixelCNNDensity, PixelVAE


def _randomize(layer, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(scale=scale, size=v.shape).astype("float32"))


def _dependencies(net, x, condition=None):
    """``dep[i, j]``: whether output pixel i (raster order) has a non-zero gradient wrt input pixel j.

    Taken over a batch of images (any of them), so that a ReLU of the head that happens to be
    off for one image does not hide a dependence.
    """
    batch, height, width = x.shape[:3]
    size = height * width
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reshape(tf.reduce_sum(net(x, condition), axis=-1), [batch, size])  # output pixels in raster order
    jacobian = tape.batch_jacobian(y, x).numpy().reshape(batch, size, size, -1)   # [b, output pixel, input pixel, c]
    return np.abs(jacobian).sum(axis=(0, 3)) > 0


@pytest.mark.parametrize("mask", ["A", "B"])
def test_causality_through_the_stacked_network(mask):
    # 4 blocks (kernels 5, 3, 3, 3) reach 5 columns left and 4 rows up: all of a 5 x 5 image
    net = GatedPixelCNN(num_layers=4, filters=6, kernel_size=3, first_kernel_size=5, first_mask=mask, hidden=6)
    x = np.random.default_rng(1).uniform(size=(4, 5, 5, 1)).astype("float32")
    condition = tf.constant(np.random.default_rng(2).normal(size=(4, 5, 5, 2)), tf.float32)  # a code map
    net(x, condition)
    _randomize(net)
    dep = _dependencies(net, x, condition)
    expected = np.tril(np.ones_like(dep), k=-1 if mask == "A" else 0)
    np.testing.assert_array_equal(dep, expected)  # zero on and above (A) / above (B) the diagonal, no blind spot


def test_masks():
    np.testing.assert_array_equal(causal_mask((1, 5), "A", "horizontal")[0, :, 0, 0], [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(causal_mask((1, 5), "B", "horizontal")[0, :, 0, 0], [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(causal_mask((3, 3), "A", "vertical")[:, :, 0, 0], [[1, 1, 1], [1, 1, 1], [0, 0, 0]])
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2D(2, (1, 3), mask_type="C")


def test_exact_probabilities_of_all_binary_3x3_images_sum_to_one():
    model = PixelCNNDensity((3, 3, 1), num_layers=3, filters=8, hidden=8, seed=0)
    model.build()
    _randomize(model)
    images = np.array(list(itertools.product([0, 1], repeat=9)), np.float32).reshape(-1, 3, 3, 1)
    p = np.exp(model.exact_log_likelihood(images).numpy().astype(np.float64))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    assert p.max() < 0.5  # random weights: not a degenerate point mass


def test_code_grid_probabilities_sum_to_one_with_a_class_condition():
    net = GatedPixelCNN(num_layers=2, filters=6, first_kernel_size=3, num_classes=3, hidden=6)
    grids = np.array(list(itertools.product(range(3), repeat=4)), np.int32).reshape(-1, 2, 2)  # 81 grids
    condition = tf.one_hot(np.full(len(grids), 1), 2)
    net(grids[:1], condition[:1])
    _randomize(net, seed=3)
    p = np.exp(net.log_prob(grids, condition).numpy().astype(np.float64))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    other = np.exp(net.log_prob(grids, tf.one_hot(np.zeros(len(grids), int), 2)).numpy())
    assert not np.allclose(p, other)  # the class changes the distribution


def test_sampling_is_seeded_and_fresh():
    net = GatedPixelCNN(num_layers=2, filters=6, first_kernel_size=3, num_classes=4, hidden=6)
    net(np.zeros((1, 3, 3), np.int32))
    _randomize(net, seed=4, scale=0.1)
    a = net.sample(64, (3, 3), tf.constant([1, 2]))
    np.testing.assert_array_equal(a, net.sample(64, (3, 3), tf.constant([1, 2])))
    assert a.dtype == tf.int32 and tuple(a.shape) == (64, 3, 3) and len(np.unique(a)) == 4
    assert not np.array_equal(net.sample(64, (3, 3)), net.sample(64, (3, 3)))


def test_pixelcnn_density_exported_seeded_sample_is_model_sample(tmp_path):
    # The harness (with the TFLite sampling loop on builtin ops) runs on the "pixelcnn" tiny
    # configuration of keras_ae/models/vq/presets.py (tests/test_harness_configs.py).
    model = PixelCNNDensity((4, 4, 1), num_layers=2, filters=4, hidden=4, seed=1)
    model.build()
    _randomize(model, scale=0.3)
    path = serving.export_saved_model(model, str(tmp_path / "exports"), "pixelcnn")
    loaded = tf.saved_model.load(path)
    exported = loaded.signatures["sample_seeded"](n=tf.constant(5), seed=tf.constant(11), temperature=tf.constant(1.0))["x"]
    np.testing.assert_array_equal(exported, model.sample(5, seed=11))


def test_pixelvae_likelihood_is_exact_and_normalized_for_each_code():
    model = PixelVAE((3, 3, 1), 2, hidden_units=(8,), num_layers=2, pixel_filters=6, pixel_hidden=6, seed=0)
    model.build()
    _randomize(model, scale=0.4)
    images = np.array(list(itertools.product([0, 1], repeat=9)), np.float32).reshape(-1, 3, 3, 1)
    for z in ([0.0, 0.0], [1.5, -2.0]):
        codes = tf.constant(np.tile(np.array(z, np.float32), (1, len(images), 1)))  # [1, 512, 2]
        p = np.exp(model.log_prob_of_codes(tf.constant(images), codes).numpy().astype(np.float64))[0]
        assert p.sum() == pytest.approx(1.0, abs=1e-5)
    a, b = (model.log_prob_of_codes(tf.constant(images[:4]), tf.constant(np.full((1, 4, 2), v, np.float32)))
            for v in (0.0, 1.0))
    assert not np.allclose(a, b)  # the code conditions the decoder
    z = model.encode(images[:3])
    np.testing.assert_array_equal(model.decode(z, seed=5), model.decode(z, seed=5))
    assert model.free_bits == 0.25 and set(np.unique(model.decode(z, seed=5))) <= {0.0, 1.0}


def test_pixelvae_build_skips_the_pixel_by_pixel_reconstruction_and_creates_the_same_weights(monkeypatch):
    """``BUILD_RECONSTRUCTS = False``: the loss alone builds every weight a reconstructing build would."""
    def make():
        return PixelVAE((4, 4, 1), 2, hidden_units=(8,), num_layers=2, pixel_filters=6, pixel_hidden=6, seed=0)

    calls = []
    model = make()
    monkeypatch.setattr(type(model), "_reconstruct", lambda self, x, *a, **k: calls.append(1) or x)
    model.build()
    assert calls == []
    monkeypatch.undo()
    monkeypatch.setattr(PixelVAE, "BUILD_RECONSTRUCTS", True)
    reference = make()
    reference.build()
    layout = lambda m: [(w.path.split("/", 1)[1], tuple(w.shape)) for w in m.weights]  # noqa: E731
    strip = lambda pairs: [(re.sub(r"_\d+", "", p), s) for p, s in pairs]  # noqa: E731
    assert strip(layout(model)) == strip(layout(reference))
