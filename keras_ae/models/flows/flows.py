"""Named configurations with normalizing-flow posteriors: ``IAFVAE`` and ``PlanarVAE``.

Each is a :class:`~keras_ae.models.VAE` whose posterior part is a Gaussian pushed through an
invertible map ``f_x`` (:mod:`keras_ae.parts.posteriors`), with

    log q(z|x) = log N(z_0; mu, sigma^2) - log |det df_x/dz_0|,   z = f_x(z_0)

from the sampling direction. Objective per example (minimised), ``z_s = f_x(z_0s)``::

    mean_s [-log p(x|z_s)] + beta * kl_weight * mean_s [log q(z_s|x) - log p(z_s)]

(the KL has no closed form: Monte Carlo on the reconstruction's draws). The code is ``f_x(mu(x))``;
``encode_outputs`` adds ``base_mean`` and ``base_scale``. ``free_bits`` is refused (no per-dimension KL).
"""

from keras_ae.models.vae.vae import VAE, named_configuration
from keras_ae.parts import IAFPosterior, PlanarPosterior


@named_configuration
def IAFVAE(input_shape, latent_dim, flow_steps=2, flow_hidden_units=(64,), flow_amortized=False, **kwargs):
    """VAE with an inverse autoregressive flow posterior (Kingma et al. 2016, "Improved variational inference
    with inverse autoregressive flow"): ``VAE(posterior=IAFPosterior(steps, hidden_units, amortized))``.

    ``K`` steps ``z_k = (z_{k-1} - t_k) exp(-s_k)``, ``(t_k, s_k)`` = MADE_k(``z_{k-1}``) (and of the
    encoder features ``h(x)`` with ``flow_amortized=True``), order reversed between steps; the MADEs
    start at the identity (training starts from the VAE).

    Args:
        flow_steps: ``K`` >= 1, default 2.
        flow_hidden_units: hidden layers of each MADE, default ``(64,)`` (the iaf-digits recipe; 256 on MNIST).
        flow_amortized: the MADEs also read ``h(x)``, default False: 0.73 nats better test NLL
            without on the MNIST subset at 30 epochs (3 seeds; :class:`~keras_ae.parts.IAFPosterior`
            gives the figures), and then 0.80 below the plain VAE, as pythae's unconditioned IAF is.
        other arguments: see :class:`~keras_ae.models.VAE`.

    Example::

        model = IAFVAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), flow_steps=2)
    """
    return VAE(input_shape, latent_dim, posterior=IAFPosterior(steps=flow_steps, hidden_units=flow_hidden_units,
                                                                amortized=flow_amortized), **kwargs)


@named_configuration
def PlanarVAE(input_shape, latent_dim, flow_steps=10, **kwargs):
    """VAE with ``K`` planar flows on the posterior (Rezende & Mohamed 2015, "Variational inference with
    normalizing flows"): ``VAE(posterior=PlanarPosterior(steps))``.

    ``z_k = z_{k-1} + u_hat_k tanh(w_k . z_{k-1} + b_k)``, parameters amortized from the encoder
    features, ``w_k . u_hat_k >= -1`` (invertible).

    Args:
        flow_steps: ``K`` >= 1, default 10 (the paper's smallest MNIST flow).
        other arguments: see :class:`~keras_ae.models.VAE`.
    """
    return VAE(input_shape, latent_dim, posterior=PlanarPosterior(steps=flow_steps), **kwargs)
