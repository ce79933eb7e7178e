"""keras_ae.evaluation: log-likelihood, ELBO parts, active units, reconstruction error, evaluate_model."""

import json

import numpy as np
import pytest
import keras
import tensorflow as tf

from keras_ae import evaluation
from keras_ae.models import VAE, Autoencoder, CategoricalVAE, IWAE
from keras_ae.models import base as base_module


@pytest.fixture(scope="module")
def briefly_trained(binary_digits):
    keras.utils.set_random_seed(1)
    model = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(32,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(binary_digits[0], epochs=5, batch_size=64, verbose=0)
    return model


def test_log_likelihood_is_at_least_the_elbo(briefly_trained, binary_digits):
    x = binary_digits[1][:200]
    log_px = evaluation.log_likelihood(briefly_trained, x, num_samples=200)
    parts = evaluation.elbo(briefly_trained, x, num_samples=10)
    gap = log_px - parts["elbo"]
    se = gap.std(ddof=1) / np.sqrt(gap.size)
    assert gap.mean() > 3 * se, (gap.mean(), se)
    np.testing.assert_allclose(parts["elbo"], -(parts["reconstruction"] + parts["kl"]))
    q = briefly_trained.posterior(x)
    np.testing.assert_allclose(parts["kl"], briefly_trained.kl(q).numpy(), rtol=1e-5)


def test_log_likelihood_batches_are_the_model_estimate(briefly_trained, binary_digits):
    x = binary_digits[1][:30]
    whole = evaluation.log_likelihood(briefly_trained, x, num_samples=40, batch_size=30, seed=4)
    direct = briefly_trained.log_likelihood(x, num_samples=40, seed=4).numpy()
    np.testing.assert_allclose(whole, direct, rtol=1e-6)
    assert evaluation.log_likelihood(briefly_trained, x, num_samples=40, batch_size=7).shape == (30,)


def test_log_likelihood_memory_is_bounded_for_thousands_of_samples(briefly_trained, binary_digits, monkeypatch):
    drawn = []
    original = briefly_trained._importance_samples

    def spy(x, n, seed, training=False):
        drawn.append((int(x.shape[0]), int(n)))
        return original(x, n, seed, training)

    monkeypatch.setattr(base_module, "DECODED_PER_CHUNK", 1000)
    monkeypatch.setattr(briefly_trained, "_importance_samples", spy)
    estimate = evaluation.log_likelihood(briefly_trained, binary_digits[1][:20], num_samples=3000, batch_size=10)
    assert np.all(np.isfinite(estimate))
    assert sum(n for _, n in drawn) == 2 * 3000
    assert max(b * n for b, n in drawn) <= 1000


def test_active_units_counts_units_that_vary():
    model = Autoencoder(input_shape=(6,), latent_dim=4, hidden_units=(), activation="linear", seed=0)
    model.build()
    kernel, bias = model.code_layer.get_weights()
    kernel[:, :2] = 0.0  # units 0 and 1 ignore the input
    model.code_layer.set_weights([kernel, bias + 3.0])
    x = np.random.default_rng(0).normal(size=(500, 6)).astype("float32")
    activity = evaluation.unit_activity(model, x, batch_size=64)
    np.testing.assert_allclose(activity, np.var(model.encode(x).numpy().astype(np.float64), axis=0, ddof=1),
                               rtol=1e-4, atol=1e-12)
    assert activity[0] == 0 and activity[1] == 0
    assert evaluation.active_units(model, x, threshold=1e-6) == 2


def test_vae_active_units_are_counted_over_posterior_means(briefly_trained, binary_digits):
    count = evaluation.active_units(briefly_trained, binary_digits[1])
    assert 0 <= count <= 4
    assert evaluation.active_units(briefly_trained, binary_digits[1], threshold=0.0) == 4


def test_reconstruction_error_is_the_mean_squared_error(binary_digits):
    model = Autoencoder(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0)
    x = binary_digits[1][:50]
    expected = np.mean((x - model.reconstruct(x).numpy()) ** 2)
    assert evaluation.reconstruction_error(model, x, batch_size=7) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("factory", [
    lambda: Autoencoder(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0),
    lambda: VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0),
    lambda: IWAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), num_samples=3, seed=0),
    lambda: CategoricalVAE(input_shape=(8, 8, 1), num_variables=2, num_classes=3, hidden_units=(16,), seed=0),
])
def test_evaluate_model_gives_flat_json_metrics(factory, binary_digits):
    model = factory()
    metrics = evaluation.evaluate_model(model, binary_digits[1][:40], num_samples=20, batch_size=16)
    json.dumps(metrics)
    assert {"reconstruction_mse", "score", "test_reconstruction", "num_test"} <= set(metrics)
    if isinstance(model, VAE):
        assert {"elbo", "kl", "reconstruction", "nll", "nll_stderr", "active_units", "latent_units"} <= set(metrics)
        assert metrics["nll_num_samples"] == 20
        assert metrics["nll"] <= -metrics["elbo"] + 3 * metrics["nll_stderr"]
    else:
        assert "nll" not in metrics
    assert all(np.isfinite(v) for v in metrics.values())


def test_bad_input(briefly_trained):
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        evaluation.evaluate_model(briefly_trained, np.full((3, 8, 8, 1), 2.0, "float32"))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        evaluation.log_likelihood(briefly_trained, np.zeros((3, 8, 8, 1), "float32"), batch_size=0)
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1, got 0"):
        evaluation.log_likelihood(briefly_trained, np.zeros((3, 8, 8, 1), "float32"), num_samples=0)
    with pytest.raises(ValueError, match="shape"):
        evaluation.reconstruction_error(briefly_trained, np.zeros((3, 64), "float32"))
    assert tf.executing_eagerly()
