"""The conditional VAE (Sohn et al. 2015): the condition is used, randomness is seeded, the contract holds.

- changing the label changes the samples and the decodings (the condition is not ignored), and the
  same label and seed give the same samples;
- the bound given ``y`` is the VAE's ELBO of the conditioned networks (the VAE's math, reused);
- ``log_likelihood`` without ``y`` marginalises a uniform label: with k draws it agrees with
  ``logmeanexp_y log p(x | y)``;
- bad conditions are ValueErrors naming ``y``;
- ``evaluate_model`` conditions on the test labels (``extras={"y": ...}``) and refuses to run
  without them;
- the exported seeded ``sample_seeded(y, seed)`` repeats and draws per row, and the
  class-conditional picture. The harness (both training paths, 2 replicas, SavedModel and TFLite
  with ``decode(z, y)`` and ``sample(y)``) runs on the "cvae" tiny configuration
  (``tests/test_harness_configs.py``).
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from keras_ae import evaluation, pictures, samplers, serving
from keras_ae.models import ConditionalVAE

SHAPE = (4, 4, 1)


def _model(**kwargs):
    args = dict(input_shape=SHAPE, latent_dim=2, num_classes=3, hidden_units=(8,), seed=1)
    return ConditionalVAE(**{**args, **kwargs})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(16,) + SHAPE).astype("float32"), (np.arange(16) % 3).astype("int32")


@pytest.fixture(scope="module")
def model():
    m = _model()
    m.build()
    return m


def test_the_label_changes_samples_and_decodings(model, data):
    x, _ = data
    z = np.random.default_rng(1).normal(size=(5, 2)).astype("float32")
    zeros, ones = np.zeros(5, np.int32), np.ones(5, np.int32)
    assert np.max(np.abs(model.decode(z, y=zeros) - model.decode(z, y=ones))) > 1e-4
    assert np.max(np.abs(model.sample(5, seed=3, y=zeros) - model.sample(5, seed=3, y=ones))) > 1e-4
    np.testing.assert_array_equal(model.sample(5, seed=3, y=ones), model.sample(5, seed=3, y=ones))
    assert np.max(np.abs(model.sample(5, seed=3, y=ones) - model.sample(5, seed=4, y=ones))) > 1e-4
    # the same seed keeps the codes: sample = decode(prior draws of the seed, y)
    np.testing.assert_allclose(model.sample(5, seed=3, y=ones), model.decode(
        model._prior_codes(5, samplers.sampling_seed(3)), y=ones), atol=1e-6)
    # the condition reaches the encoder too
    assert np.max(np.abs(model.encode(x[:5], y=zeros) - model.encode(x[:5], y=ones))) > 1e-4


def test_vector_conditions_are_used(data):
    x, _ = data
    m = _model(num_classes=None, condition_dim=2)
    c = np.random.default_rng(2).normal(size=(16, 2)).astype("float32")
    terms = m.loss_terms(x, y=c)
    assert set(terms) >= {"reconstruction", "kl", "elbo"}
    assert np.max(np.abs(m.decode(np.zeros((16, 2), np.float32), y=c) - m.decode(np.zeros((16, 2), np.float32),
                                                                                 y=-c))) > 1e-4
    with pytest.raises(ValueError, match="no prior over its condition"):
        m.log_likelihood(x[:2], num_samples=2)


def test_the_bound_given_y_is_the_elbo_of_the_conditioned_networks(model, data):
    x, y = data
    record = model.importance_samples(x, num_samples=2000, seed=5, y=y)
    q = model.posterior(x, y=y)
    expected = -model.kl(q) + np.mean(record.log_px_given_z, axis=0)
    elbo = np.mean(record.log_weights(), axis=0)
    # Monte Carlo of log p(z) - log q(z|x, y) over 2000 draws against the closed-form KL:
    # standard error std(log-ratio) / sqrt(2000), below 0.05 nats for this posterior.
    np.testing.assert_allclose(elbo, expected, atol=0.1)


def _importance_estimate(log_weights):
    """``(p_hat / c, var(p_hat) / c^2, log c)`` of the importance estimate ``mean_s w_s`` per example."""
    log_weights = np.asarray(log_weights, np.float64)
    c = log_weights.max(axis=0)
    w = np.exp(log_weights - c)
    return w.mean(axis=0), w.var(axis=0) / len(w), c


def test_log_likelihood_without_y_marginalises_a_uniform_label(model, data):
    x, _ = data
    x = x[:4]
    estimates = [_importance_estimate(model.log_importance_weights(x, 3000, seed=k, y=np.full(4, k)))
                 for k in range(3)]
    shift = np.max([c for _, _, c in estimates], axis=0)
    mean = sum(m * np.exp(c - shift) for m, _, c in estimates) / 3  # sum_y p(y) p_hat(x | y), scaled
    var = sum(v * np.exp(2 * (c - shift)) for _, v, c in estimates) / 9
    expected, expected_se = np.log(mean) + shift, np.sqrt(var) / mean  # delta method for the log
    got_mean, got_var, got_c = _importance_estimate(model.log_importance_weights(x, 9000, seed=11))
    got, got_se = np.log(got_mean) + got_c, np.sqrt(got_var) / got_mean
    # Two independent importance estimates of log p(x): within 4 standard errors of each other.
    assert np.all(np.abs(got - expected) <= 4 * np.sqrt(expected_se**2 + got_se**2) + 1e-3), (got, expected)
    assert np.all(expected_se < 0.2)  # the check has power: both estimates are tight


def test_bad_conditions_are_value_errors(model, data):
    x, y = data
    with pytest.raises(ValueError, match="needs the condition y"):
        model.encode(x)
    with pytest.raises(ValueError, match="needs the condition y"):
        model.decode(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"y has values outside \[0, 2\]"):
        model.reconstruct(x, y=y + 1)
    with pytest.raises(ValueError, match="y has 3 conditions for 16 examples"):
        model.score(x, y=y[:3])
    with pytest.raises(ValueError, match="y must hold integers"):
        model.sample(2, y=np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="exactly one of num_classes"):
        ConditionalVAE(SHAPE, 2)
    with pytest.raises(ValueError, match="needs the batch entries"):
        model.loss_terms(x)


def test_class_sample_picture(model, tmp_path):
    path = pictures.class_sample_grid(model, str(tmp_path / "classes.png"), per_class=4, seed=0)
    assert os.path.getsize(path) > 0
    written = pictures.write_run_pictures(model, np.zeros((4,) + SHAPE, np.float32), None, str(tmp_path / "run"))
    assert sorted(os.path.basename(p) for p in written) == ["class_samples.png", "samples.png"]


def test_exported_seeded_conditional_sample_repeats_and_draws_per_row(tmp_path):
    # The harness runs on the "cvae" tiny configuration of keras_ae/models/conditional/presets.py
    # (tests/test_harness_configs.py); here the exported conditional sampler.
    model = _model()
    model.build()
    loaded = tf.saved_model.load(serving.export_saved_model(model, str(tmp_path), "cvae"))
    labels = tf.constant([0, 1, 2, 2], tf.int32)
    seeded = loaded.signatures["sample_seeded"](y=labels, seed=tf.constant(7), temperature=tf.constant(1.0))["x"].numpy()
    again = loaded.signatures["sample_seeded"](y=labels, seed=tf.constant(7), temperature=tf.constant(1.0))["x"].numpy()
    np.testing.assert_array_equal(seeded, again)
    assert np.max(np.abs(seeded[2] - seeded[3])) > 0  # same label, different draws


def test_evaluate_model_is_given_the_labels(model, data):
    x, y = data
    metrics = evaluation.evaluate_model(model, x, num_samples=3, extras={"y": y})
    expected = model.log_likelihood(x, num_samples=3, seed=0, y=y).numpy()  # one batch: seed 0
    np.testing.assert_allclose(metrics["nll"], -expected.mean(), rtol=1e-6)
    reconstruction = np.asarray(model.reconstruct(x, y=y), np.float64)
    np.testing.assert_allclose(metrics["reconstruction_mse"], np.mean((x - reconstruction) ** 2), rtol=1e-6)
    np.testing.assert_allclose(metrics["score"], np.mean(model.score(x, y=y)), rtol=1e-6)
    assert "test_error" not in metrics  # no classifier
    with pytest.raises(ValueError, match="needs the condition y"):
        evaluation.evaluate_model(model, x, num_samples=3)
