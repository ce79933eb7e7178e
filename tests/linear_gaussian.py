"""The linear-Gaussian model with an exact marginal and posterior, shared by the AIS and gap tests.

``z ~ N(0, I_d)``, ``x | z ~ N(W z + b, s^2 I_D)``: ``x ~ N(b, W W^T + s^2 I)`` and
``p(z | x) = N(mu, Lambda^-1)`` with ``Lambda = I + W^T W / s^2``, ``mu = Lambda^-1 W^T (x - b) / s^2``.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

D, LATENT, NOISE = 5, 2, 0.3


def linear_gaussian(seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(D, LATENT)).astype(np.float32)
    b = rng.normal(size=D).astype(np.float32)
    prior = tfd.MultivariateNormalDiag(tf.zeros(LATENT))

    def log_likelihood(x, z):  # z [C, B, d], x [B, D]
        mean = tf.einsum("ij,cbj->cbi", w, z) + b
        return tfd.Independent(tfd.Normal(mean, NOISE), 1).log_prob(x)

    def exact(x):
        cov = w @ w.T + NOISE ** 2 * np.eye(D)
        return tfd.MultivariateNormalTriL(b, np.linalg.cholesky(cov).astype(np.float32)).log_prob(x).numpy()

    def simulate(n, seed):
        z = prior.sample(n, seed=tf.constant([seed, 1])).numpy()
        x = (z @ w.T + b + NOISE * np.random.default_rng(seed).normal(size=(n, D))).astype(np.float32)
        return x, z

    return prior, log_likelihood, exact, simulate


def posterior_precision(seed=0):
    """``Lambda = I + W^T W / s^2`` of the model :func:`linear_gaussian` builds with ``seed``."""
    w = np.random.default_rng(seed).normal(size=(D, LATENT))
    return np.eye(LATENT) + w.T @ w / NOISE ** 2
