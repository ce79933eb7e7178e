"""DRAW (Gregor et al. 2015) and its Gaussian filterbank attention: the math against closed forms,
the per-step KLs, seeded generation, the pictures and the declared signatures (the contract harness
runs on the tiny configurations beside the recipes, tests/test_harness_configs.py)."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_ae import pictures
from keras_ae.layers.attention import (AttentionParameters, FilterbankRead, FilterbankWrite, attention_parameters,
                                       filterbank_read, filterbank_write, gaussian_filterbanks)
from keras_ae.models import DRAW


def centred_unit_stride(batch, size, sigma2, gamma):
    """The grid of an ``N = size`` filterbank centred on a ``size x size`` image with unit stride."""
    full = lambda v: tf.fill([batch], float(v))  # noqa: E731
    return AttentionParameters(g_x=full((size + 1) / 2), g_y=full((size + 1) / 2), delta=full(1.0),
                               sigma2=full(sigma2), gamma=full(gamma))


def normalised_gaussian_matrix(size, sigma2):
    """``F[i, a] = exp(-(a - i)^2 / (2 sigma^2)) / Z_i`` with rows summing to 1 (filter i centred on pixel i)."""
    i, a = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    f = np.exp(-(a - i) ** 2 / (2 * sigma2))
    return f / f.sum(axis=1, keepdims=True)


def test_a_centred_full_size_unit_stride_read_returns_the_image_up_to_its_normalisation(rng):
    images = rng.uniform(size=(3, 8, 8, 2)).astype(np.float32)
    gamma = 1.7
    # sigma -> 0: each filter is a delta on its own pixel, so the read is gamma * x exactly.
    f_x, f_y = gaussian_filterbanks(centred_unit_stride(3, 8, 1e-4, gamma), 8, 8, 8)
    np.testing.assert_allclose(f_x[0], np.eye(8), atol=1e-6)
    np.testing.assert_allclose(filterbank_read(images, f_x, f_y, tf.fill([3], gamma)), gamma * images, atol=1e-5)
    # sigma = 1: every filter row sums to 1, so the read is gamma * F x F^T with F the row-normalised
    # Gaussian blur; a constant image reads back as gamma * constant (a weighted average).
    params = centred_unit_stride(3, 8, 1.0, gamma)
    f_x, f_y = gaussian_filterbanks(params, 8, 8, 8)
    f = normalised_gaussian_matrix(8, 1.0)
    np.testing.assert_allclose(f_x[1], f, atol=1e-6)
    np.testing.assert_allclose(np.sum(f_y, axis=-1), 1.0, atol=1e-6)
    expected = gamma * np.einsum("iy,byxc,jx->bijc", f, images, f)
    glimpse = filterbank_read(images, f_x, f_y, params.gamma)
    np.testing.assert_allclose(glimpse, expected, atol=1e-5)
    constant = np.full((3, 8, 8, 2), 0.3, np.float32)
    np.testing.assert_allclose(filterbank_read(constant, f_x, f_y, params.gamma), gamma * constant, atol=1e-6)


def test_a_zero_linear_layer_places_the_centred_full_size_grid_and_the_layers_read_and_write_the_image(rng):
    # The paper's map: zero outputs give the centre (A + 1) / 2 and the stride (max(A, B) - 1) / (N - 1).
    params = attention_parameters(tf.zeros([1, 5]), height=7, width=9, glimpse_size=3)
    np.testing.assert_allclose([params.g_x[0], params.g_y[0], params.delta[0], params.sigma2[0], params.gamma[0]],
                               [5.0, 4.0, 4.0, 1.0, 1.0], rtol=1e-6)
    images = rng.uniform(size=(2, 6, 6, 1)).astype(np.float32)
    h = rng.normal(size=(2, 5)).astype(np.float32)
    bias = np.array([0.0, 0.0, np.log(1e-4), 0.0, np.log(2.0)], np.float32)  # sigma^2 = 1e-4, gamma = 2
    read = FilterbankRead((6, 6, 1), 6)
    read([images, images], h)
    read.locator.set_weights([np.zeros((5, 5), np.float32), bias])
    np.testing.assert_allclose(read([images, 1 - images], h),
                               np.concatenate([2 * images.reshape(2, -1), 2 * (1 - images).reshape(2, -1)], 1),
                               atol=1e-5)
    write = FilterbankWrite((6, 6, 1), 6)
    write(h)
    write.locator.set_weights([np.zeros((5, 5), np.float32), bias])
    patch = write.patch(h).numpy().reshape(2, 6, 6, 1)
    np.testing.assert_allclose(write(h), patch / 2.0, atol=1e-5)


def test_a_write_conserves_mass_and_is_the_transpose_of_a_read(rng):
    # Rows of F sum to 1, so sum(F_Y^T w F_X) = sum(w) and <read(x), w> = <x, write(w)> * gamma^2.
    params = attention_parameters(tf.constant(rng.normal(scale=0.3, size=(4, 5)), tf.float32), 12, 10, 4)
    f_x, f_y = gaussian_filterbanks(params, 12, 10, 4)
    w = rng.normal(size=(4, 4, 4, 3)).astype(np.float32)
    x = rng.normal(size=(4, 12, 10, 3)).astype(np.float32)
    written = filterbank_write(w, f_x, f_y, params.gamma)
    assert written.shape == (4, 12, 10, 3)
    np.testing.assert_allclose(np.sum(written, axis=(1, 2)) * params.gamma.numpy()[:, None],
                               np.sum(w, axis=(1, 2)), rtol=1e-4, atol=1e-4)
    read = filterbank_read(x, f_x, f_y, params.gamma)
    lhs = np.sum(read * w, axis=(1, 2, 3))
    rhs = np.sum(x * written, axis=(1, 2, 3)) * params.gamma.numpy() ** 2
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4, atol=1e-4)


def tiny_draw(**kwargs):
    args = dict(input_shape=(8, 8, 1), latent_dim=3, steps=3, hidden_units=(16,), read_size=3, write_size=4, seed=1)
    return DRAW(**{**args, **kwargs})


def test_the_per_step_kls_sum_to_the_total_kl(binary_digits):
    x = binary_digits[0][:6]
    model = tiny_draw()
    model.build()
    # The loss's KL is the sum over steps of the analytic per-step KLs of the same trajectory.
    record = model._importance_samples(tf.constant(x), 1, model.noise_seed(stream=1))
    per_step = model.step_kl(record.posterior)  # [1, B, T]
    assert per_step.shape == (1, 6, 3)
    np.testing.assert_allclose(model.loss_terms(x)["kl"], np.sum(per_step[0], axis=-1), rtol=1e-6)
    # Each step's KL is the closed form 0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2) of its Gaussian.
    loc = record.posterior.distribution.loc.numpy().reshape(1, 6, 3, 3)
    scale = record.posterior.distribution.scale.numpy().reshape(1, 6, 3, 3)
    closed = 0.5 * np.sum(loc ** 2 + scale ** 2 - 1 - np.log(scale ** 2), axis=-1)
    np.testing.assert_allclose(per_step, closed, rtol=1e-5, atol=1e-6)
    # kl_per_step averages trajectories; its sum is kl(), which the ELBO uses.
    np.testing.assert_allclose(np.sum(model.kl_per_step(x, 4, seed=0), axis=-1),
                               model.kl(model.importance_samples(x, 4, seed=0).posterior), rtol=1e-5)
    # And it is the expectation of log q(z|x) - log p(z) over trajectories: sum_t KL_t(z_<t) is
    # E[log q - log p | z_<t] step by step, so the two agree over many draws (4 standard errors).
    record = model.importance_samples(x, 4000, seed=3)
    gap = (record.log_qz - record.log_pz).numpy() - np.sum(model.step_kl(record.posterior), axis=-1)
    stderr = gap.std(axis=0) / np.sqrt(gap.shape[0])
    assert np.all(np.abs(gap.mean(axis=0)) < 4 * stderr + 1e-4), (gap.mean(axis=0), stderr)


@pytest.mark.parametrize("attention", [True, False])
def test_generation_is_deterministic_per_seed_and_the_sequence_ends_at_the_sample(binary_digits, attention):
    x = binary_digits[1][:4]
    model = tiny_draw(attention=attention)
    np.testing.assert_array_equal(model.sample(5, seed=3), model.sample(5, seed=3))
    assert not np.allclose(model.sample(5, seed=3), model.sample(5, seed=4))
    sequence = model.sample_sequence(5, seed=3)
    assert sequence.shape == (5, 3, 8, 8, 1)
    np.testing.assert_array_equal(sequence, model.sample_sequence(5, seed=3))
    np.testing.assert_allclose(sequence[:, -1], model.sample(5, seed=3), atol=1e-6)
    z = model.encode(x)
    assert z.shape == (4, 9)  # T * latent_dim, step-major
    np.testing.assert_allclose(model.canvas_sequence(z)[:, -1], model.decode(z), atol=1e-6)
    np.testing.assert_allclose(model.decode(z), model.reconstruct(x), atol=1e-5)
    # The record's codes are the ones that drew its canvas: decoding them gives its log p(x|z).
    record = model.importance_samples(x, 3, seed=0)
    np.testing.assert_allclose(model.log_prob_of_codes(tf.constant(x), record.codes), record.log_px_given_z,
                               rtol=1e-5, atol=1e-4)


def test_run_pictures_hold_the_generation_sequence_png_and_gif(binary_digits, tmp_path):
    model = tiny_draw()
    written = pictures.write_run_pictures(model, binary_digits[1][:20], None, str(tmp_path), seed=0)
    names = {os.path.basename(p) for p in written}
    assert {"generation_sequence.png", "generation_sequence.gif", "reconstruction_sequence.png",
            "samples.png"} <= names
    with Image.open(tmp_path / "generation_sequence.gif") as gif:
        assert gif.is_animated and gif.n_frames == 3


def test_draw_declares_its_step_wise_signatures():
    # The whole harness (both training paths, 2 replicas, save/load, SavedModel, whose sample runs
    # the T decoder steps in the graph, and TFLite) runs on the "draw" and "draw-noattn" tiny
    # configurations of keras_ae/models/draw/presets.py (tests/test_harness_configs.py).
    assert {"sample", "sample_seeded", "canvases", "decode"} <= set(tiny_draw(hidden_units=(8,)).export_endpoints())
