"""Loss terms written once and shared by every model family.

Every function returns one value per example (shape ``[B]``): the base model averages over the
global batch, so the loss is right under ``tf.distribute``.
"""

import tensorflow as tf


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
    """``KL(Bernoulli(rho) || Bernoulli(rho_hat))`` elementwise, for target activations."""
    rho_hat = tf.clip_by_value(tf.cast(rho_hat, tf.float32), eps, 1.0 - eps)
    return rho * tf.math.log(rho / rho_hat) + (1.0 - rho) * tf.math.log((1.0 - rho) / (1.0 - rho_hat))


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
