"""Latent-matching objectives and models: the MMD estimator against closed forms; WAE-MMD, InfoVAE
and the adversarial autoencoder through the contract harness (their digits
recipes in tests/test_zoo_harness.py, SavedModel and TFLite export of every recipe in
tests/test_serving.py), with each one's own math checked.

- the U-statistic is unbiased: for equal distributions its average over independent batches is 0
  within 4 standard errors (the standard error measured from the same draws), for both kernels;
- under the RBF kernel it averages to the closed-form ``MMD^2`` of two Gaussians;
- a model's ``mmd`` term is the estimator on its codes and on prior draws.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import models, objectives

SHAPE = (4, 4, 1)


def _u_statistics(xs, ys, kernel, scale, multipliers=(1.0,)):
    """The U-statistic of each pair of batches ``xs[r]``, ``ys[r]`` (one traced graph for all repeats)."""
    fn = tf.function(lambda a, b: tf.map_fn(
        lambda pair: objectives.mmd_u_statistic(pair[0], pair[1], kernel, scale, multipliers), (a, b),
        fn_output_signature=tf.float32))
    return fn(tf.constant(xs, tf.float32), tf.constant(ys, tf.float32)).numpy().astype(np.float64)


@pytest.mark.parametrize("kernel,multipliers", [("imq", (0.1, 1.0, 10.0)), ("rbf", (1.0,))])
def test_mmd_u_statistic_averages_to_zero_for_equal_distributions(kernel, multipliers):
    rng = np.random.default_rng(0)
    d, m, repeats = 3, 64, 200
    draw = lambda r: rng.normal(size=(r, m, d))  # noqa: E731
    values = _u_statistics(draw(repeats), draw(repeats), kernel, 2.0 * d, multipliers)
    stderr = values.std(ddof=1) / np.sqrt(repeats)
    assert abs(values.mean()) < 4 * stderr
    assert np.any(values < 0)  # unbiased, hence negative at times (the biased V-statistic never is)
    # The check can fail: a shifted distribution is many standard errors away from 0.
    shifted = _u_statistics(draw(50), draw(50) + 0.5, kernel, 2.0 * d, multipliers)
    assert shifted.mean() > 10 * shifted.std(ddof=1) / np.sqrt(50)


def _rbf_gaussian_mmd2(d, s1, s2, delta, c):
    """Closed form of ``MMD^2(N(mu1, s1^2 I), N(mu2, s2^2 I))`` under ``k = exp(-r^2 / c)``."""
    expect = lambda var, shift2: (c / (c + 2 * var)) ** (d / 2) * np.exp(-shift2 / (c + 2 * var))  # noqa: E731
    return expect(2 * s1**2, 0.0) + expect(2 * s2**2, 0.0) - 2 * expect(s1**2 + s2**2, float(np.sum(delta**2)))


def test_mmd_u_statistic_matches_the_closed_form_of_two_gaussians_under_the_rbf_kernel():
    rng = np.random.default_rng(1)
    d, m, n, repeats, c = 2, 48, 32, 300, 3.0
    s1, s2, delta = 1.0, 0.6, np.array([0.7, -0.3])
    values = _u_statistics(rng.normal(scale=s1, size=(repeats, m, d)), delta + rng.normal(scale=s2, size=(repeats, n, d)),
                           "rbf", c)
    expected = _rbf_gaussian_mmd2(d, s1, s2, delta, c)
    stderr = values.std(ddof=1) / np.sqrt(repeats)
    assert abs(values.mean() - expected) < 4 * stderr
    assert expected > 8 * stderr  # the closed form is far from 0 at this precision


def test_mmd_arguments_are_checked():
    with pytest.raises(ValueError, match="kernel must be one of"):
        objectives.mmd_u_statistic(np.zeros((3, 2)), np.zeros((3, 2)), kernel="laplace")


# -- models ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(0).uniform(size=(8,) + SHAPE) > 0.5).astype("float32")


def _model(cls, **kwargs):
    """A tiny built model of the family (4x4 data, 3-D code); the disentangling tests use it too."""
    model = getattr(models, cls)(input_shape=SHAPE, latent_dim=3, hidden_units=(8,), seed=4, **kwargs)
    model.build()
    return model


def test_wae_trains_on_the_codes_and_its_mmd_term_is_the_u_statistic_against_prior_draws(x):
    model = _model("WAE", kernel="imq")
    terms = model.loss_terms(x, training=True)
    codes = model.encode(x).numpy()  # deterministic encoder: the training codes are the means
    prior = model.prior().sample(len(x), seed=model.noise_seed(stream=3))
    expected = objectives.mmd_u_statistic(codes, prior, "imq", 6.0, models.divergences.divergences.WAE_KERNEL_MULTIPLIERS)
    np.testing.assert_allclose(terms["mmd"].numpy(), np.full(len(x), float(expected)), rtol=1e-5, atol=1e-6)
    likelihood = model.likelihood(codes)
    np.testing.assert_allclose(terms["reconstruction"].numpy(), -likelihood.log_prob(x).numpy(), rtol=1e-5)
    np.testing.assert_allclose(model.score(x).numpy(), -likelihood.log_prob(x).numpy(), rtol=1e-5)
    weights = model.loss_weights()
    assert float(weights["kl_objective"]) == 0.0 and weights["mmd"] == 10.0
    with pytest.raises(ValueError, match="alpha is 1 for the WAE"):
        models.WAE(input_shape=SHAPE, latent_dim=2, alpha=0.5)
    assert model.regularizer_part.deterministic_codes and model.regularizer_part.scale == 6.0


def test_infovae_weights_kl_and_mmd_as_zhao_et_al_and_checks_arguments(x):
    model = _model("InfoVAE", alpha=0.25, mmd_weight=5.0, beta=2.0, kernel="rbf", kernel_scale=3.0)
    weights = model.loss_weights()
    assert float(weights["kl_objective"]) == pytest.approx(0.75 * 2.0) and weights["mmd"] == pytest.approx(4.25)
    terms = model.loss_terms(x, training=True)
    record = model._importance_samples(tf.constant(x), 1, model.noise_seed(stream=1), training=True)
    prior = model.prior().sample(len(x), seed=model.noise_seed(stream=3))
    expected = objectives.mmd_u_statistic(record.codes[0], prior, "rbf", 3.0, (1.0,))  # stochastic codes
    np.testing.assert_allclose(terms["mmd"].numpy()[0], float(expected), rtol=1e-5, atol=1e-6)
    assert model.regularizer_part.kernel_multipliers == (1.0,)
    for kwargs, message in ((dict(alpha=1.5), "alpha must be"), (dict(alpha=0.0, mmd_weight=0.5), "weight must be"),
                            (dict(kernel="laplace"), "kernel must be one of"), (dict(num_samples=2), "num_samples must be 1"),
                            (dict(kernel_multipliers=()), "kernel_multipliers must be")):
        with pytest.raises(ValueError, match=message):
            models.InfoVAE(input_shape=SHAPE, latent_dim=2, **kwargs)


def test_adversarial_autoencoder_trains_its_discriminator_on_its_own_optimizer(x):
    model = _model("AdversarialAutoencoder", discriminator_units=(6,))
    group = {id(v) for v in model.parameter_group_variables("discriminator")}
    discriminator = model.regularizer_part.discriminator
    assert group == {id(v) for v in discriminator.trainable_variables} and len(group) == 4
    assert not group & {id(v) for v in model.main_trainable_variables()}
    model.compile()
    opt = model._group_optimizers["discriminator"]
    assert opt.get_config()["learning_rate"] == pytest.approx(5e-4) and opt.get_config()["beta_1"] == 0.5
    # The discriminator's loss: prior draws are "real", the (fixed) codes "fake".
    terms = model._group_loss_terms("discriminator", tf.constant(x), training=True)
    z = model.encode(x)
    prior = model.prior().sample(len(x), seed=model.noise_seed(stream=4))
    real, fake = discriminator(prior)[:, 0].numpy(), discriminator(z)[:, 0].numpy()
    expected = np.logaddexp(0, -real) + np.logaddexp(0, fake)
    np.testing.assert_allclose(terms["discriminator_loss"].numpy(), expected, rtol=1e-5)
    adversarial = model.loss_terms(x, training=True)["adversarial"].numpy()
    np.testing.assert_allclose(adversarial, np.logaddexp(0, -fake), rtol=1e-5)
