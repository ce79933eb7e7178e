"""The hyperspherical VAE (Davidson et al. 2018), added only as parts: a von Mises-Fisher posterior and the
uniform prior on the sphere.

- the model's KL(vMF(mu, kappa) || U(S^{d-1})) equals the closed form computed here with SciPy's
  Bessel functions, ``kappa A_d(kappa) + log C_d(kappa) + log |S^{d-1}|``, across dimensions and
  concentrations, and the Monte Carlo mean of ``log q - log p`` over the sampler's draws agrees
  with it (so the sampler and the density agree);
- gradients through TFP's sampler: exact for d = 3 (inverse-CDF sampling), Davidson et al.'s
  ``g_rep`` without ``g_cor`` otherwise (a measured bias of a few per cent), always to ``mu``;
- the uniform prior's builtin-op sampler is uniform on the sphere (unit norm, ``E[z] = 0``,
  ``E[z z^T] = I / d``);
- the recipes and the refusals. The whole harness (two replicas, save/load, SavedModel; TFLite
  without ``score``, whose Bessel functions have no builtin kernels, which the sidecar says) runs
  on the test configurations ``hyperspherical-vae`` (d = 3) and ``hyperspherical-vae-d5`` in
  ``tests/test_harness_configs*.py``.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy.special import gammaln, ive

from keras_ae import parts
from keras_ae.models import VAE
from keras_ae.presets import RECIPES

tfd = tfp.distributions
SHAPE = (4, 4, 1)


def closed_form_kl(d, kappa):
    """``KL(vMF_d(mu, kappa) || U(S^{d-1}))`` in float64 from SciPy's exponentially scaled Bessel functions.

    ``log C_d(kappa) = (d/2 - 1) log kappa - (d/2) log 2pi - log I_{d/2-1}(kappa)`` is the vMF's log
    normalizer, ``E[mu . z] = A_d(kappa) = I_{d/2}(kappa) / I_{d/2-1}(kappa)``, and
    ``|S^{d-1}| = 2 pi^{d/2} / Gamma(d/2)``; ``log I_v(k) = log ive(v, k) + k``.
    """
    kappa = np.asarray(kappa, np.float64)
    v = d / 2.0 - 1.0
    log_iv = np.log(ive(v, kappa)) + kappa
    mean_resultant = ive(d / 2.0, kappa) / ive(v, kappa)
    log_c = v * np.log(kappa) - (d / 2.0) * np.log(2 * np.pi) - log_iv
    log_area = np.log(2.0) + (d / 2.0) * np.log(np.pi) - gammaln(d / 2.0)
    return kappa * mean_resultant + log_c + log_area


def hyperspherical(latent_dim=3, **kwargs):
    return VAE(input_shape=SHAPE, latent_dim=latent_dim, hidden_units=(8,), posterior="von_mises_fisher",
               prior="spherical_uniform", seed=3, **kwargs)


@pytest.mark.parametrize("d", [2, 3, 5, 10, 32])
def test_kl_to_the_uniform_prior_equals_the_closed_form(d):
    kappas = np.array([0.05, 0.5, 2.0, 10.0, 50.0, 300.0], np.float32)
    model = hyperspherical(latent_dim=d)
    mu = tf.math.l2_normalize(tf.constant(np.random.default_rng(d).normal(size=(len(kappas), d)), tf.float32), -1)
    q = tfd.VonMisesFisher(mu, kappas)
    assert model.analytic_kl
    kl = model.kl(q).numpy().astype(np.float64)
    expected = closed_form_kl(d, kappas.astype(np.float64))
    # float32 evaluation of terms of size ~kappa that cancel: error ~ a few ulps of kappa
    tolerance = 1e-5 + 8 * np.finfo(np.float32).eps * (kappas + np.abs(expected))
    assert np.all(np.abs(kl - expected) <= tolerance), (kl, expected)
    assert np.all(np.diff(expected) > 0)  # the closed form grows with the concentration: the check can fail


@pytest.mark.parametrize("d", [3, 8])
def test_monte_carlo_kl_of_the_sampler_agrees_with_the_closed_form(d):
    kappas = np.array([1.0, 10.0, 100.0], np.float32)
    mu = tf.math.l2_normalize(tf.ones([3, d]), -1)
    q, p = tfd.VonMisesFisher(mu, kappas), tfd.SphericalUniform(d)
    n = 20000
    z = q.sample(n, seed=(4, d))
    np.testing.assert_allclose(np.linalg.norm(z.numpy(), axis=-1), 1.0, atol=1e-5)
    ratio = (q.log_prob(z) - p.log_prob(z)).numpy().astype(np.float64)  # [n, 3]
    se = ratio.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(ratio.mean(0) - closed_form_kl(d, kappas)) < 4 * se + 1e-4)


def _mean_resultant_gradient(d, kappa):
    """``dA_d/dkappa = 1 - A^2 - (d - 1) A / kappa``, the derivative of ``E[mu . z]`` (checked by finite differences)."""
    a = ive(d / 2, kappa) / ive(d / 2 - 1, kappa)
    h = 1e-4 * kappa
    numeric = (ive(d / 2, kappa + h) / ive(d / 2 - 1, kappa + h) - ive(d / 2, kappa - h) / ive(d / 2 - 1, kappa - h)) / (2 * h)
    exact = 1 - a * a - (d - 1) * a / kappa
    assert abs(numeric - exact) < 1e-6 * max(1.0, abs(exact)) + 1e-8
    return exact


def _sampled_gradient(d, kappa, replicas=40, n=2000):
    """Per-replica mean of ``d(mu . z)/dkappa`` over ``n`` draws of TFP's sampler: ``[replicas]``."""
    mu = tf.constant(np.eye(d)[0][None].repeat(replicas, 0), tf.float32)
    k = tf.Variable(np.full(replicas, kappa, np.float32))
    with tf.GradientTape() as tape:
        z = tfd.VonMisesFisher(mu, k).sample(n, seed=(3, d))
        f = tf.reduce_sum(tf.reduce_mean(z[..., 0], axis=0))
    return tape.gradient(f, k).numpy().astype(np.float64)


def test_gradients_flow_through_tfps_sampler_exactly_in_three_dimensions_and_without_g_cor_above():
    # TFP declares the d = 3 sampler fully reparameterized and every other one not, yet gradients flow in both
    assert tfd.VonMisesFisher(tf.one_hot(0, 3), 1.0).reparameterization_type == tfd.FULLY_REPARAMETERIZED
    assert tfd.VonMisesFisher(tf.one_hot(0, 5), 1.0).reparameterization_type == tfd.NOT_REPARAMETERIZED
    for kappa in (1.0, 10.0):  # d = 3: inverse-CDF sampling of w, an exact reparameterization
        g = _sampled_gradient(3, kappa)
        assert abs(g.mean() - _mean_resultant_gradient(3, kappa)) < 4 * g.std(ddof=1) / np.sqrt(len(g))
    # d > 3: Wood's rejection sampler; the gradient reaches kappa through the accepted proposal's b(kappa)
    # (Davidson et al.'s g_rep) but not through the acceptance step (their g_cor): measured -2% to -10%.
    g = _sampled_gradient(5, 10.0)
    exact = _mean_resultant_gradient(5, 10.0)
    se = g.std(ddof=1) / np.sqrt(len(g))
    assert np.sign(g.mean()) == np.sign(exact) and abs(g.mean() - exact) < 0.15 * abs(exact)
    assert abs(g.mean() - exact) > 10 * se  # the missing g_cor, well outside the noise
    # the mean direction gets its gradient through the Householder rotation
    mu = tf.Variable(tf.math.l2_normalize(tf.constant([[1.0, 2.0, 3.0, 4.0, 5.0]]), -1))
    with tf.GradientTape() as tape:
        z = tfd.VonMisesFisher(mu, [5.0]).sample(100, seed=(1, 2))
        f = tf.reduce_sum(z[..., 0])
    grad = tape.gradient(f, mu).numpy()
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_the_uniform_priors_builtin_sampler_is_uniform_on_the_sphere():
    model = hyperspherical(latent_dim=4)
    model.build()
    n = 20000
    for seed in (tf.constant([5, 6]), None):  # seeded (model.sample) and fresh (the exported sample)
        z = model._prior_codes(n, seed).numpy().astype(np.float64)
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
        # each coordinate has mean 0 and variance 1/d; z_i z_j has variance <= E[z_i^2] = 1/d
        assert np.all(np.abs(z.mean(0)) < 4 * np.sqrt(1 / 4 / n))
        second = z.T @ z / n
        assert np.all(np.abs(second - np.eye(4) / 4) < 4 * np.sqrt(1 / 4 / n))
    log_p = model.prior().log_prob(tf.constant(z[:3], tf.float32)).numpy()
    np.testing.assert_allclose(log_p, gammaln(2.0) - np.log(2.0) - 2.0 * np.log(np.pi), rtol=1e-5)


@pytest.mark.slow
def test_the_hyperspherical_vae_codes_are_on_the_sphere_and_its_bound_holds(binary_digits):
    x = binary_digits[1][:16].reshape(16, 8, 8, 1)
    model = VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), posterior="von_mises_fisher",
                prior="spherical_uniform", seed=0)
    model.compile(optimizer="adam")
    model.fit(binary_digits[0][:256], epochs=2, batch_size=32, verbose=0)
    codes = model.encode(x).numpy()
    np.testing.assert_allclose(np.linalg.norm(codes, axis=1), 1.0, atol=1e-5)
    outputs = model.encode_outputs(x)
    assert set(outputs) == {"code", "concentration"} and np.all(outputs["concentration"].numpy() >= 1.0)
    terms = model.loss_terms(x)
    q = model.posterior(x)
    np.testing.assert_allclose(terms["kl"].numpy(), closed_form_kl(3, q.concentration.numpy().astype(np.float64)),
                               rtol=1e-4, atol=1e-5)
    elbo = np.mean([model.log_likelihood(x, num_samples=1, seed=s).numpy() for s in range(10)], axis=0)
    log_px = model.log_likelihood(x, num_samples=500, seed=1).numpy()
    assert log_px.mean() > elbo.mean()  # importance sampling tightens the bound
    samples = model.sample(4, seed=1).numpy()
    assert samples.shape == (4, 8, 8, 1) and np.all((samples >= 0) & (samples <= 1))
    with pytest.raises(ValueError, match="codes are sphere"):
        model.log_likelihood(x, method="ais")


def test_refusals_of_the_sphere():
    with pytest.raises(ValueError, match=r"latent_dim must be >= 2 for VonMisesFisherPosterior\(\) \(a sphere"):
        VAE(input_shape=SHAPE, latent_dim=1, posterior="von_mises_fisher", prior="spherical_uniform")
    with pytest.raises(ValueError, match="sphere space"):
        VAE(input_shape=SHAPE, latent_dim=3, posterior="von_mises_fisher", prior="mixture")
    with pytest.raises(ValueError, match="free_bits must be 0 with VonMisesFisherPosterior"):
        VAE(input_shape=SHAPE, latent_dim=3, posterior="von_mises_fisher", prior="spherical_uniform", free_bits=0.1)
    with pytest.raises(ValueError, match="total-correlation split needs a diagonal Gaussian posterior"):
        VAE(input_shape=SHAPE, latent_dim=3, posterior="von_mises_fisher", prior="spherical_uniform",
            regularizer="total_correlation")


def test_the_recipes_are_the_vae_recipes_with_the_spherical_parts():
    for dataset in ("digits", "mnist"):
        recipe, base = RECIPES[f"hyperspherical-vae-{dataset}"], RECIPES[f"vae-{dataset}"]
        assert recipe.model == "VAE" and recipe.dataset == dataset
        assert {k: v for k, v in recipe.model_args.items() if k not in ("posterior", "prior")} == base.model_args
        assert (recipe.model_args["posterior"], recipe.model_args["prior"]) == ("von_mises_fisher", "spherical_uniform")
        assert (recipe.epochs, recipe.batch_size, recipe.learning_rate, recipe.binarize) == (
            base.epochs, base.batch_size, base.learning_rate, base.binarize)


def test_xla_is_declared_only_where_it_compiles_the_samplers_gradient():
    # d = 3: inverse-CDF sampling; otherwise a rejection loop whose gradient XLA cannot compile
    assert hyperspherical(latent_dim=3).supports_xla and not hyperspherical(latent_dim=5).supports_xla
    assert VAE(input_shape=SHAPE, latent_dim=5, hidden_units=(8,)).supports_xla
