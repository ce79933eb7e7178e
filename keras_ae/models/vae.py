"""Variational autoencoders: the VAE (with beta-VAE and free bits) and the IWAE.

One family: an encoder ``q(z|x)`` (diagonal Gaussian), a decoder ``p(x|z)`` (a likelihood head)
and a prior ``p(z)``. The VAE and the IWAE share every network and every method and differ only
in the bound they maximise, both written once in :mod:`keras_ae.objectives`.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.evaluation import ais
from keras_ae.layers.heads import GAUSSIAN_SCALES, LIKELIHOOD_HEADS, UNIT_INTERVAL_LIKELIHOODS, GaussianHead
from keras_ae.models.base import BaseAutoencoder

tfd = tfp.distributions

LIKELIHOODS = tuple(sorted(LIKELIHOOD_HEADS))
#: fixed draws of the deterministic Monte Carlo KL (``VAE.kl`` without a seed): standard error
#: ``std(log q - log p) / 4``.
SCORE_KL_SAMPLES = 16

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
    is_probabilistic = True

    def __init__(self, input_shape, latent_dim, likelihood="bernoulli", beta=1.0, free_bits=0.0, num_samples=1,
                 decoder_scale="learned", decoder_fixed_scale=1.0, decoder_min_scale=1e-2,
                 posterior_min_scale=1e-4, **kwargs):
        _checks.check_choice(likelihood, "likelihood", LIKELIHOOD_HEADS)
        _checks.check_number(beta, "beta", minimum=0)
        _checks.check_number(free_bits, "free_bits", minimum=0)
        _checks.check_choice(decoder_scale, "decoder_scale", GAUSSIAN_SCALES)
        _checks.check_number(posterior_min_scale, "posterior_min_scale", minimum=0)
        num_samples = _checks.check_positive_int(num_samples, "num_samples")
        super().__init__(input_shape, latent_dim, **kwargs)
        self.likelihood_name = likelihood
        self.data_likelihood = likelihood
        self.unit_interval_data = likelihood in UNIT_INTERVAL_LIKELIHOODS
        self.beta = float(beta)
        self.free_bits = float(free_bits)
        self.num_samples = num_samples
        self.decoder_scale = decoder_scale
        self.decoder_fixed_scale = float(decoder_fixed_scale)
        self.decoder_min_scale = float(decoder_min_scale)
        self.posterior_min_scale = float(posterior_min_scale)
        # Set in the train step by a schedule (KLWarmup); one value for every replica.
        self.kl_weight = self.add_weight(name="kl_weight", shape=(), initializer="ones", trainable=False,
                                         aggregation="only_first_replica")
        self.build_latent()
        self.decoder_body = self.make_decoder_body()
        head_args = {}
        if likelihood == "gaussian":
            head_args = dict(scale=decoder_scale, fixed_scale=self.decoder_fixed_scale,
                             min_scale=self.decoder_min_scale)
        self.decoder_head = LIKELIHOOD_HEADS[likelihood](self.data_shape, name="decoder_head",
                                                         kernel_initializer=self.kernel_initializer, **head_args)

    def build_latent(self):
        """The encoder: body and posterior head (families with another latent override this)."""
        self.encoder_body = self.make_encoder_body()
        self.encoder_head = GaussianHead((self.latent_dim,), scale="learned", min_scale=self.posterior_min_scale,
                                         kernel_initializer=self.kernel_initializer, name="encoder_head")

    def get_config(self):
        config = super().get_config()
        config.update(likelihood=self.likelihood_name, beta=self.beta, free_bits=self.free_bits,
                      num_samples=self.num_samples, decoder_scale=self.decoder_scale,
                      decoder_fixed_scale=self.decoder_fixed_scale, decoder_min_scale=self.decoder_min_scale,
                      posterior_min_scale=self.posterior_min_scale)
        return config

    # -- the latent variable: the pieces a family with another latent replaces ----------------
    def _posterior(self, x):
        return self.encoder_head(self.encoder_body(x))

    def _prior(self):
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
        return q.log_prob(z), self._prior().log_prob(z)

    def kl(self, q, seed=None):
        """``KL(q(z|x) || p(z))`` ``[B]``: analytic where TFP registers it, else Monte Carlo (the model decides).

        Without a ``seed`` (``score``, evaluation) the Monte Carlo estimate is deterministic: it
        reparameterizes ``SCORE_KL_SAMPLES`` fixed standard-normal draws, ``z = mean + std * eps``
        (exact for the Gaussian posterior, and builtin ops only, so the exported ``score``
        converts to TFLite).
        """
        prior = self._prior()
        if seed is not None:
            return objectives.kl_divergence(q, prior, seed=seed)
        try:
            return objectives.kl_divergence(q, prior, analytic=True)
        except NotImplementedError:
            pass
        mean, std = tf.cast(q.mean(), tf.float32), tf.cast(q.stddev(), tf.float32)
        eps = np.random.default_rng(self.seed).standard_normal((SCORE_KL_SAMPLES,) + tuple(mean.shape[1:]))
        z = mean[None] + std[None] * tf.constant(eps, tf.float32)[:, None]  # [S, B, ...]
        return tf.reduce_mean(q.log_prob(z) - prior.log_prob(z), axis=0)

    def kl_terms(self, q):
        """``(KL [B], KL in the objective [B])``: the second applies ``free_bits``."""
        kl = self.kl(q, seed=self.noise_seed(stream=2))
        if self.free_bits > 0:
            return kl, objectives.free_bits_kl(objectives.kl_per_dimension(q, self._prior()), self.free_bits)
        return kl, kl

    # -- hooks of the contract -------------------------------------------------------------------
    def _likelihood(self, z):
        return self.decoder_head(self.decoder_body(z))

    # ``**condition``: the conditioning inputs of a conditional subclass (``y`` of the
    # ConditionalVAE), passed on to ``_posterior`` and ``_likelihood``; empty for the VAE.
    def _encode(self, x, **condition):
        """The posterior mean ``[B, latent_dim]``."""
        return self.posterior_code(self._posterior(x, **condition))

    def _decode(self, z, seed=None, **condition):
        """The mean of ``p(x|z)``."""
        return tf.cast(self._likelihood(z, **condition).mean(), tf.float32)

    def _encode_outputs(self, x, **condition):
        """``{"code", "mean", "scale"}``: the posterior mean (twice) and its standard deviation."""
        q = self._posterior(x, **condition)
        mean = self.posterior_code(q)
        return {"code": mean, "mean": mean, "scale": tf.cast(q.stddev(), tf.float32)}

    def _score(self, x, **condition):
        """Per-example negative ELBO, deterministic: ``-log p(x | z = mean) + KL(q(z|x) || p(z))``.

        The expectation over ``q`` is replaced by its value at the posterior code (the mean), so
        the score has no noise: the same input gives the same score in Keras, SavedModel and TFLite,
        and anomalies rank the same at every call. It differs from the ELBO by the Jensen gap of
        the reconstruction term (small for a confident posterior).
        """
        q = self._posterior(x, **condition)
        return objectives.negative_log_likelihood(self._likelihood(self.posterior_code(q), **condition), x) + self.kl(q)

    def _sample_for_export(self, n):
        """``sample`` with fresh noise, for export graphs.

        With the standard normal prior, ``tf.random.normal`` (a TFLite builtin); a subclass with
        a learned ``_prior`` samples that prior (SavedModel always; TFLite where its sampler has
        builtin ops, else the signature is skipped with the reason).
        """
        if type(self)._prior is not VAE._prior:
            return self._decode(self._prior_codes(n, None))
        z = samplers.normal(tf.stack([tf.cast(n, tf.int32), self.latent_dim]))
        return self._decode(z)

    # -- importance weights ------------------------------------------------------------------------
    def log_prob_of_codes(self, x, z, **condition):
        """``log p(x|z)`` ``[n, B]`` for codes ``z`` ``[n, B, latent_dim]`` of a batch ``x`` ``[B, ...]``."""
        n, batch = tf.shape(z)[0], tf.shape(z)[1]
        flat_z = tf.reshape(z, [-1, self.latent_dim])  # [n * B, latent_dim]

        def repeated(t):  # [B, ...] -> [n * B, ...], sample-major like flat_z
            t = tf.broadcast_to(t[None], tf.concat([[n], tf.shape(t)], 0))
            return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))

        x_rep = repeated(x)  # [n * B, *input_shape]
        log_px = self._likelihood(flat_z, **{k: repeated(v) for k, v in condition.items()}).log_prob(x_rep)
        return tf.reshape(tf.cast(log_px, tf.float32), [n, batch])

    def _importance_samples(self, x, num_samples, seed, training=False, **condition):
        """``k`` reparameterized draws of ``q(z|x)`` with ``log p(x|z)``, ``log p(z)``, ``log q(z|x)``."""
        q = self._posterior(x, **condition)
        z = self.draw_codes(q, num_samples, seed, training=training)
        log_qz, log_pz = self.latent_log_probs(q, z)
        return objectives.ImportanceSamples(self.log_prob_of_codes(x, z, **condition), log_pz, log_qz, q, z)

    def _ais_log_likelihood(self, x, num_chains, num_steps, start, seed):
        """AIS from the prior or from ``q(z|x)`` to ``p(x, z) = p(z) p(x|z)`` (:func:`keras_ae.evaluation.ais.forward_bound`)."""
        init_seed, chain_seed = samplers.split_seed(seed, 2)
        prior = self._prior()
        if start == "prior":
            initial = prior
            z0 = prior.sample([num_chains, int(x.shape[0])], seed=init_seed)
        else:
            initial = self._posterior(x)
            z0 = initial.sample(num_chains, seed=init_seed)

        def log_joint(z):
            return tf.cast(prior.log_prob(z), tf.float32) + self.log_prob_of_codes(x, z)

        def log_initial(z):
            return tf.cast(initial.log_prob(z), tf.float32)

        return ais.forward_bound(log_initial, log_joint, tf.cast(z0, tf.float32), num_steps, chain_seed).log_marginal

    # -- training ------------------------------------------------------------------------------
    def loss_weights(self):
        return {"reconstruction": 1.0, "kl_objective": self.beta * tf.convert_to_tensor(self.kl_weight)}

    def _loss_terms(self, x, training=False, **condition):
        record = self._importance_samples(x, self.num_samples, self.noise_seed(stream=1), training, **condition)
        reconstruction = -tf.reduce_mean(record.log_px_given_z, axis=0)
        kl, kl_objective = self.kl_terms(record.posterior)
        terms = {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl),
                 "kl_objective": kl_objective}
        return self.extra_terms(terms, record)

    def extra_terms(self, terms, record):
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

    def extra_terms(self, terms, record):
        bound = objectives.importance_weighted_bound(record.log_weights())
        tempered = objectives.importance_weighted_bound(
            record.log_weights(self.beta * tf.convert_to_tensor(self.kl_weight)))
        return {**terms, "iw_bound": bound, "iw_objective": -tempered}
