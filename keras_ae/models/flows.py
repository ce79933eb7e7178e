"""VAEs with normalizing-flow posteriors: planar flows and inverse autoregressive flow (IAF).

The posterior is ``q(z|x) = tfd.TransformedDistribution(N(mu(x), diag sigma(x)^2), f_x)``: a
diagonal Gaussian pushed through an invertible map ``f_x`` whose parameters depend on ``x``. For a
draw ``z = f_x(z_0)``, ``z_0 ~ N(mu, sigma^2)``,

    log q(z|x) = log N(z_0; mu, sigma^2) - log |det df_x/dz_0|

(change of variables), computed in the sampling direction only, so training never inverts the
flow. The importance-weight record (IS-NLL, the IWAE bound) is filled from these draws; the KL has
no closed form and is estimated by Monte Carlo on the same draws as the reconstruction.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives
from keras_ae.layers.flows import AutoregressiveFlow, PlanarFlow
from keras_ae.models.vae import SCORE_KL_SAMPLES, VAE

tfd = tfp.distributions


class FlowPosteriorVAE(VAE):
    """A VAE whose posterior is a Gaussian pushed through a flow; subclasses give the flow.

    Objective per example (minimised), ``z_s = f_x(z_0s)``, ``z_0s ~ N(mu(x), sigma(x)^2)``::

        mean_s [-log p(x|z_s)] + beta * kl_weight * mean_s [log q(z_s|x) - log p(z_s)]

    Codes: ``encode(x) = f_x(mu(x))``, the flow applied to the base mean (a deterministic code; the
    posterior mean has no closed form). ``encode_outputs`` adds ``base_mean`` and ``base_scale``.
    ``free_bits`` is not supported (no per-dimension KL).

    Subclasses implement ``build_flow()`` (create the flow's layers) and ``flow_bijector(h)``
    (the ``tfb`` bijector for encoder features ``h`` ``[B, F]``).
    """

    def __init__(self, input_shape, latent_dim, **kwargs):
        if kwargs.get("free_bits", 0.0):
            raise ValueError(f"free_bits must be 0 for a flow posterior (the KL has no per-dimension form), "
                             f"got {kwargs['free_bits']}")
        super().__init__(input_shape, latent_dim, **kwargs)

    def build_latent(self):
        super().build_latent()
        self.build_flow()

    def feature_size(self):
        """Size of the encoder body's flat features ``F``."""
        return int(self.encoder_body.compute_output_shape((None,) + self.data_shape)[-1])

    def build_flow(self):
        raise NotImplementedError(f"{type(self).__name__} must implement build_flow")

    def flow_bijector(self, h):
        raise NotImplementedError(f"{type(self).__name__} must implement flow_bijector")

    # -- the posterior ---------------------------------------------------------------------------
    def _posterior(self, x):
        h = self.encoder_body(x)
        return tfd.TransformedDistribution(self.encoder_head(h), self.flow_bijector(h), name="flow_posterior")

    def posterior_code(self, q):
        """``f_x(mu(x))`` ``[B, latent_dim]``."""
        return tf.cast(q.bijector.forward(q.distribution.mean()), tf.float32)

    def _encode_outputs(self, x):
        """``{"code", "base_mean", "base_scale"}``: ``f_x(mu)``, and the base Gaussian's ``mu`` and ``sigma``."""
        q = self._posterior(x)
        return {"code": self.posterior_code(q), "base_mean": tf.cast(q.distribution.mean(), tf.float32),
                "base_scale": tf.cast(q.distribution.stddev(), tf.float32)}

    @staticmethod
    def push_forward(q, z0):
        """``(z, log q(z|x))`` for base points ``z0`` ``[n, B, D]``: the flow and the change of variables."""
        z = q.bijector.forward(z0)
        log_qz = q.distribution.log_prob(z0) - q.bijector.forward_log_det_jacobian(z0, event_ndims=1)
        return z, tf.cast(log_qz, tf.float32)

    def draw_codes_and_log_q(self, q, n, seed):
        """``n`` reparameterized draws ``[n, B, D]`` of ``q`` with their ``log q`` ``[n, B]``."""
        return self.push_forward(q, q.distribution.sample(n, seed=seed))

    def draw_codes(self, q, n, seed, training=False):
        return self.draw_codes_and_log_q(q, n, seed)[0]

    def kl(self, q, seed=None):
        """Monte Carlo ``KL(q(z|x) || p(z))`` ``[B]``: one fresh draw with a ``seed``; without one,
        ``SCORE_KL_SAMPLES`` fixed base draws (deterministic, builtin ops: ``score`` exports to TFLite)."""
        if seed is not None:
            z, log_qz = self.draw_codes_and_log_q(q, 1, seed)
        else:
            base = q.distribution
            mean, std = tf.cast(base.mean(), tf.float32), tf.cast(base.stddev(), tf.float32)
            eps = np.random.default_rng(self.seed).standard_normal((SCORE_KL_SAMPLES, self.latent_dim))
            z, log_qz = self.push_forward(q, mean[None] + std[None] * tf.constant(eps, tf.float32)[:, None])
        return tf.reduce_mean(log_qz - tf.cast(self._prior().log_prob(z), tf.float32), axis=0)

    # -- importance weights and training ----------------------------------------------------
    def _importance_samples(self, x, num_samples, seed, training=False):
        q = self._posterior(x)
        z, log_qz = self.draw_codes_and_log_q(q, num_samples, seed)
        log_pz = tf.cast(self._prior().log_prob(z), tf.float32)
        return objectives.ImportanceSamples(self.log_prob_of_codes(x, z), log_pz, log_qz, q, z)

    def _loss_terms(self, x, training=False):
        record = self._importance_samples(x, self.num_samples, self.noise_seed(stream=1), training)
        reconstruction = -tf.reduce_mean(record.log_px_given_z, axis=0)
        kl = tf.reduce_mean(record.log_qz - record.log_pz, axis=0)  # the same draws as the reconstruction
        terms = {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl), "kl_objective": kl}
        return self.extra_terms(terms, record)


@keras.saving.register_keras_serializable(package="keras_ae")
class IAFVAE(FlowPosteriorVAE):
    """VAE with an inverse autoregressive flow posterior (Kingma et al. 2016, "Improved variational
    inference with inverse autoregressive flow").

    ``z_0 ~ N(mu(x), sigma(x)^2)``, then ``K`` steps ``z_k = (z_{k-1} - t_k) exp(-s_k)`` with
    ``(t_k, s_k)`` = MADE_k(``z_{k-1}``, ``h(x)``) autoregressive in ``z_{k-1}`` and conditioned on
    the encoder features ``h(x)``; the order is reversed between steps. Each step is
    ``tfb.Invert(tfb.MaskedAutoregressiveFlow(...))`` with a Keras 3 :class:`~keras_ae.layers.MADE`;
    its log-determinant is ``-sum_i s_i`` (triangular Jacobian). The MADEs start at the identity
    (zero output kernels), so training starts from the plain VAE. Objective: see
    :class:`FlowPosteriorVAE`.

    Args:
        flow_steps: ``K`` >= 1, default 2.
        flow_hidden_units: hidden layers of each MADE, default ``(64,)``.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``free_bits`` must be 0).

    Example::

        model = IAFVAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), flow_steps=2)
        model.compile()
        model.fit(x_train, epochs=10)
        nll = -model.log_likelihood(x_test[:100], num_samples=1000)
    """

    def __init__(self, input_shape, latent_dim, flow_steps=2, flow_hidden_units=(64,), **kwargs):
        self.flow_steps = _checks.check_positive_int(flow_steps, "flow_steps")
        self.flow_hidden_units = tuple(_checks.check_positive_int(u, "flow_hidden_units entries")
                                       for u in flow_hidden_units)
        super().__init__(input_shape, latent_dim, **kwargs)

    def get_config(self):
        return {**super().get_config(), "flow_steps": self.flow_steps,
                "flow_hidden_units": list(self.flow_hidden_units)}

    def build_flow(self):
        self.flow = AutoregressiveFlow(self.latent_dim, self.flow_steps, self.flow_hidden_units,
                                       context_size=self.feature_size(), inverse_autoregressive=True,
                                       activation=self.activation, kernel_initializer=self.kernel_initializer,
                                       name="iaf")

    def flow_bijector(self, h):
        return self.flow.bijector(context=tf.cast(h, tf.float32))


@keras.saving.register_keras_serializable(package="keras_ae")
class PlanarVAE(FlowPosteriorVAE):
    """VAE with ``K`` planar flows on the posterior (Rezende & Mohamed 2015, "Variational inference
    with normalizing flows").

    ``z_k = z_{k-1} + u_hat_k tanh(w_k . z_{k-1} + b_k)``, with ``(u_k, w_k, b_k)`` a linear function
    of the encoder features (amortized, as in the paper) and ``u_hat_k`` constrained so that
    ``w_k . u_hat_k >= -1`` (invertible; the paper's appendix A.1);
    ``log |det| = sum_k log(1 + (1 - tanh^2(.)) w_k . u_hat_k)``. Objective: see
    :class:`FlowPosteriorVAE`.

    Args:
        flow_steps: ``K`` >= 1, default 10.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``free_bits`` must be 0).

    Example::

        model = PlanarVAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), flow_steps=10)
    """

    def __init__(self, input_shape, latent_dim, flow_steps=10, **kwargs):
        self.flow_steps = _checks.check_positive_int(flow_steps, "flow_steps")
        super().__init__(input_shape, latent_dim, **kwargs)

    def get_config(self):
        return {**super().get_config(), "flow_steps": self.flow_steps}

    def build_flow(self):
        self.flow = PlanarFlow(self.latent_dim, self.flow_steps, kernel_initializer=self.kernel_initializer,
                               name="planar")

    def flow_bijector(self, h):
        return self.flow.bijector(h)
