"""Vector quantization: a learned codebook, nearest-code lookup and straight-through gradients.

van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning" (VQ-VAE),
section 3.1 and appendix A.1 (exponential moving average codebook updates).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_ae import _checks
from keras_ae.layers.bodies import kernel_initializer_config, new_kernel_initializer


def nearest_code(vectors, codebook):
    """Index of the nearest codebook row (squared Euclidean distance) of every vector.

    ``argmin_k ||z - e_k||^2 = argmin_k (||e_k||^2 - 2 z . e_k)``: ``[..., D]`` and ``[K, D]`` ->
    int32 ``[...]``. Written with a matrix product and ``argmin`` (TFLite builtins).
    """
    flat = tf.reshape(vectors, [-1, tf.shape(codebook)[-1]])
    scores = tf.reduce_sum(tf.square(codebook), axis=-1)[None, :] - 2.0 * tf.matmul(flat, codebook, transpose_b=True)
    indices = tf.argmin(scores, axis=-1, output_type=tf.int32)
    return tf.reshape(indices, tf.shape(vectors)[:-1])


def straight_through(vectors, quantized):
    """``quantized`` in the forward pass, the identity's gradient to ``vectors`` in the backward pass."""
    return vectors + tf.stop_gradient(quantized - vectors)


def ema_codebook(cluster_size, embed_sum, counts, sums, decay, epsilon):
    """One EMA codebook update with Laplace smoothing (van den Oord et al. 2017, appendix A.1).

    ``N_k <- decay N_k + (1 - decay) n_k``, ``m_k <- decay m_k + (1 - decay) s_k`` where ``n_k`` is
    how many vectors chose code ``k`` and ``s_k`` their sum; then with ``n = sum_k N_k`` the
    smoothed counts ``N~_k = (N_k + eps) / (n + K eps) n`` (no division by zero for an unused
    code) give the codebook ``e_k = m_k / N~_k``.

    Returns ``(cluster_size, embed_sum, codebook)``, the new values.
    """
    cluster_size = decay * cluster_size + (1.0 - decay) * counts
    embed_sum = decay * embed_sum + (1.0 - decay) * sums
    n = tf.reduce_sum(cluster_size)
    k = tf.cast(tf.shape(cluster_size)[0], cluster_size.dtype)
    smoothed = (cluster_size + epsilon) / (n + k * epsilon) * n
    return cluster_size, embed_sum, embed_sum / smoothed[:, None]


def code_counts(indices, num_codes):
    """How often each of the ``num_codes`` codes occurs in ``indices``: float32 ``[K]`` (one-hot sums: XLA compiles them)."""
    return tf.reduce_sum(tf.one_hot(tf.reshape(indices, [-1]), num_codes, dtype=tf.float32), axis=0)


def perplexity(indices, num_codes):
    """``exp(H(p))`` of the code frequencies ``p`` in ``indices``: 1 (one code) to ``num_codes`` (uniform)."""
    counts = code_counts(indices, num_codes)
    p = counts / tf.maximum(tf.reduce_sum(counts), 1.0)
    return tf.exp(-tf.reduce_sum(tf.math.xlogy(p, p)))


def usage(indices, num_codes):
    """Fraction of the ``num_codes`` codes that ``indices`` uses at least once."""
    counts = code_counts(indices, num_codes)
    return tf.reduce_mean(tf.cast(counts > 0, tf.float32))


def _sum_over_replicas(value):
    """Sum of ``value`` over the replicas in sync (itself on one replica, and in cross-replica context)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return value
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _first_replica(value):
    """The first replica's ``value`` on every replica (a sum over replicas of a masked copy)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return value
    first = tf.cast(tf.equal(ctx.replica_id_in_sync_group, 0), value.dtype)
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value * first)


def _restart_rows(count, num_codes, seed, weights=None):
    """``num_codes`` rows in ``[0, count)`` (row 0 of a padding when ``count`` is 0), drawn with a stateless seed.

    Uniform without ``weights``; with weights ``[count]``, in proportion to them (uniform again
    when they are all zero, so a restart still finds a vector).
    """
    if weights is None:
        return tf.random.stateless_uniform([num_codes], seed, 0, tf.maximum(count, 1), dtype=tf.int32)
    padded = tf.concat([weights, tf.zeros([1])], axis=0)                                   # [count + 1]
    real = tf.range(count + 1) < tf.maximum(count, 1)
    uniform = tf.where(real, 0.0, -np.inf)
    logits = tf.where(tf.reduce_sum(weights) > 0, tf.math.log(padded), uniform)
    return tf.random.stateless_categorical(logits[None], num_codes, seed, dtype=tf.int32)[0]


@keras.saving.register_keras_serializable(package="keras_ae")
class VectorQuantizer(keras.layers.Layer):
    """A codebook of ``num_codes`` vectors of size ``embedding_dim`` and the nearest-code map.

    ``call(z_e)`` maps encoder outputs ``[..., D]`` to ``(z_q, indices)``: ``indices`` the nearest
    codes (int32 ``[...]``) and ``z_q = z_e + sg(e_indices - z_e)``, whose value is the code vector
    and whose gradient to ``z_e`` is the identity (straight-through, section 3.1).

    The codebook learns one of two ways:

    - ``ema=False``: by gradients of the codebook term ``||sg(z_e) - e||^2`` (a model adds it, from
      :meth:`terms`);
    - ``ema=True``: by exponential moving averages of the vectors each code receives (appendix
      A.1): :meth:`update` after the gradient step (the contract's ``_non_gradient_updates``).
      The counts and sums are summed over replicas first, and the variables are written with
      ``only_first_replica`` aggregation, so every replica holds the same codebook.

    Both ways track ``cluster_size``, the EMA of how many vectors chose each code. A code whose
    ``cluster_size`` falls below ``restart_threshold`` is dead: :meth:`update` restarts it at an
    encoder output of the current batch drawn at random (the first replica's batch, with a seed
    shared by the replicas), as in Dhariwal et al. 2020 (Jukebox), section 3.2.

    ``cluster_size`` starts at 1 and the EMA sums at the initial codebook, so the EMA codebook
    equals the initial one before any update (a pseudo-count of one vector per code).

    Args:
        num_codes: codebook size ``K`` >= 2.
        embedding_dim: size ``D`` of each code vector >= 1.
        ema: EMA codebook updates (True) or the codebook loss (False, default).
        decay: EMA decay in [0, 1), default 0.99 (the paper's).
        epsilon: Laplace smoothing of the EMA counts, default 1e-5.
        restart_threshold: restart codes whose ``cluster_size`` is below this; 0 turns restarts
            off. Default 0.03: with decay 0.99 a code unused for about 350 steps.
        kernel_initializer: of the codebook: a Keras initializer, its name or config. Default
            the library's (``keras_ae.layers.bodies.DEFAULT_KERNEL_INITIALIZER``: uniform on
            +-1/sqrt(K) for a ``[K, D]`` codebook).
    """

    def __init__(self, num_codes, embedding_dim, ema=False, decay=0.99, epsilon=1e-5, restart_threshold=0.03,
                 kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_codes = _checks.check_integer(num_codes, "num_codes", minimum=2)
        self.embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
        if not isinstance(ema, bool):
            raise ValueError(f"ema must be True or False, got {ema!r}")
        self.ema = ema
        self.decay = _checks.check_number(decay, "decay", minimum=0.0, maximum=1.0, exclusive_maximum=True)
        self.epsilon = _checks.check_number(epsilon, "epsilon", minimum=0.0, exclusive_minimum=True)
        self.restart_threshold = _checks.check_number(restart_threshold, "restart_threshold", minimum=0.0)
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        shape = (self.num_codes, self.embedding_dim)
        # Written in replica context by update(): every replica writes the same value, the first's is kept.
        self.codebook = self.add_weight(name="codebook", shape=shape, trainable=not ema,
                                        initializer=new_kernel_initializer(self.kernel_initializer),
                                        aggregation="only_first_replica")
        self.cluster_size = self.add_weight(name="cluster_size", shape=(self.num_codes,), initializer="ones",
                                            trainable=False, aggregation="only_first_replica")
        if ema:
            self.embed_sum = self.add_weight(name="embed_sum", shape=shape, initializer="zeros", trainable=False,
                                             aggregation="only_first_replica")
            self.embed_sum.assign(self.codebook)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "embedding_dim": self.embedding_dim,
                "ema": self.ema, "decay": self.decay, "epsilon": self.epsilon,
                "restart_threshold": self.restart_threshold, "kernel_initializer": self.kernel_initializer}

    def build(self, input_shape=None):
        self.built = True

    def indices(self, vectors):
        """Nearest codes of encoder outputs ``[..., D]`` -> int32 ``[...]``."""
        return nearest_code(tf.cast(vectors, tf.float32), tf.convert_to_tensor(self.codebook))

    def lookup(self, indices):
        """Code vectors ``[..., D]`` of int indices ``[...]``."""
        return tf.gather(tf.convert_to_tensor(self.codebook), tf.cast(indices, tf.int32))

    def call(self, vectors):
        indices = self.indices(vectors)
        return straight_through(tf.cast(vectors, tf.float32), self.lookup(indices)), indices

    def terms(self, vectors, indices):
        """Per-example ``{"codebook": ||sg(z_e) - e||^2, "commitment": ||z_e - sg(e)||^2}``, summed over the grid.

        ``vectors`` ``[B, ..., D]``, ``indices`` ``[B, ...]``. With ``ema=True`` the codebook term
        has no gradient to follow and is zero.
        """
        vectors = tf.cast(vectors, tf.float32)
        codes = self.lookup(indices)
        axes = list(range(1, len(vectors.shape)))
        commitment = tf.reduce_sum(tf.square(vectors - tf.stop_gradient(codes)), axis=axes)
        if self.ema:
            return {"codebook": tf.zeros_like(commitment), "commitment": commitment}
        return {"codebook": tf.reduce_sum(tf.square(tf.stop_gradient(vectors) - codes), axis=axes),
                "commitment": commitment}

    def update(self, vectors, indices, seed, weights=None):
        """The non-gradient updates of one step: EMA codebook (if ``ema``), usage, dead-code restarts.

        Args:
            vectors: this replica's encoder outputs ``[..., D]`` (gradients are not followed).
            indices: their codes ``[...]``.
            seed: a stateless ``[2]`` seed that every replica shares (it picks the restart vectors).
            weights: a weight per vector ``[...]`` (the examples' ``sample_weight``), or None
                for weight 1. Counts and EMA sums are weighted sums, and restart vectors are
                drawn in proportion to the weights, so a vector of weight ``n`` counts as ``n``
                copies and one of weight 0 is not seen.
        """
        flat = tf.reshape(tf.stop_gradient(tf.cast(vectors, tf.float32)), [-1, self.embedding_dim])  # [M, D]
        one_hot = tf.one_hot(tf.reshape(indices, [-1]), self.num_codes, dtype=tf.float32)                # [M, K]
        if weights is not None:
            weights = tf.reshape(tf.cast(weights, tf.float32), [-1])                                      # [M]
            one_hot = one_hot * weights[:, None]
        counts = _sum_over_replicas(tf.reduce_sum(one_hot, axis=0))                                        # [K]
        if self.ema:
            sums = _sum_over_replicas(tf.matmul(one_hot, flat, transpose_a=True))                          # [K, D]
            cluster_size, embed_sum, codebook = ema_codebook(self.cluster_size, self.embed_sum, counts, sums,
                                                             self.decay, self.epsilon)
        else:
            cluster_size = self.decay * self.cluster_size + (1.0 - self.decay) * counts
            embed_sum, codebook = None, tf.convert_to_tensor(self.codebook)
        if self.restart_threshold > 0:
            dead = cluster_size < self.restart_threshold                                                  # [K]
            rows = _restart_rows(tf.shape(flat)[0], self.num_codes, seed, weights)
            padded = tf.concat([flat, tf.zeros([1, self.embedding_dim])], axis=0)  # an empty batch gathers zeros
            candidates = _first_replica(tf.gather(padded, rows))                                          # [K, D]
            codebook = tf.where(dead[:, None], candidates, codebook)
            cluster_size = tf.where(dead, tf.ones_like(cluster_size), cluster_size)
            if self.ema:
                embed_sum = tf.where(dead[:, None], candidates, embed_sum)
        self.cluster_size.assign(cluster_size)
        if self.ema or self.restart_threshold > 0:
            self.codebook.assign(codebook)
        if self.ema:
            self.embed_sum.assign(embed_sum)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape)[:-1]
