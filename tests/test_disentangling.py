"""Disentangling objectives and models: total-correlation estimators and permute-dims against what
they must give; beta-TCVAE, FactorVAE, DIP-VAE and controlled capacity through the contract harness (their digits
recipes in tests/test_zoo_harness.py, SavedModel and TFLite export of every recipe in
tests/test_serving.py), with each one's own math checked here.

- the minibatch-weighted and -stratified estimates of the total correlation approach the analytic
  TC of a correlated Gaussian aggregate posterior as the batch grows (the error shrinks to within
  4 standard errors of the repeats, and the spread of the estimate shrinks);
- the KL decomposition sums to ``log q(z|x) - log p(z)`` exactly;
- permute-dims keeps every marginal exactly and breaks the correlation;
- the stratified weights are a distribution per row.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import models, objectives
from tests.test_divergences import SHAPE, _model, x  # noqa: F401 (x is a fixture)


def _gaussian_aggregate(rng, batch, cov, scale):
    """A batch from ``q(z|x) = N(mu(x), scale^2 I)`` with ``mu ~ N(0, cov)``: ``q(z) = N(0, cov + scale^2 I)``."""
    loc = rng.multivariate_normal(np.zeros(len(cov)), cov, size=batch).astype("float32")
    return loc + scale * rng.standard_normal(loc.shape).astype("float32"), loc


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_total_correlation_estimate_approaches_the_analytic_tc_of_a_correlated_gaussian(estimator):
    rng = np.random.default_rng(0)
    cov0, scale = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]]), 0.5
    cov = cov0 + scale**2 * np.eye(3)
    analytic = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    estimates = {}
    for batch, repeats in ((32, 12), (2048, 4)):
        values = []
        for _ in range(repeats):
            z, loc = _gaussian_aggregate(rng, batch, cov0, scale)
            terms = objectives.kl_decomposition(z, loc, np.full_like(loc, scale), np.zeros_like(loc), estimator,
                                                dataset_size=10**9)
            values.append(float(tf.reduce_mean(terms["total_correlation"])))
        estimates[batch] = np.array(values)
    large = estimates[2048]
    assert abs(large.mean() - analytic) < 4 * large.std(ddof=1) / np.sqrt(len(large)) + 0.01
    assert large.std(ddof=1) < estimates[32].std(ddof=1) / 3


def test_kl_decomposition_sums_to_the_one_sample_kl_and_checks_its_estimator():
    rng = np.random.default_rng(1)
    z, loc = _gaussian_aggregate(rng, 16, np.eye(2), 0.7)
    scale = np.full_like(loc, 0.7)
    prior = tf.constant(-0.5 * z**2 - 0.5 * np.log(2 * np.pi))
    for estimator in ("mws", "mss"):
        terms = objectives.kl_decomposition(z, loc, scale, prior, estimator, dataset_size=100)
        total = sum(terms.values()).numpy()
        log_q = np.sum(-0.5 * ((z - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi), axis=1)
        np.testing.assert_allclose(total, log_q - prior.numpy().sum(1), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="needs dataset_size"):
        objectives.kl_decomposition(z, loc, scale, prior, "mss")
    with pytest.raises(ValueError, match="estimator must be one of"):
        objectives.kl_decomposition(z, loc, scale, prior, "mc")


def test_stratified_weights_are_a_distribution_per_row():
    w = np.exp(objectives.stratified_log_weights(6, 50).numpy())
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.diag(w), 1 / 50, rtol=1e-5)


def test_permute_dims_keeps_every_marginal_exactly_and_breaks_the_dependence():
    rng = np.random.default_rng(2)
    z = rng.multivariate_normal([0, 0, 0], [[1, 0.9, 0.9], [0.9, 1, 0.9], [0.9, 0.9, 1]], size=4000).astype("float32")
    permuted = objectives.permute_dims(z, tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(np.sort(permuted, axis=0), np.sort(z, axis=0))  # every marginal, exactly
    assert np.all(np.abs(np.corrcoef(permuted.T)[np.triu_indices(3, 1)]) < 4 / np.sqrt(4000))
    assert not np.array_equal(permuted[:, 0], z[:, 0])
    np.testing.assert_array_equal(permuted, objectives.permute_dims(z, tf.constant([3, 4])).numpy())  # seeded


# -- models ------------------------------------------------------------------------------------
def test_beta_tcvae_terms_decompose_the_sampled_kl_and_weight_the_tc(x):
    model = _model("BetaTCVAE", beta=6.0, estimator="mss", dataset_size=50)
    terms = model.loss_terms(x, training=True)
    record = model._importance_samples(tf.constant(x), 1, model.noise_seed(stream=1), training=True)
    parts = terms["mutual_information"] + terms["total_correlation"] + terms["dimension_kl"]
    np.testing.assert_allclose(parts.numpy(), (record.log_qz - record.log_pz).numpy()[0], rtol=1e-4, atol=1e-4)
    weights = model.loss_weights()
    assert [float(weights[k]) for k in ("mutual_information", "total_correlation", "dimension_kl")] == [1.0, 6.0, 1.0]
    with pytest.raises(ValueError, match="needs dataset_size"):
        models.BetaTCVAE(input_shape=SHAPE, latent_dim=2, estimator="mss")
    with pytest.raises(ValueError, match="estimator must be one of"):
        models.BetaTCVAE(input_shape=SHAPE, latent_dim=2, estimator="exact")


def test_factorvae_discriminator_tells_codes_from_their_permute_dims_shuffle(x):
    model = _model("FactorVAE", discriminator_units=(6, 6))
    group = {id(v) for v in model.parameter_group_variables("discriminator")}
    assert not group & {id(v) for v in model.main_trainable_variables()}
    model.compile()
    assert model._group_optimizers["discriminator"].get_config()["beta_2"] == pytest.approx(0.9)
    terms = model._group_loss_terms("discriminator", tf.constant(x), training=True)
    record = model._importance_samples(tf.constant(x), 1, model.noise_seed(stream=1), training=True)
    z = record.codes[0]
    shuffled = objectives.permute_dims(z, model.noise_seed(stream=5))
    discriminator = model.regularizer_part.discriminator
    real, fake = discriminator(z)[:, 0].numpy(), discriminator(shuffled)[:, 0].numpy()
    np.testing.assert_allclose(terms["discriminator_loss"].numpy(), np.logaddexp(0, -real) + np.logaddexp(0, fake),
                               rtol=1e-5)
    np.testing.assert_allclose(model.loss_terms(x, training=True)["total_correlation"].numpy(), real, rtol=1e-5)
    assert model.loss_weights()["total_correlation"] == 10.0


def test_factorvae_discriminator_learning_rate_reaches_its_default_optimizer():
    model = _model("FactorVAE", discriminator_units=(6,), discriminator_learning_rate=3e-3)
    model.compile()
    config = model._group_optimizers["discriminator"].get_config()
    assert config["learning_rate"] == pytest.approx(3e-3) and config["beta_1"] == pytest.approx(0.5)
    default = models.FactorVAE(input_shape=SHAPE, latent_dim=2, discriminator_units=(6,))
    default.compile()
    assert default._group_optimizers["discriminator"].get_config()["learning_rate"] == pytest.approx(1e-4)
    clone = models.VAE.from_config(model.get_config())  # a named configuration: a VAE with its parts
    assert clone.regularizer_part.learning_rate == pytest.approx(3e-3)
    clone.compile()
    assert clone._group_optimizers["discriminator"].get_config()["learning_rate"] == pytest.approx(3e-3)
    with pytest.raises(ValueError, match="learning_rate must be"):
        models.FactorVAE(input_shape=SHAPE, latent_dim=2, discriminator_learning_rate=0.0)


@pytest.mark.parametrize("dip_type", ["i", "ii"])
def test_dip_vae_penalty_is_the_covariance_penalty_of_the_aggregate_posterior(dip_type, x):
    model = _model("DIPVAE", dip_type=dip_type, lambda_od=2.0)
    outputs = model.encode_outputs(x)
    mean, scale = outputs["mean"].numpy().astype(np.float64), outputs["scale"].numpy().astype(np.float64)
    cov = np.cov(mean.T, bias=True) + (np.diag(np.mean(scale**2, axis=0)) if dip_type == "ii" else 0.0)
    lambda_d = 20.0 if dip_type == "i" else 2.0
    expected = 2.0 * (np.sum(cov**2) - np.sum(np.diag(cov) ** 2)) + lambda_d * np.sum((np.diag(cov) - 1) ** 2)
    penalty = model.loss_terms(x, training=True)["dip_penalty"].numpy()
    np.testing.assert_allclose(penalty, np.full(len(x), expected), rtol=1e-4)
    with pytest.raises(ValueError, match="dip_type must be one of"):
        models.DIPVAE(input_shape=SHAPE, latent_dim=2, dip_type="iii")


def test_capacity_vae_targets_c_and_the_schedule_raises_c_in_the_train_step(x):
    from keras_ae.callbacks import KLWarmup

    model = _model("CapacityVAE", gamma=5.0, capacity=2.0)
    terms = model.loss_terms(x, training=True)
    np.testing.assert_allclose(terms["capacity_penalty"].numpy(), abs(terms["kl"].numpy().mean() - 2.0), rtol=1e-5)
    model.compile(optimizer="sgd", steps_per_execution=2)
    model.fit(x, batch_size=2, epochs=2, verbose=0,  # 8 steps; C goes 0 -> 8 over 4 epochs: 0.5 nats per step
              callbacks=[KLWarmup(epochs=4, start=0.0, end=8.0, variable="capacity")])
    assert float(model.capacity.numpy()) == pytest.approx(3.5)  # the value of the last step (step 7)
    with pytest.raises(ValueError, match="beta must be 1 for the capacity objective"):
        models.CapacityVAE(input_shape=SHAPE, latent_dim=2, beta=4.0)
