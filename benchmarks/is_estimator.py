"""The importance-sampled log-likelihood, in NumPy only: one estimator for every framework compared.

``log p(x) ~ log (1/k) sum_s exp(log p(x|z_s) + log p(z_s) - log q(z_s|x))``, ``z_s ~ q(z|x)``
(Burda et al. 2015, eq. 12). The benchmarks hand it the three log-densities computed by each
framework, so a difference in NLL is a difference in the models, not in the estimator.
"""

import numpy as np


def log_likelihood(log_px_given_z, log_pz, log_qz):
    """Per-example estimate ``[B]`` from ``[k, B]`` arrays of the three log-densities."""
    log_w = np.asarray(log_px_given_z, np.float64) + np.asarray(log_pz, np.float64) - np.asarray(log_qz, np.float64)
    top = log_w.max(axis=0)
    return top + np.log(np.mean(np.exp(log_w - top), axis=0))


def mean_nll(per_example):
    """``(NLL, standard error)`` in nats from per-example log-likelihoods."""
    per_example = np.asarray(per_example, np.float64)
    return float(-per_example.mean()), float(per_example.std(ddof=1) / np.sqrt(len(per_example)))
