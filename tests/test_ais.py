"""Annealed importance sampling against the exact marginal of a linear-Gaussian model, and BDMC.

Model: ``z ~ N(0, I_d)``, ``x | z ~ N(W z + b, s^2 I_D)``, so ``x ~ N(b, W W^T + s^2 I)`` and
``log p(x)`` is known exactly. Tolerances come from the estimator: the standard error of
``log mean_c w_c`` is about ``std_c(w) / (sqrt(C) mean_c(w))`` (the delta method).
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae.evaluation import ais
from tests.linear_gaussian import linear_gaussian

tfd = tfp.distributions

def log_se(log_w):
    """Delta-method standard error of ``log mean exp(log_w)`` over chains (axis 0)."""
    w = np.exp(log_w - log_w.max(axis=0))
    return w.std(axis=0, ddof=1) / (np.sqrt(w.shape[0]) * w.mean(axis=0))


def test_sigmoid_schedule_runs_from_zero_to_one_monotonically():
    betas = ais.sigmoid_schedule(100)
    assert betas[0] == 0.0 and betas[-1] == 1.0 and len(betas) == 101
    assert np.all(np.diff(betas) > 0)


def test_forward_and_reverse_ais_bracket_the_exact_log_likelihood():
    prior, log_likelihood, exact, simulate = linear_gaussian()
    x, z_true = simulate(6, seed=3)
    chains = 16

    def log_joint(z):
        return prior.log_prob(z) + log_likelihood(x, z)

    z0 = prior.sample((chains, len(x)), seed=tf.constant([5, 5]))
    forward = ais.forward_bound(prior.log_prob, log_joint, z0, num_steps=300, seed=7)
    # reverse: start every chain at the exact posterior draw that generated x
    z_post = np.broadcast_to(z_true, (chains,) + z_true.shape)
    reverse = ais.reverse_bound(prior.log_prob, log_joint, z_post, num_steps=300, seed=8)
    truth = exact(x)
    lower, upper = forward.log_marginal.numpy(), reverse.log_marginal.numpy()
    se_lower, se_upper = log_se(forward.log_weights.numpy()), log_se(reverse.log_weights.numpy())
    # each side is a bound in expectation: it may cross the truth by its own noise only
    assert np.all(lower <= truth + 4 * se_lower + 1e-4), (lower, truth, se_lower)
    assert np.all(upper >= truth - 4 * se_upper - 1e-4), (upper, truth, se_upper)
    # and the bracket closes up to that noise: the mean width over the examples is within four of
    # its standard errors, plus the Jensen bias of a log-mean-exp (about se^2 / 2 on each side)
    width = upper - lower
    se = np.sqrt(se_lower ** 2 + se_upper ** 2)
    assert abs(width.mean()) < 4 * np.sqrt(np.sum(se ** 2)) / len(width) + np.mean(se ** 2), (width, se)
    acceptance = forward.acceptance_rate.numpy()
    assert np.all((acceptance > 0.3) & (acceptance < 0.95)), acceptance


def test_more_annealing_steps_tighten_the_forward_bound():
    """With one step AIS is importance sampling from the prior; more steps close the gap."""
    prior, log_likelihood, exact, simulate = linear_gaussian(seed=1)
    x, _ = simulate(8, seed=4)

    def log_joint(z):
        return prior.log_prob(z) + log_likelihood(x, z)

    z0 = prior.sample((8, len(x)), seed=tf.constant([1, 2]))
    results = [ais.forward_bound(prior.log_prob, log_joint, z0, num_steps=t, seed=3) for t in (1, 200)]
    # one step: the weights are the likelihoods of the prior draws, importance sampling from p(z)
    np.testing.assert_allclose(results[0].log_weights.numpy(), log_likelihood(x, z0).numpy(), rtol=1e-5, atol=1e-4)
    gaps = [exact(x) - r.log_marginal.numpy() for r in results]
    se = log_se(results[1].log_weights.numpy())
    assert gaps[0].mean() > 10 * gaps[1].mean(), gaps
    # 200 steps: the remaining gap is noise (and the Jensen bias ~se^2/2 of a log-mean-exp)
    assert gaps[1].mean() < 4 * np.sqrt(np.sum(se ** 2)) / len(se) + np.mean(se ** 2), (gaps[1], se)


@pytest.mark.parametrize("betas,match", [([0.0, 0.5], "from 0 to 1"), ([0.0, 0.7, 0.2, 1.0], "monotonic"),
                                         ([1.0], "from 0 to 1")])
def test_bad_schedules_are_clear_errors(betas, match):
    with pytest.raises(ValueError, match=match):
        ais.annealed_importance_sampling(lambda z: z[..., 0], lambda z: z[..., 0], np.zeros((2, 1, 1)), betas, 0)


def test_state_without_a_chain_axis_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\[chains, batch, \*event\]"):
        ais.forward_bound(lambda z: z[..., 0], lambda z: z[..., 0], np.zeros((2, 3)), 10, 0)


def test_vae_ais_agrees_with_many_sample_importance_sampling_and_repeats_with_a_seed(binary_digits):
    """A briefly trained VAE with a 2-D latent, where importance sampling with k = 4000 is close to
    exact: AIS (8 chains, 200 steps, from the prior) agrees with it on the mean over examples within
    four standard errors (AIS's from two independent runs, IS's by the delta method) plus the
    Jensen bias of each log-mean-exp; the same seed repeats; discrete codes are refused."""
    import keras
    from keras_ae.models import VAE, CategoricalVAE

    x_train, x_test = binary_digits
    model = VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(32,), likelihood="bernoulli", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.fit(x_train[:512], epochs=3, batch_size=64, verbose=0)
    x = x_test[:8]
    runs = [model.log_likelihood(x, num_samples=8, method="ais", ais_steps=200, seed=s).numpy() for s in (1, 2)]
    np.testing.assert_array_equal(runs[0], model.log_likelihood(x, num_samples=8, method="ais", ais_steps=200,
                                                                seed=1).numpy())
    assert runs[0].shape == (8,) and np.all(np.isfinite(runs))
    se_ais = np.std(runs[0] - runs[1], ddof=1) / np.sqrt(2)  # one run's per-example standard error
    log_w = model.log_importance_weights(x, num_samples=4000, seed=3).numpy()
    importance = tf.reduce_logsumexp(log_w, axis=0).numpy() - np.log(4000)
    se_is = log_se(log_w)
    diff = np.mean(np.mean(runs, axis=0) - importance)
    tolerance = 4 * np.sqrt(se_ais ** 2 / 2 + np.mean(se_is ** 2)) / np.sqrt(len(x)) + (se_ais ** 2 + np.mean(se_is ** 2)) / 2
    assert abs(diff) < tolerance, (runs, importance, se_ais, se_is)
    with pytest.raises(ValueError, match="ais_start"):
        model.log_likelihood(x, method="ais", ais_start="nowhere")
    with pytest.raises(ValueError, match="method"):
        model.log_likelihood(x, method="annealing")
    cat = CategoricalVAE(input_shape=(8, 8, 1), num_variables=2, num_classes=3, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match="continuous codes"):
        cat.log_likelihood(x, method="ais")
