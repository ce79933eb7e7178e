"""Latent-matching objectives and models: the MMD estimator against closed forms; WAE-MMD, InfoVAE
and the adversarial autoencoder through the contract harness, with each one's own math checked.

- the U-statistic is unbiased: for equal distributions its average over independent batches is 0
  within 4 standard errors (the standard error measured from the same draws), for both kernels;
- under the RBF kernel it averages to the closed-form ``MMD^2`` of two Gaussians;
- a model's ``mmd`` term is the estimator on its codes and on prior draws.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import models, objectives, testing

SHAPE = (4, 4, 1)


def _u_statistics(sample_x, sample_y, repeats, kernel, scale, multipliers=(1.0,)):
    return np.array([float(objectives.mmd_u_statistic(sample_x(r), sample_y(r), kernel, scale, multipliers))
                     for r in range(repeats)])


@pytest.mark.parametrize("kernel,multipliers", [("imq", (0.1, 1.0, 10.0)), ("rbf", (1.0,))])
def test_mmd_u_statistic_averages_to_zero_for_equal_distributions(kernel, multipliers):
    rng = np.random.default_rng(0)
    d, m, repeats = 3, 64, 200
    draw = lambda r: rng.normal(size=(m, d)).astype("float32")  # noqa: E731
    values = _u_statistics(draw, draw, repeats, kernel, 2.0 * d, multipliers)
    stderr = values.std(ddof=1) / np.sqrt(repeats)
    assert abs(values.mean()) < 4 * stderr
    assert np.any(values < 0)  # unbiased, hence negative at times (the biased V-statistic never is)
    # The check can fail: a shifted distribution is many standard errors away from 0.
    shifted = _u_statistics(draw, lambda r: draw(r) + 0.5, 50, kernel, 2.0 * d, multipliers)
    assert shifted.mean() > 10 * shifted.std(ddof=1) / np.sqrt(50)


def _rbf_gaussian_mmd2(d, s1, s2, delta, c):
    """Closed form of ``MMD^2(N(mu1, s1^2 I), N(mu2, s2^2 I))`` under ``k = exp(-r^2 / c)``."""
    expect = lambda var, shift2: (c / (c + 2 * var)) ** (d / 2) * np.exp(-shift2 / (c + 2 * var))  # noqa: E731
    return expect(2 * s1**2, 0.0) + expect(2 * s2**2, 0.0) - 2 * expect(s1**2 + s2**2, float(np.sum(delta**2)))


def test_mmd_u_statistic_matches_the_closed_form_of_two_gaussians_under_the_rbf_kernel():
    rng = np.random.default_rng(1)
    d, m, n, repeats, c = 2, 48, 32, 300, 3.0
    s1, s2, delta = 1.0, 0.6, np.array([0.7, -0.3])
    values = _u_statistics(lambda r: rng.normal(scale=s1, size=(m, d)).astype("float32"),
                           lambda r: (delta + rng.normal(scale=s2, size=(n, d))).astype("float32"),
                           repeats, "rbf", c)
    expected = _rbf_gaussian_mmd2(d, s1, s2, delta, c)
    stderr = values.std(ddof=1) / np.sqrt(repeats)
    assert abs(values.mean() - expected) < 4 * stderr
    assert expected > 8 * stderr  # the closed form is far from 0 at this precision


def test_mmd_arguments_are_checked():
    with pytest.raises(ValueError, match="kernel must be one of"):
        objectives.mmd_u_statistic(np.zeros((3, 2)), np.zeros((3, 2)), kernel="laplace")
