"""The amortization-gap tool: the approximation gap against its closed form, the split, and the model path.

On the linear-Gaussian model (tests/linear_gaussian.py) the exact posterior is ``N(mu, Lambda^-1)``.
The best factorized Gaussian under the ELBO (reverse KL) has the exact mean and variances
``1 / Lambda_ii``, so its approximation gap is ``KL(q* || p(z|x)) = (sum_i log Lambda_ii -
log det Lambda) / 2`` for every example. Tolerances: four standard errors of the Monte Carlo ELBO,
plus the optimiser's residual (the ELBO is quadratic at its optimum, so an Adam jitter of size
``lr`` in the parameters costs O(lr^2) nats; 0.01 covers it at the tests' lr = 0.01 with room).
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_ae.evaluation import gaps
from tests.linear_gaussian import linear_gaussian, posterior_precision

OPTIMIZER_RESIDUAL = 0.01


def _problem(n=4):
    prior, log_likelihood, exact, simulate = linear_gaussian()
    x, _ = simulate(n, seed=11)

    def log_joint(z):
        return prior.log_prob(z) + log_likelihood(x, z)

    return x, log_joint, exact(x)


def test_the_gaussian_family_reaches_the_closed_form_approximation_gap():
    x, log_joint, log_px = _problem()
    precision = posterior_precision()
    gap = 0.5 * (np.sum(np.log(np.diag(precision))) - np.linalg.slogdet(precision)[1])
    assert gap > 0.1  # the posterior is correlated enough for the test to mean something
    start = np.zeros((len(x), 2), np.float32), np.ones((len(x), 2), np.float32)  # the prior: far off
    local = gaps.optimize_local_posterior(log_joint, *start, family="gaussian", steps=1500, learning_rate=0.01,
                                          seed=1)
    elbo, se = gaps.elbo_estimate(log_joint, local.distribution, 4000, seed=2)
    np.testing.assert_array_less(np.abs(log_px - elbo - gap), 4 * se + OPTIMIZER_RESIDUAL)
    # the optimum itself: the exact posterior mean and the inverse diagonal precision
    np.testing.assert_allclose(local.distribution.stddev().numpy(),
                               np.broadcast_to(1 / np.sqrt(np.diag(precision)), (len(x), 2)), rtol=0.05)


@pytest.mark.slow
def test_the_flow_family_closes_part_of_the_gap_and_never_loses_to_the_gaussian():
    x, log_joint, log_px = _problem()
    start = np.zeros((len(x), 2), np.float32), np.ones((len(x), 2), np.float32)
    gaussian = gaps.optimize_local_posterior(log_joint, *start, family="gaussian", steps=1500, learning_rate=0.01,
                                             seed=1)
    flow = gaps.optimize_local_posterior(log_joint, *start, family="flow", steps=800, flow_steps=4,
                                         learning_rate=0.01, seed=1)
    elbo_g, se_g = gaps.elbo_estimate(log_joint, gaussian.distribution, 4000, seed=2)
    elbo_f, se_f = gaps.elbo_estimate(log_joint, flow.distribution, 4000, seed=3)
    noise = 4 * np.sqrt(se_g ** 2 + se_f ** 2) + OPTIMIZER_RESIDUAL
    assert np.all(elbo_f >= elbo_g - noise), (elbo_f, elbo_g, noise)
    assert np.mean(elbo_f - elbo_g) > 0.05, (elbo_f, elbo_g)  # planar flows can bend towards the correlation
    assert np.all(elbo_f <= log_px + 4 * se_f), (elbo_f, log_px)  # still a lower bound


def test_local_optimisation_checks_its_arguments():
    _, log_joint, _ = _problem()
    with pytest.raises(ValueError, match="family"):
        gaps.optimize_local_posterior(log_joint, np.zeros((4, 2)), np.ones((4, 2)), family="full")
    with pytest.raises(ValueError, match="init_mean and init_scale"):
        gaps.optimize_local_posterior(log_joint, np.zeros((4, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="positive"):
        gaps.optimize_local_posterior(log_joint, np.zeros((4, 2)), np.zeros((4, 2)))


def test_gap_split_of_a_trained_vae_adds_up_and_each_gap_is_nonnegative(binary_digits):
    import keras
    from keras_ae.models import VAE

    x_train, x_test = binary_digits
    model = VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(32,), likelihood="bernoulli", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.fit(x_train[:512], epochs=3, batch_size=64, verbose=0)
    x = x_test[:16]
    out = gaps.inference_gaps(model, x, families=("gaussian",), steps=300, elbo_samples=500,
                              log_px_method="importance", log_px_samples=2000, seed=0)
    np.testing.assert_allclose(out["approximation_gap_gaussian"] + out["amortization_gap_gaussian"],
                               out["inference_gap"], rtol=0, atol=1e-9)
    # each gap is non-negative up to its Monte Carlo noise (the IS estimate of log p(x) is itself
    # a lower bound, so the approximation gap may dip below zero by the IS noise too)
    noise = 4 * np.sqrt(out["elbo_gaussian_se"] ** 2 + out["elbo_amortized_se"] ** 2)
    assert np.all(out["amortization_gap_gaussian"] >= -noise)
    assert np.mean(out["amortization_gap_gaussian"]) > 0
    assert np.all(out["approximation_gap_gaussian"] >= -4 * out["elbo_gaussian_se"] - 0.5)
    with pytest.raises(ValueError, match="families"):
        gaps.inference_gaps(model, x, families=("full",))


def test_models_without_a_continuous_posterior_are_refused():
    from keras_ae.models import Autoencoder

    model = Autoencoder(input_shape=(4,), latent_dim=2, hidden_units=(8,))
    with pytest.raises(ValueError, match="does not declare is_probabilistic"):
        gaps.inference_gaps(model, np.zeros((2, 4), np.float32))
