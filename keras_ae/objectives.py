"""Loss terms written once and shared by every model family.

Every function returns one value per example (shape ``[B]``): the base model averages over the
global batch, so the loss is right under ``tf.distribute``.
"""

from typing import Any, NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def _sum_over_event(values):
    """Sum ``[B, ...]`` over every axis but the batch axis -> ``[B]``."""
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def squared_error(x, x_hat):
    """Per-example sum of squared errors ``||x - x_hat||^2`` (a Gaussian likelihood up to constants)."""
    x = tf.cast(x, tf.float32)
    return _sum_over_event(tf.square(x - tf.cast(x_hat, tf.float32)))


def bernoulli_cross_entropy(x, logits):
    """Per-example binary cross-entropy ``-sum[x log p + (1 - x) log(1 - p)]``, ``p = sigmoid(logits)``.

    Computed from logits, which is exact and stable for any target in [0, 1].
    """
    x = tf.cast(x, tf.float32)
    return _sum_over_event(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=tf.cast(logits, tf.float32)))


def l1_penalty(code):
    """Per-example ``sum_j |z_j|`` (Ng 2011, sparse autoencoder with an L1 code penalty)."""
    return _sum_over_event(tf.abs(tf.cast(code, tf.float32)))


def bernoulli_kl(rho, rho_hat, eps=1e-6):
    """``KL(Bernoulli(rho) || Bernoulli(rho_hat))`` elementwise (TFP's closed form), for target activations.

    ``rho_hat`` is clipped to ``[eps, 1 - eps]`` so that a dead or saturated unit gives a large
    finite penalty rather than an infinite one.
    """
    rho_hat = tf.clip_by_value(tf.cast(rho_hat, tf.float32), eps, 1.0 - eps)
    rho = tf.cast(rho, tf.float32) * tf.ones_like(rho_hat)
    return tfd.kl_divergence(tfd.Bernoulli(probs=rho), tfd.Bernoulli(probs=rho_hat))


def target_activation_penalty(code, rho):
    """``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the batch-mean activation of unit j.

    The penalty is a property of the batch; it is returned once per example (broadcast) so that
    the batch average of the per-example loss equals it. Under ``tf.distribute`` each replica
    uses its own slice of the batch for ``rho_hat``.
    """
    code = tf.cast(code, tf.float32)
    rho_hat = tf.reduce_mean(code, axis=0)
    penalty = tf.reduce_sum(bernoulli_kl(rho, rho_hat))
    return tf.fill([tf.shape(code)[0]], penalty)


def jacobian_frobenius_sq(fn, x):
    """Per-example squared Frobenius norm of the Jacobian of ``fn`` at ``x``, computed exactly.

    ``fn`` maps ``[B, *data_shape]`` to ``[B, K]`` with examples independent; the Jacobian of each
    example is ``[K, prod(data_shape)]`` (Rifai et al. 2011, contractive autoencoders).
    """
    x = tf.convert_to_tensor(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(fn(x), tf.float32)
    jac = tape.batch_jacobian(y, x)  # [B, K, *data_shape]
    return _sum_over_event(tf.square(jac))


# -- regularized autoencoders ----------------------------------------------------------------
# Ghosh et al. 2020, "From variational to deterministic autoencoders" (RAE).


def l2_code_penalty(code):
    """Per-example ``0.5 * ||z||^2``: the RAE code penalty, the KL of a fixed-variance VAE up to a constant."""
    return 0.5 * _sum_over_event(tf.square(tf.cast(code, tf.float32)))


def squared_weight_norm(variables, batch_like):
    """``sum_v ||v||^2`` over ``variables`` (weight decay), returned once per example of ``batch_like``.

    A property of the weights, not of an example: broadcast so that the batch average of the
    per-example loss equals it, also under ``tf.distribute``.
    """
    total = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])
    return tf.fill([tf.shape(batch_like)[0]], total)


def jacobian_frobenius_sq_forward(fn, z):
    """Per-example ``||J_fn(z)||_F^2`` in forward mode: exact and cheap when ``z`` has few dimensions.

    ``fn`` maps ``[B, D]`` to ``[B, ...]`` with examples independent (a decoder). Column ``j`` of
    each Jacobian is the directional derivative along ``e_j``, so one pass of ``fn`` over ``D``
    copies of the batch, each pushing its own basis tangent, gives every column; reverse mode
    (:func:`jacobian_frobenius_sq`) would need one backward pass per output value instead.
    """
    z = tf.convert_to_tensor(z, tf.float32)
    batch, dim = tf.shape(z)[0], int(z.shape[-1])
    z_copies = tf.tile(z, [dim, 1])  # [B, D] -> [D * B, D], copy j first-axis block j
    tangents = tf.repeat(tf.eye(dim), batch, axis=0)  # [D * B, D]: rows of block j are e_j
    with tf.autodiff.ForwardAccumulator(z_copies, tangents) as acc:
        y = tf.cast(fn(z_copies), tf.float32)
    columns = acc.jvp(y, unconnected_gradients=tf.UnconnectedGradients.ZERO)  # [D * B, ...]
    return tf.reduce_sum(tf.reshape(_sum_over_event(tf.square(columns)), [dim, batch]), axis=0)


# -- variational objectives ------------------------------------------------------------------
# Kingma & Welling 2014 (ELBO), Kingma et al. 2016 (free bits), Burda et al. 2015 (IWAE bound).
# Sample axes come first: a quantity for ``n`` latent samples of a batch is ``[n, B]``.


def negative_log_likelihood(likelihood, x):
    """``-log p(x | z)`` per example: ``[B]`` for one decoded batch, ``[n, B]`` for ``n`` samples."""
    return -tf.cast(likelihood.log_prob(tf.cast(x, tf.float32)), tf.float32)


def _unwrap_independent(dist):
    while isinstance(dist, tfp.distributions.Independent):
        dist = dist.distribution
    return dist


def kl_divergence(q, p, seed=None, num_samples=1, analytic=None):
    """``KL(q(z|x) || p(z))`` per example ``[B]``: analytic where TFP registers it, else Monte Carlo.

    Monte Carlo: ``mean_s [log q(z_s|x) - log p(z_s)]``, ``z_s ~ q`` (unbiased, standard error
    ``std / sqrt(num_samples)``).

    Args:
        q: posterior with batch shape ``[B]``; p: prior (batch shape ``[]`` or ``[B]``).
        seed: stateless ``[2]`` seed for the Monte Carlo estimate.
        num_samples: Monte Carlo samples, default 1.
        analytic: True / False to force the estimator; None (default) uses the closed form when
            TFP has one.

    Example: ``kl = kl_divergence(model.posterior(x), model.prior())``.
    """
    if analytic is None or analytic:
        try:
            return tf.cast(tfp.distributions.kl_divergence(q, p), tf.float32)
        except NotImplementedError:
            if analytic:
                raise
    z = q.sample(num_samples, seed=seed)
    return tf.reduce_mean(q.log_prob(z) - p.log_prob(z), axis=0)


def kl_per_dimension(q, p):
    """Analytic KL of each latent dimension ``[B, d]`` for factorized ``q`` (batch ``[B]``) and ``p``.

    Both are unwrapped from ``tfd.Independent`` and the KL of their components is flattened to
    ``[B, d]``; the sum over ``d`` is the total KL.
    """
    per_component = tf.cast(
        tfp.distributions.kl_divergence(_unwrap_independent(q), _unwrap_independent(p)), tf.float32
    )
    # [B, *component batch] -> [B, d]
    return tf.reshape(per_component, [tf.shape(per_component)[0], -1])


def free_bits_kl(kl_dims, free_bits):
    """Free-bits KL (Kingma et al. 2016, eq. 15): ``sum_j max(lambda, mean_batch KL_j)`` per batch.

    Returned per example ``[B]`` as ``sum_j [KL_j(x) if mean_batch KL_j > lambda else lambda]``, so
    that its batch mean is exactly the free-bits objective and a dimension below its floor gets
    no gradient. The batch mean is that of the replica's slice under ``tf.distribute``.

    Args:
        kl_dims: per-dimension KL ``[B, d]`` (``kl_per_dimension``).
        free_bits: ``lambda``, nats per dimension, >= 0.
    """
    kl_dims = tf.cast(kl_dims, tf.float32)
    floor = tf.cast(free_bits, tf.float32)
    above = tf.reduce_mean(kl_dims, axis=0, keepdims=True) > floor
    return tf.reduce_sum(tf.where(above, kl_dims, floor * tf.ones_like(kl_dims)), axis=1)


def importance_log_weights(log_px_given_z, log_pz, log_qz, kl_weight=1.0):
    """``log w = log p(x|z) + kl_weight * (log p(z) - log q(z|x))``, each ``[n, B]``.

    With ``kl_weight=1`` these are the importance weights of ``q`` for ``p(x, z)``; a weight
    below 1 tempers the prior term (KL warm-up of the importance-weighted bound).
    """
    return tf.cast(log_px_given_z, tf.float32) + tf.cast(kl_weight, tf.float32) * (
        tf.cast(log_pz, tf.float32) - tf.cast(log_qz, tf.float32)
    )


class ImportanceSamples(NamedTuple):
    """The importance-weight record of ``k`` posterior draws for a batch: every estimator reads it.

    Attributes (each ``[k, B]`` unless said):
        log_px_given_z: ``log p(x | z_s)``.
        log_pz: ``log p(z_s)`` under the model's prior (for a hierarchy or an auxiliary variable,
            the joint prior of everything sampled).
        log_qz: ``log q(z_s | x)`` (the joint of every sampled variable).
        posterior: ``q(z|x)``, the distribution the draws came from (for the KL and codes).
        codes: the draws ``z_s`` ``[k, B, ...]``.
    """

    log_px_given_z: Any
    log_pz: Any
    log_qz: Any
    posterior: Any = None
    codes: Any = None

    def log_weights(self, kl_weight=1.0):
        """``log p(x, z_s) - log q(z_s | x)`` ``[k, B]`` (``kl_weight < 1`` tempers the prior ratio)."""
        return importance_log_weights(self.log_px_given_z, self.log_pz, self.log_qz, kl_weight)


def importance_weighted_bound(log_weights):
    """The importance-weighted bound ``L_k = log (1/k) sum_s w_s`` per example (Burda et al. 2015).

    ``log_weights`` is ``[k, B]``; ``L_1`` is the ELBO, ``L_k`` does not decrease in expectation as
    ``k`` grows, and tends to ``log p(x)``.
    """
    return tfp.math.reduce_logmeanexp(tf.cast(log_weights, tf.float32), axis=0)
