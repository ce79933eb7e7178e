"""VAEs with learned priors: a mixture of Gaussians, the VampPrior, and a MAF prior.

The posterior stays the VAE's diagonal Gaussian; the prior ``p(z)`` becomes a distribution with
trainable weights, trained with the rest of the model on the same ELBO. No closed-form KL exists
for these priors, so :meth:`VAE.kl` estimates it by Monte Carlo by itself. ``sample()`` and the
exported ``sample`` draw from the learned prior; each model writes its export sampler with
builtin random ops (uniform, normal, gather, matmul), so the TFLite file keeps ``sample``.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, samplers
from keras_ae.layers.flows import AutoregressiveFlow
from keras_ae.models.vae import VAE

tfd = tfp.distributions


def _check_no_free_bits(kwargs):
    """Free bits need a per-dimension closed-form KL, which no learned prior here has."""
    if kwargs.get("free_bits", 0.0):
        raise ValueError(f"free_bits must be 0 with a learned prior (no per-dimension KL), got {kwargs['free_bits']}")


def _component_index(n, probabilities, seed=None):
    """``n`` draws ``[n]`` of a categorical with ``probabilities`` ``[K]``, by the inverse CDF of a uniform.

    Builtin ops only (``tf.random.uniform`` with ``seed=None``), unlike TFP's categorical sampler.
    """
    cdf = tf.cumsum(probabilities)[:-1]  # [K - 1]
    u = samplers.uniform(tf.reshape(tf.cast(n, tf.int32), [1]), seed)  # [n]
    return tf.reduce_sum(tf.cast(u[:, None] >= cdf[None, :], tf.int32), axis=1)


def _mixture_draw(n, probabilities, locs, scales, seed=None):
    """``n`` draws ``[n, D]`` of ``sum_k pi_k N(locs_k, diag scales_k^2)`` with builtin ops."""
    index_seed, noise_seed = samplers.split_seed(seed, 2)
    k = _component_index(n, probabilities, index_seed)
    eps = samplers.normal(tf.stack([tf.cast(n, tf.int32), tf.shape(locs)[-1]]), noise_seed)
    return tf.gather(locs, k) + tf.gather(scales, k) * eps


@keras.saving.register_keras_serializable(package="keras_ae")
class MoGPriorVAE(VAE):
    """VAE with a learned mixture-of-Gaussians prior.

    ``p(z) = sum_k pi_k N(z; m_k, diag s_k^2)``, ``pi = softmax(logits)``, with ``logits``, ``m_k``
    and ``log s_k`` trained on the ELBO (objective as :class:`~keras_ae.models.vae.VAE`, KL by
    Monte Carlo). Means start at ``N(0, 1)`` draws (seeded by the model's seed), scales at 1.

    Args:
        prior_components: ``K`` >= 1, default 10.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``free_bits`` must be 0).

    Example::

        model = MoGPriorVAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), prior_components=10)

    Reference: the mixture prior is the simplest "parameterized, learned prior"; Tomczak &
    Welling 2018 ("VAE with a VampPrior") compare it with the VampPrior.
    """

    def __init__(self, input_shape, latent_dim, prior_components=10, **kwargs):
        _check_no_free_bits(kwargs)
        self.prior_components = _checks.check_positive_int(prior_components, "prior_components")
        super().__init__(input_shape, latent_dim, **kwargs)
        self.prior_logits = self.add_weight(name="prior_logits", shape=(self.prior_components,), initializer="zeros")
        self.prior_locs = self.add_weight(name="prior_locs", shape=(self.prior_components, self.latent_dim),
                                          initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))
        self.prior_log_scales = self.add_weight(name="prior_log_scales",
                                                shape=(self.prior_components, self.latent_dim), initializer="zeros")

    def get_config(self):
        return {**super().get_config(), "prior_components": self.prior_components}

    def _prior(self):
        """``sum_k pi_k N(m_k, diag s_k^2)`` over ``[latent_dim]``."""
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=tf.cast(self.prior_logits, tf.float32)),
            tfd.Independent(tfd.Normal(tf.cast(self.prior_locs, tf.float32),
                                       tf.exp(tf.cast(self.prior_log_scales, tf.float32))),
                            reinterpreted_batch_ndims=1))

    def _prior_codes(self, n, seed):
        return _mixture_draw(n, tf.nn.softmax(tf.cast(self.prior_logits, tf.float32)),
                             tf.cast(self.prior_locs, tf.float32), tf.exp(tf.cast(self.prior_log_scales, tf.float32)),
                             seed)


@keras.saving.register_keras_serializable(package="keras_ae")
class VampPriorVAE(VAE):
    """VAE with the VampPrior (Tomczak & Welling 2018, "VAE with a VampPrior").

    The prior is the encoder's posterior averaged over ``K`` learned pseudo-inputs ``u_k``::

        p(z) = (1/K) sum_k q(z | u_k),    log p(z) = log-mean-exp_k log q(z | u_k)

    The pseudo-inputs are data-shaped weights kept in [0, 1] by a hard tanh (clipping), as in the
    paper; they start at uniform [0, 1] draws. Objective: the VAE's negative ELBO with this prior
    (KL by Monte Carlo). ``sample`` picks a pseudo-input uniformly and draws from its posterior.

    Args:
        pseudo_inputs: ``K`` >= 1, default 50.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``free_bits`` must be 0).

    Example::

        model = VampPriorVAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), pseudo_inputs=500)
    """

    def __init__(self, input_shape, latent_dim, pseudo_inputs=50, **kwargs):
        _check_no_free_bits(kwargs)
        self.num_pseudo_inputs = _checks.check_positive_int(pseudo_inputs, "pseudo_inputs")
        super().__init__(input_shape, latent_dim, **kwargs)
        self.pseudo_inputs = self.add_weight(
            name="pseudo_inputs", shape=(self.num_pseudo_inputs,) + self.data_shape,
            initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed))

    def get_config(self):
        return {**super().get_config(), "pseudo_inputs": self.num_pseudo_inputs}

    def pseudo_posteriors(self):
        """``(loc, scale)`` ``[K, latent_dim]`` of ``q(z | u_k)`` for the clipped pseudo-inputs."""
        u = tf.clip_by_value(tf.cast(self.pseudo_inputs, tf.float32), 0.0, 1.0)
        return self.encoder_head.parameters(self.encoder_body(u))

    def _prior(self):
        """``(1/K) sum_k q(z | u_k)`` over ``[latent_dim]``."""
        loc, scale = self.pseudo_posteriors()
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=tf.zeros([self.num_pseudo_inputs])),
            tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1))

    def _prior_codes(self, n, seed):
        loc, scale = self.pseudo_posteriors()
        return _mixture_draw(n, tf.fill([self.num_pseudo_inputs], 1.0 / self.num_pseudo_inputs), loc, scale, seed)


@keras.saving.register_keras_serializable(package="keras_ae")
class MAFPriorVAE(VAE):
    """VAE with a masked autoregressive flow prior (Papamakarios et al. 2017, "Masked autoregressive
    flow for density estimation"; as a VAE prior, e.g. Chen et al. 2017, "Variational lossy autoencoder").

    ``z = g(e)``, ``e ~ N(0, I)``, ``g`` = ``K`` MAF steps (Keras 3 MADEs through
    ``tfb.MaskedAutoregressiveFlow``, order reversed between steps), so
    ``log p(z) = log N(g^{-1}(z); 0, I) + log |det dg^{-1}/dz|`` is one parallel pass per step:
    cheap on the posterior's draws in training. Sampling takes ``latent_dim`` passes per step (the
    exported ``sample`` unrolls them with builtin ops). The MADEs start at the identity, so
    training starts from the standard normal prior. Objective: the VAE's negative ELBO with this
    prior (KL by Monte Carlo).

    Args:
        prior_flow_steps: ``K`` >= 1, default 2.
        prior_hidden_units: hidden layers of each MADE, default ``(64,)``.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``free_bits`` must be 0).

    Example::

        model = MAFPriorVAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), prior_flow_steps=2)
    """

    def __init__(self, input_shape, latent_dim, prior_flow_steps=2, prior_hidden_units=(64,), **kwargs):
        _check_no_free_bits(kwargs)
        self.prior_flow_steps = _checks.check_positive_int(prior_flow_steps, "prior_flow_steps")
        self.prior_hidden_units = tuple(_checks.check_positive_int(u, "prior_hidden_units entries")
                                        for u in prior_hidden_units)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.prior_flow = AutoregressiveFlow(self.latent_dim, self.prior_flow_steps, self.prior_hidden_units,
                                             activation=self.activation, kernel_initializer=self.kernel_initializer,
                                             name="prior_flow")

    def get_config(self):
        return {**super().get_config(), "prior_flow_steps": self.prior_flow_steps,
                "prior_hidden_units": list(self.prior_hidden_units)}

    def _prior(self):
        base = tfd.Independent(tfd.Normal(tf.zeros([self.latent_dim]), 1.0), reinterpreted_batch_ndims=1)
        return tfd.TransformedDistribution(base, self.prior_flow.bijector(), name="maf_prior")

    def _prior_codes(self, n, seed):
        """``g(e)``, ``e ~ N(0, I)`` ``[n, latent_dim]``, with the builtin-op forward pass."""
        e = samplers.normal(tf.stack([tf.cast(n, tf.int32), self.latent_dim]), seed)
        return self.prior_flow.sample_forward(e)
