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


def worst_score_on_overflow(score):
    """An anomaly score of finite input with NaN where float32 overflowed: ``+inf`` there, the worst score.

    Inputs are checked to be finite before scoring, so a NaN can only come from an overflow
    (huge finite input: ``inf - inf`` inside a network, or ``inf * 0`` in a likelihood): that
    example is as anomalous as can be, and ranks last, instead of NaN, which compares false with
    every threshold. Keras's ``score`` and the exported ``score`` signature both apply it.
    """
    score = tf.convert_to_tensor(score)
    return tf.where(tf.math.is_nan(score), tf.constant(float("inf"), score.dtype), score)


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


# -- the deep spatial autoencoder -------------------------------------------------------------
# Finn et al. 2016, "Deep spatial autoencoders for visuomotor learning".


def slowness(code_prev, code, code_next):
    """Per-example ``||(f_next - f) - (f - f_prev)||^2``: the slowness term ``g_slow`` of three consecutive codes.

    A second difference: zero exactly when the codes move at constant velocity.
    """
    acceleration = tf.cast(code_next, tf.float32) - 2.0 * tf.cast(code, tf.float32) + tf.cast(code_prev, tf.float32)
    return _sum_over_event(tf.square(acceleration))


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


def precision_weighted_gaussian(loc_a, scale_a, loc_b, scale_b):
    """``(loc, scale)`` of the normalized product of two diagonal Gaussians ``N(loc_a, scale_a^2) N(loc_b, scale_b^2)``.

    ``sigma^2 = 1 / (sigma_a^-2 + sigma_b^-2)``, ``mu = (mu_a sigma_a^-2 + mu_b sigma_b^-2) sigma^2``:
    the ladder VAE's combination of a bottom-up estimate with the top-down prior (Sønderby et al.
    2016, eq. 18-19). Shapes broadcast; float32 out.
    """
    loc_a, scale_a, loc_b, scale_b = (tf.cast(t, tf.float32) for t in (loc_a, scale_a, loc_b, scale_b))
    precision_a, precision_b = tf.math.reciprocal(tf.square(scale_a)), tf.math.reciprocal(tf.square(scale_b))
    variance = tf.math.reciprocal(precision_a + precision_b)
    return (loc_a * precision_a + loc_b * precision_b) * variance, tf.sqrt(variance)


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


# -- integral probability metrics: maximum mean discrepancy ------------------------------------
# Gretton et al. 2012 (the unbiased U-statistic); Tolstikhin et al. 2018 (WAE-MMD, the IMQ kernel
# and its scales); Zhao et al. 2019 (InfoVAE / MMD-VAE).

MMD_KERNELS = ("imq", "rbf")


def pairwise_squared_distances(a, b):
    """``||a_i - b_j||^2`` ``[M, N]`` for ``a`` ``[M, D]`` and ``b`` ``[N, D]`` (clipped at 0 against round-off)."""
    a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
    sq = tf.reduce_sum(tf.square(a), 1)[:, None] + tf.reduce_sum(tf.square(b), 1)[None, :] - 2.0 * tf.matmul(
        a, b, transpose_b=True)
    return tf.maximum(sq, 0.0)


def mmd_kernel(sq_distances, kernel="imq", scale=1.0, multipliers=(1.0,)):
    """A sum of kernels at several scales, from squared distances ``r^2``.

    - ``"imq"`` (inverse multiquadratics): ``k(r) = sum_s C_s / (C_s + r^2)``;
    - ``"rbf"`` (Gaussian): ``k(r) = sum_s exp(-r^2 / C_s)`` (a bandwidth ``sigma^2 = C_s / 2``);

    with ``C_s = scale * s`` for ``s`` in ``multipliers``. Tolstikhin et al. (2018, section 4)
    use ``C = 2 d sigma_z^2`` for a prior ``N(0, sigma_z^2 I_d)``.
    """
    if kernel not in MMD_KERNELS:
        raise ValueError(f"kernel must be one of {MMD_KERNELS}, got {kernel!r}")
    total = 0.0
    for s in multipliers:
        c = float(scale) * float(s)
        total += c / (c + sq_distances) if kernel == "imq" else tf.exp(-sq_distances / c)
    return total


def mmd_u_statistic(x, y, kernel="imq", scale=1.0, multipliers=(1.0,)):
    """The unbiased estimate of ``MMD^2(P, Q)`` from ``x ~ P`` ``[M, D]`` and ``y ~ Q`` ``[N, D]`` (a scalar).

    ``MMD_u^2 = 1/(M(M-1)) sum_{i != j} k(x_i, x_j) + 1/(N(N-1)) sum_{i != j} k(y_i, y_j)
    - 2/(MN) sum_{i, j} k(x_i, y_j)`` (Gretton et al. 2012, eq. 3): its expectation is exactly
    ``MMD^2``, so it averages to 0 when ``P = Q`` (it can be negative). ``M, N >= 2``. The
    kernel is :func:`mmd_kernel`.
    """
    x, y = tf.cast(x, tf.float32), tf.cast(y, tf.float32)
    m, n = tf.cast(tf.shape(x)[0], tf.float32), tf.cast(tf.shape(y)[0], tf.float32)

    def off_diagonal_mean(k, size):
        return (tf.reduce_sum(k) - tf.reduce_sum(tf.linalg.diag_part(k))) / (size * (size - 1.0))

    kxx = mmd_kernel(pairwise_squared_distances(x, x), kernel, scale, multipliers)
    kyy = mmd_kernel(pairwise_squared_distances(y, y), kernel, scale, multipliers)
    kxy = mmd_kernel(pairwise_squared_distances(x, y), kernel, scale, multipliers)
    return off_diagonal_mean(kxx, m) + off_diagonal_mean(kyy, n) - 2.0 * tf.reduce_mean(kxy)


def broadcast_to_batch(value, batch_like):
    """A batch property (a scalar) returned once per example of ``batch_like`` ``[B]``.

    The batch mean of the per-example loss is then the value itself; under ``tf.distribute``
    each replica computes it on its own slice.
    """
    return tf.fill([tf.shape(batch_like)[0]], tf.cast(value, tf.float32))


# -- total correlation (Chen et al. 2018, beta-TCVAE; Kim & Mnih 2018, FactorVAE) -------------

TC_ESTIMATORS = ("mws", "mss")


def gaussian_log_density_matrix(z, loc, scale):
    """``log q(z_i,d | x_j)`` ``[M, M, D]`` of every code ``z_i`` under every diagonal Gaussian ``N(loc_j, scale_j^2)``."""
    z, loc, scale = (tf.cast(t, tf.float32) for t in (z, loc, scale))
    return tfd.Normal(loc[None, :, :], scale[None, :, :]).log_prob(z[:, None, :])


def stratified_log_weights(batch_size, dataset_size):
    """``log w_ij`` ``[M, M]`` of minibatch-stratified sampling (Chen et al. 2018, appendix C.2).

    Row ``i`` weights the batch's posteriors when estimating ``q(z_i)``: ``1/N`` for its own
    example, ``(N - M + 1) / (N (M - 1))`` for one other (the stratum that stands for the examples
    outside the batch) and ``1/(M - 1)`` for the rest; each row sums to 1. ``M = batch_size >= 2``
    (an integer or a scalar tensor), ``N = dataset_size >= M``.
    """
    m, n = tf.cast(batch_size, tf.float32), float(dataset_size)
    others = 1.0 / (m - 1.0)
    strat = (n - m + 1.0) / (n * (m - 1.0))
    eye = tf.eye(batch_size)
    nxt = tf.roll(eye, shift=1, axis=1)  # [i, i + 1 mod M]
    weights = eye * (1.0 / n) + nxt * strat + (1.0 - eye - nxt) * others
    return tf.math.log(weights)


def aggregate_log_densities(log_q_matrix, estimator="mws", dataset_size=None):
    """Estimates of ``log q(z_i)`` ``[M]`` and ``log q(z_i,d)`` ``[M, D]`` under the aggregate posterior.

    ``q(z) = E_{p(x)} q(z|x)`` is estimated from the minibatch (Chen et al. 2018, section 4.1):

    - ``"mws"`` (minibatch-weighted sampling): ``log q(z_i) ~ log (1/M) sum_j q(z_i | x_j)``, the
      batch as a sample of the data. Chen et al. write ``- log(N M)``; that differs by the constant
      ``log N``, moves no gradient, and offsets the total correlation by ``(D - 1) log N``, so
      it is left out here and the estimate is consistent for ``TC`` itself.
    - ``"mss"`` (minibatch-stratified sampling): ``log q(z_i) ~ log sum_j w_ij q(z_i | x_j)``
      with :func:`stratified_log_weights` (needs ``dataset_size``).

    Args:
        log_q_matrix: ``log q(z_i,d | x_j)`` ``[M, M, D]`` (:func:`gaussian_log_density_matrix`).
        estimator: ``"mws"`` (default) or ``"mss"``.
        dataset_size: ``N`` for ``"mss"``.
    """
    if estimator not in TC_ESTIMATORS:
        raise ValueError(f"estimator must be one of {TC_ESTIMATORS}, got {estimator!r}")
    log_q_matrix = tf.cast(log_q_matrix, tf.float32)
    batch = tf.shape(log_q_matrix)[0]
    if estimator == "mws":
        log_w = -tf.math.log(tf.cast(batch, tf.float32)) * tf.ones([batch, batch])
    else:
        if dataset_size is None:
            raise ValueError("estimator 'mss' needs dataset_size (the number of training examples N)")
        log_w = stratified_log_weights(batch, dataset_size)
    log_qz = tf.reduce_logsumexp(log_w + tf.reduce_sum(log_q_matrix, axis=2), axis=1)  # [M]
    log_qz_dims = tf.reduce_logsumexp(log_w[:, :, None] + log_q_matrix, axis=1)  # [M, D]
    return log_qz, log_qz_dims


def kl_decomposition(z, loc, scale, log_prior_dims, estimator="mws", dataset_size=None):
    """The KL of a diagonal-Gaussian VAE split into three parts per example (Chen et al. 2018, eq. 2).

    With ``z_i ~ q(z|x_i)`` one draw per example and ``q(z)`` the aggregate posterior::

        index-code MI      log q(z_i|x_i) - log q(z_i)
        total correlation  log q(z_i) - sum_d log q(z_i,d)
        dimension-wise KL  sum_d [log q(z_i,d) - log p(z_i,d)]

    whose sum is ``log q(z_i|x_i) - log p(z_i)``, a one-sample estimate of the KL. The
    aggregate terms are estimated from the minibatch (:func:`aggregate_log_densities`).

    Args:
        z: codes ``[M, D]``; loc, scale: the posteriors ``[M, D]``.
        log_prior_dims: ``log p(z_i,d)`` ``[M, D]`` (a factorized prior).
        estimator, dataset_size: see :func:`aggregate_log_densities`.
    Returns:
        ``{"mutual_information", "total_correlation", "dimension_kl"}``, each ``[M]``.
    """
    log_q_matrix = gaussian_log_density_matrix(z, loc, scale)
    log_qz_given_x = tf.reduce_sum(tf.linalg.diag_part(tf.transpose(log_q_matrix, [2, 0, 1])), axis=0)  # [M]
    log_qz, log_qz_dims = aggregate_log_densities(log_q_matrix, estimator, dataset_size)
    return {
        "mutual_information": log_qz_given_x - log_qz,
        "total_correlation": log_qz - tf.reduce_sum(log_qz_dims, axis=1),
        "dimension_kl": tf.reduce_sum(log_qz_dims - tf.cast(log_prior_dims, tf.float32), axis=1),
    }


def permute_dims(z, seed):
    """Shuffle each column of ``z`` ``[B, D]`` across the batch with its own permutation (Kim & Mnih 2018, alg. 1).

    Every marginal stays exactly the same (each column is a permutation of itself) while the
    dependence between dimensions is broken: the rows are draws from ``prod_d q(z_d)``.
    ``seed`` is a stateless ``[2]`` seed.
    """
    z = tf.convert_to_tensor(z)
    keys = tf.random.stateless_uniform(tf.shape(z), seed)  # [B, D]
    order = tf.argsort(keys, axis=0)  # a permutation of the batch per column
    # column d of the result is column d of z gathered at order[:, d]: [D, B] gathers, one per column
    return tf.transpose(tf.gather(tf.transpose(z), tf.transpose(order), batch_dims=1))


def discriminator_cross_entropy(real_logits, fake_logits):
    """Per-example logistic loss of a discriminator that tells ``real`` (label 1) from ``fake`` (label 0).

    ``softplus(-l_real) + softplus(l_fake)`` = ``-log D(real) - log(1 - D(fake))`` with
    ``D = sigmoid(l)``; ``real`` and ``fake`` pair up example by example (same batch size).
    """
    return tf.nn.softplus(-tf.cast(real_logits, tf.float32)) + tf.nn.softplus(tf.cast(fake_logits, tf.float32))


def covariance_penalty(covariance, off_diagonal_weight, diagonal_weight):
    """DIP-VAE's ``lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2`` (Kumar et al. 2018, eq. 6)."""
    covariance = tf.cast(covariance, tf.float32)
    diag = tf.linalg.diag_part(covariance)
    off = tf.reduce_sum(tf.square(covariance)) - tf.reduce_sum(tf.square(diag))
    return off_diagonal_weight * off + diagonal_weight * tf.reduce_sum(tf.square(diag - 1.0))
