"""The likelihood of test data: importance-sampled (IS) and annealed (AIS) ``log p(x)``, and the ELBO.

Both go through the model's own contract (``model.log_likelihood``, ``model.importance_samples``),
in batches so that memory stays bounded for any test set and any number of samples; the AIS
sampler itself is :mod:`keras_ae.evaluation.ais`.
"""

import numpy as np
import tensorflow as tf

from keras_ae.evaluation.batching import batch_seed, batches_with, checked_array


def log_likelihood(model, x, num_samples=1000, batch_size=100, seed=0, method="importance", ais_steps=1000,
                   ais_start="prior", condition=None):
    """Estimated ``log p(x)`` per example, in nats: importance sampling or AIS.

    ``method="importance"`` (Burda et al. 2015, eq. 12): ``log p(x) ~ log (1/k) sum_s p(x|z_s)
    p(z_s) / q(z_s|x)`` with ``k = num_samples`` samples of ``q(z|x)``: a lower bound in
    expectation that tightens as ``k`` grows (k = 1 is the ELBO). ``method="ais"``: ``k``
    annealed importance sampling chains of ``ais_steps`` HMC transitions from the prior
    (:mod:`keras_ae.evaluation.ais`), also a lower bound in expectation, tight as the steps grow. The data go
    through in batches of ``batch_size`` and the model draws the samples in chunks, so memory does
    not grow with ``k``.

    Args:
        model: a probabilistic model (``VAE``, ``IWAE``, ``CategoricalVAE``, ...).
        x: test array ``[N, *input_shape]``.
        num_samples: ``k`` (samples, or AIS chains), default 1000.
        batch_size: examples per batch, default 100.
        seed: integer seed of the importance samples, default 0 (same seed, same estimate).
        method: ``"importance"`` (default) or ``"ais"``.
        ais_steps: AIS transitions, default 1000.
        ais_start: the AIS initial distribution, ``"prior"`` (default) or ``"posterior"``.
        condition: a conditional model's conditions ``{"y": [N, ...]}`` (then ``log p(x | y)``), or None.

    Returns:
        float64 array ``[N]``; the test NLL is ``-mean``.

    Example: ``nll = -evaluation.log_likelihood(model, x_test, num_samples=1000).mean()``.
    """
    x = checked_array(model, x)
    out = [model.log_likelihood(batch, num_samples=num_samples, seed=seed + i, method=method,
                                ais_steps=ais_steps, ais_start=ais_start, **given).numpy()
           for i, (batch, given) in enumerate(batches_with(x, condition, batch_size))]
    return np.concatenate(out).astype(np.float64) if out else np.zeros([0])


def elbo(model, x, num_samples=10, batch_size=256, seed=0, condition=None):
    """The ELBO per example, split as ``elbo = -(reconstruction + kl)`` (nats).

    ``reconstruction = E_q[-log p(x|z)]`` estimated with ``num_samples`` samples of ``q(z|x)``;
    ``kl = KL(q(z|x) || p(z))`` in closed form where TFP has one (else Monte Carlo); for a
    semi-supervised model without labels, the Monte Carlo ``KL(q(y, z|x) || p(y, z))`` of the
    label and code drawn together.

    Args:
        model: a probabilistic model (it has ``importance_samples`` and ``kl``).
        x: test array ``[N, *input_shape]``.
        num_samples: samples of ``q`` for the reconstruction term, default 10.
        batch_size: examples per batch, default 256.
        seed: integer seed, default 0.
        condition: a conditional model's conditions ``{"y": [N, ...]}``, or None.

    Returns:
        ``{"elbo", "reconstruction", "kl"}``, each a float64 array ``[N]``; a model with several
        stochastic layers (``latent_layers``, e.g. :class:`~keras_ae.models.TwoLayerVAE`) adds
        ``kl_<layer>`` for each, from its ``kl_per_layer`` with ``num_samples`` fresh draws per
        example (``kl`` is their sum; a layer without a closed form is Monte Carlo, and fresh draws
        keep its error independent across examples, so the test mean converges).

    Example: ``parts = evaluation.elbo(model, x_test); parts["elbo"].mean()``.
    """
    model.require("is_probabilistic", "evaluation.elbo")
    x = checked_array(model, x)
    parts = {"reconstruction": [], "kl": []}
    layers = model.capabilities()["latent_layer_names"]
    for i, (batch, given) in enumerate(batches_with(x, condition, batch_size)):
        record = model.importance_samples(batch, num_samples, seed=batch_seed(seed, i), **given)
        parts["reconstruction"].append(-tf.reduce_mean(record.log_px_given_z, axis=0).numpy())
        if layers:  # a hierarchy: the KL of each stochastic layer (fresh draws for every batch), and their sum
            kl = model.kl_per_layer(record.posterior, seed=batch_seed(seed + 1, i), num_samples=num_samples)
            for name, value in kl.items():
                parts.setdefault(f"kl_{name}", []).append(value.numpy())
            parts["kl"].append(sum(parts[f"kl_{name}"][-1] for name in layers))
        elif record.posterior is None:
            # A joint proposal without one posterior object (a semi-supervised model draws the
            # label with z when y is not given): KL(q(y, z|x) || p(y, z)), Monte Carlo over the draws.
            parts["kl"].append(tf.reduce_mean(record.log_qz - record.log_pz, axis=0).numpy())
        else:
            parts["kl"].append(model.kl(record.posterior).numpy())  # the model decides: analytic or Monte Carlo
    parts = {k: np.concatenate(v).astype(np.float64) for k, v in parts.items()}
    parts["elbo"] = -(parts["reconstruction"] + parts["kl"])
    return parts
