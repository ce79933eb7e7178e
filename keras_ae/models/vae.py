"""Variational autoencoders: the VAE (with beta-VAE and free bits) and the IWAE.

One family: an encoder ``q(z|x)`` (diagonal Gaussian), a decoder ``p(x|z)`` (a likelihood head)
and a prior ``p(z)``. The VAE and the IWAE share every network and every method and differ only
in the bound they maximise, both written once in :mod:`keras_ae.objectives`.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import objectives
from keras_ae.layers.heads import GAUSSIAN_SCALES, LIKELIHOOD_HEADS, UNIT_INTERVAL_LIKELIHOODS, GaussianHead
from keras_ae.models.base import BaseAutoencoder, stateless_seed, validate_array

tfd = tfp.distributions

LIKELIHOODS = tuple(sorted(LIKELIHOOD_HEADS))

#: decoded examples per importance-sampling chunk: bounds the memory of ``log_likelihood``.
DECODED_PER_CHUNK = 2**14


def check_num_samples(num_samples, name="num_samples"):
    if isinstance(num_samples, bool) or int(num_samples) != num_samples or int(num_samples) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {num_samples}")
    return int(num_samples)


@keras.saving.register_keras_serializable(package="keras_ae")
class VAE(BaseAutoencoder):
    """Variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014), beta-VAE and free bits.

    Objective per example (minimised)::

        -ELBO_beta(x) = E_q[-log p(x|z)] + beta * kl_weight * KL(q(z|x) || p(z))

    with ``q(z|x) = N(mu(x), diag(sigma(x)^2))``, ``p(z) = N(0, I)``, the expectation estimated
    with ``num_samples`` reparameterized samples and the KL in closed form. ``beta`` gives the
    beta-VAE (Higgins et al. 2017); ``kl_weight`` is a non-trainable variable (1 by default) that
    :class:`keras_ae.callbacks.KLWarmup` anneals; ``free_bits = lambda > 0`` replaces the KL by
    ``sum_j max(lambda, mean_batch KL_j)`` (Kingma et al. 2016). Logged terms: ``reconstruction``
    (``E_q[-log p(x|z)]``), ``kl`` (the true KL) and ``elbo`` (the ELBO, in nats; higher is better).

    Args:
        input_shape, latent_dim, architecture, hidden_units, filters, activation, seed: see
            :class:`~keras_ae.models.base.BaseAutoencoder`.
        likelihood: ``"bernoulli"`` (default; data in [0, 1]), ``"continuous_bernoulli"`` (data in
            [0, 1]) or ``"gaussian"``.
        beta: weight of the KL, >= 0, default 1.0.
        free_bits: KL floor per latent dimension in nats, >= 0, default 0.0 (off).
        num_samples: samples of ``z`` per example in training, >= 1, default 1.
        decoder_scale: Gaussian likelihood only: ``"learned"`` (per example and pixel, default),
            ``"global"`` (one learned scale per pixel) or ``"fixed"``.
        decoder_fixed_scale: the scale for ``decoder_scale="fixed"``, default 1.0.
        decoder_min_scale: floor of a learned decoder scale, default 1e-2.
        posterior_min_scale: floor of the posterior scale, default 1e-4.

    Example::

        model = VAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), likelihood="bernoulli")
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10, callbacks=[keras_ae.callbacks.KLWarmup(epochs=5)])
        log_px = model.log_likelihood(x_test[:100], num_samples=1000)
    """

    TERMS = ("reconstruction", "kl", "elbo")
    is_generative = True

    def __init__(self, input_shape, latent_dim, likelihood="bernoulli", beta=1.0, free_bits=0.0, num_samples=1,
                 decoder_scale="learned", decoder_fixed_scale=1.0, decoder_min_scale=1e-2,
                 posterior_min_scale=1e-4, **kwargs):
        if likelihood not in LIKELIHOOD_HEADS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if not free_bits >= 0:
            raise ValueError(f"free_bits must be >= 0, got {free_bits}")
        if decoder_scale not in GAUSSIAN_SCALES:
            raise ValueError(f"decoder_scale must be one of {GAUSSIAN_SCALES}, got {decoder_scale!r}")
        if not posterior_min_scale >= 0:
            raise ValueError(f"posterior_min_scale must be >= 0, got {posterior_min_scale}")
        num_samples = check_num_samples(num_samples)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.likelihood_name = likelihood
        self.unit_interval_data = likelihood in UNIT_INTERVAL_LIKELIHOODS
        self.beta = float(beta)
        self.free_bits = float(free_bits)
        self.num_samples = num_samples
        self.decoder_scale = decoder_scale
        self.decoder_fixed_scale = float(decoder_fixed_scale)
        self.decoder_min_scale = float(decoder_min_scale)
        self.posterior_min_scale = float(posterior_min_scale)
        self.kl_weight = self.add_weight(name="kl_weight", shape=(), initializer="ones", trainable=False)
        self.build_latent()
        self.decoder_body = self.make_decoder_body()
        head_args = {}
        if likelihood == "gaussian":
            head_args = dict(scale=decoder_scale, fixed_scale=self.decoder_fixed_scale,
                             min_scale=self.decoder_min_scale)
        self.decoder_head = LIKELIHOOD_HEADS[likelihood](self.data_shape, name="decoder_head", **head_args)

    def build_latent(self):
        """The encoder: body and posterior head (families with another latent override this)."""
        self.encoder_body = self.make_encoder_body()
        self.encoder_head = GaussianHead((self.latent_dim,), scale="learned", min_scale=self.posterior_min_scale,
                                         name="encoder_head")

    def get_config(self):
        config = super().get_config()
        config.update(likelihood=self.likelihood_name, beta=self.beta, free_bits=self.free_bits,
                      num_samples=self.num_samples, decoder_scale=self.decoder_scale,
                      decoder_fixed_scale=self.decoder_fixed_scale, decoder_min_scale=self.decoder_min_scale,
                      posterior_min_scale=self.posterior_min_scale)
        return config

    def check_inputs(self, x):
        # The base names the likelihood from ``self.likelihood``, which is a method here.
        if not tf.executing_eagerly():
            return tf.cast(x, tf.float32)
        return validate_array(x, self.data_shape, "x", self.unit_interval_data, self.likelihood_name)

    # -- the latent variable: the pieces a family with another latent replaces ----------------
    def posterior_unchecked(self, x):
        return self.encoder_head(self.encoder_body(x))

    def prior(self):
        """``p(z) = N(0, I)`` over ``[latent_dim]``."""
        return tfd.Independent(tfd.Normal(tf.zeros([self.latent_dim]), 1.0), reinterpreted_batch_ndims=1)

    def posterior_code(self, q):
        """The deterministic code of a posterior: its mean ``[B, latent_dim]``."""
        return tf.cast(q.mean(), tf.float32)

    def draw_codes(self, q, n, seed, training=False):
        """``n`` reparameterized codes per example ``[n, B, latent_dim]`` from a stateless ``seed``."""
        return q.sample(n, seed=seed)

    def latent_log_probs(self, q, z):
        """``(log q(z|x), log p(z))``, each ``[n, B]``, for codes ``z`` from ``draw_codes``."""
        return q.log_prob(z), self.prior().log_prob(z)

    def kl_terms(self, q):
        """``(KL [B], KL in the objective [B])``: the second applies ``free_bits``."""
        prior = self.prior()
        kl = objectives.kl_divergence(q, prior, seed=self.noise_seed(stream=2))
        if self.free_bits > 0:
            return kl, objectives.free_bits_kl(objectives.kl_per_dimension(q, prior), self.free_bits)
        return kl, kl

    # -- the contract ------------------------------------------------------------------------
    def posterior(self, x):
        """``q(z|x)``: a ``tfd`` distribution with batch ``[B]`` and event ``[latent_dim]``."""
        return self.posterior_unchecked(self.check_inputs(x))

    def likelihood_unchecked(self, z):
        return self.decoder_head(self.decoder_body(z))

    def likelihood(self, z):
        """``p(x|z)``: a ``tfd`` distribution with batch ``[B]`` and event ``input_shape``."""
        return self.likelihood_unchecked(self.check_codes(z))

    def encode_unchecked(self, x):
        return self.posterior_code(self.posterior_unchecked(x))

    def encode(self, x):
        """The posterior mean ``[B, latent_dim]``."""
        return self.encode_unchecked(self.check_inputs(x))

    def decode_unchecked(self, z):
        return tf.cast(self.likelihood_unchecked(z).mean(), tf.float32)

    def decode(self, z):
        """The mean of ``p(x|z)``."""
        return self.decode_unchecked(self.check_codes(z))

    def reconstruct_unchecked(self, x):
        return self.decode_unchecked(self.encode_unchecked(x))

    def encode_outputs(self, x):
        """``{"code", "mean", "scale"}``: the posterior mean (twice) and its standard deviation."""
        q = self.posterior_unchecked(self.check_inputs(x))
        mean = self.posterior_code(q)
        return {"code": mean, "mean": mean, "scale": tf.cast(q.stddev(), tf.float32)}

    def score(self, x):
        """Per-example negative ELBO, deterministic: ``-log p(x | z = mean) + KL(q(z|x) || p(z))``.

        The expectation over ``q`` is replaced by its value at the posterior code (the mean), so
        the score has no noise: the same input gives the same score in Keras, SavedModel and TFLite,
        and anomalies rank the same at every call. It differs from the ELBO by the Jensen gap of
        the reconstruction term (small for a confident posterior).
        """
        x = self.check_inputs(x)
        q = self.posterior_unchecked(x)
        kl = objectives.kl_divergence(q, self.prior(), analytic=True)
        return objectives.negative_log_likelihood(self.likelihood_unchecked(self.posterior_code(q)), x) + kl

    def sample(self, n, seed=None):
        """``n`` decoded means of prior samples ``[n, *input_shape]``; the same ``seed``, the same samples."""
        n = check_num_samples(n, "n")
        z = self.prior_codes(n, stateless_seed(seed))
        return self.decode_unchecked(z)

    def prior_codes(self, n, seed):
        return self.prior().sample(n, seed=seed)

    def sample_for_export(self, n):
        """``sample`` with fresh ``tf.random.normal`` noise, for export graphs (TFLite builtins)."""
        z = tf.random.normal(tf.stack([tf.cast(n, tf.int32), self.latent_dim]))
        return self.decode_unchecked(z)

    # -- likelihood of samples -----------------------------------------------------------------
    def log_prob_of_codes(self, x, z):
        """``log p(x|z)`` ``[n, B]`` for codes ``z`` ``[n, B, latent_dim]`` of a batch ``x`` ``[B, ...]``."""
        n, batch = tf.shape(z)[0], tf.shape(z)[1]
        flat_z = tf.reshape(z, [-1, self.latent_dim])  # [n * B, latent_dim]
        x_rep = tf.broadcast_to(x[None], tf.concat([[n], tf.shape(x)], 0))
        x_rep = tf.reshape(x_rep, tf.concat([[-1], tf.shape(x)[1:]], 0))  # [n * B, *input_shape]
        log_px = self.likelihood_unchecked(flat_z).log_prob(x_rep)
        return tf.reshape(tf.cast(log_px, tf.float32), [n, batch])

    def log_weights(self, x, n, seed, training=False):
        """Importance log-weights ``log p(x|z) + log p(z) - log q(z|x)`` ``[n, B]`` and their pieces."""
        q = self.posterior_unchecked(x)
        z = self.draw_codes(q, n, seed, training=training)
        log_px = self.log_prob_of_codes(x, z)
        log_qz, log_pz = self.latent_log_probs(q, z)
        return q, log_px, log_pz, log_qz

    def log_likelihood(self, x, num_samples=1000, seed=None, chunk_size=None):
        """Importance-sampled ``log p(x)`` per example ``[B]`` (Burda et al. 2015, eq. 12).

        ``log p(x) ~ log (1/k) sum_s p(x|z_s) p(z_s) / q(z_s|x)``, ``z_s ~ q(z|x)``: a stochastic
        lower bound whose expectation rises to ``log p(x)`` as ``k`` grows. The ``k`` samples are
        drawn in chunks of ``chunk_size`` (default: at most 16384 decoded examples per chunk) and
        combined with a running log-sum-exp, so memory stays bounded for any ``k``.

        Args:
            x: a batch ``[B, *input_shape]``.
            num_samples: ``k`` >= 1, default 1000.
            seed: integer seed (default: the model's ``seed``); the same seed, the same estimate.
            chunk_size: samples per chunk, default from the batch size.
        """
        x = self.check_inputs(x)
        k = check_num_samples(num_samples)
        batch = int(x.shape[0])
        if chunk_size is None:
            chunk_size = max(1, min(k, DECODED_PER_CHUNK // max(batch, 1)))
        chunk_size = check_num_samples(chunk_size, "chunk_size")
        base_seed = stateless_seed(self.seed if seed is None else seed)
        total = None
        for i, start in enumerate(range(0, k, chunk_size)):
            n = min(chunk_size, k - start)
            seed_i = tf.random.experimental.stateless_fold_in(base_seed, i)
            _, log_px, log_pz, log_qz = self.log_weights(x, n, seed_i)
            chunk = tf.reduce_logsumexp(objectives.importance_log_weights(log_px, log_pz, log_qz), axis=0)
            total = chunk if total is None else tf.reduce_logsumexp(tf.stack([total, chunk]), axis=0)
        return total - tf.math.log(float(k))

    # -- training ------------------------------------------------------------------------------
    def loss_weights(self):
        return {"reconstruction": 1.0, "kl_objective": self.beta * tf.convert_to_tensor(self.kl_weight)}

    def loss_terms(self, x, training=False):
        q, log_px, log_pz, log_qz = self.log_weights(x, self.num_samples, self.noise_seed(stream=1), training)
        reconstruction = -tf.reduce_mean(log_px, axis=0)
        kl, kl_objective = self.kl_terms(q)
        terms = {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl),
                 "kl_objective": kl_objective}
        return self.extra_terms(terms, log_px, log_pz, log_qz)

    def extra_terms(self, terms, log_px, log_pz, log_qz):
        """Hook for objectives built on the same samples (the IWAE bound)."""
        return terms


@keras.saving.register_keras_serializable(package="keras_ae")
class IWAE(VAE):
    """Importance-weighted autoencoder (Burda et al. 2015): the VAE trained on the ``k``-sample bound.

    Objective per example (minimised)::

        -L_k(x) = -log (1/k) sum_s p(x|z_s) p(z_s)^b / q(z_s|x)^b,   z_s ~ q(z|x),  b = beta * kl_weight

    With ``b = 1`` (the default) ``L_k`` is the importance-weighted bound: ``L_1`` is the ELBO and
    ``L_k`` rises towards ``log p(x)`` with ``k``; ``b < 1`` tempers the prior-to-posterior ratio
    (KL warm-up). Logged: ``iw_bound`` (``L_k`` with ``b = 1``) besides the VAE's terms, which are
    estimated from the same ``k`` samples. ``free_bits`` has no meaning for this bound.

    Args:
        num_samples: ``k`` >= 1, default 5.
        other arguments: see :class:`VAE` (``free_bits`` must be 0).

    Example::

        model = IWAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), num_samples=5)
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10)
    """

    TERMS = ("reconstruction", "kl", "elbo", "iw_bound")

    def __init__(self, input_shape, latent_dim, num_samples=5, **kwargs):
        if kwargs.get("free_bits", 0.0):
            raise ValueError(f"free_bits must be 0 for the IWAE (the bound has no per-dimension KL), "
                             f"got {kwargs['free_bits']}")
        super().__init__(input_shape, latent_dim, num_samples=num_samples, **kwargs)

    def loss_weights(self):
        return {"iw_objective": 1.0}

    def extra_terms(self, terms, log_px, log_pz, log_qz):
        bound = objectives.importance_weighted_bound(objectives.importance_log_weights(log_px, log_pz, log_qz))
        tempered = objectives.importance_weighted_bound(objectives.importance_log_weights(
            log_px, log_pz, log_qz, self.beta * tf.convert_to_tensor(self.kl_weight)))
        return {**terms, "iw_bound": bound, "iw_objective": -tempered}
