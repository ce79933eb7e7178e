"""Named configurations with learned priors: ``MoGPriorVAE``, ``VampPriorVAE`` and ``MAFPriorVAE``.

Each is a :class:`~keras_ae.models.VAE` whose prior part has trainable weights, trained with
the rest of the model on the same ELBO (objective as the VAE's; no closed-form KL, so the KL is
Monte Carlo on the reconstruction's draws, and ``free_bits`` is refused). ``sample()`` and the
exported ``sample`` use the prior part's own builtin-op sampler (:mod:`keras_ae.parts.priors`).
"""

from keras_ae.models.vae.vae import VAE, named_configuration
from keras_ae.parts import MAFPrior, MixturePrior, VampPrior


@named_configuration
def MoGPriorVAE(input_shape, latent_dim, prior_components=10, **kwargs):
    """VAE with a learned mixture-of-Gaussians prior: ``VAE(prior=MixturePrior(components))``.

    ``p(z) = sum_k pi_k N(z; m_k, diag s_k^2)``; means start at ``N(0, 1)`` draws (the model's
    seed), scales at 1 (Tomczak & Welling 2018 compare it with the VampPrior).

    Args:
        prior_components: ``K`` >= 1, default 10.
        other arguments: see :class:`~keras_ae.models.VAE`.
    """
    return VAE(input_shape, latent_dim, prior=MixturePrior(components=prior_components), **kwargs)


@named_configuration
def VampPriorVAE(input_shape, latent_dim, pseudo_inputs=50, **kwargs):
    """VAE with the VampPrior (Tomczak & Welling 2018, "VAE with a VampPrior"): ``VAE(prior=VampPrior(K))``.

    ``p(z) = (1/K) sum_k q(z | u_k)`` over ``K`` learned pseudo-inputs kept in [0, 1] (hard tanh).

    Args:
        pseudo_inputs: ``K`` >= 1, default 50 (500 in the paper's MNIST runs).
        other arguments: see :class:`~keras_ae.models.VAE`.
    """
    return VAE(input_shape, latent_dim, prior=VampPrior(pseudo_inputs=pseudo_inputs), **kwargs)


@named_configuration
def MAFPriorVAE(input_shape, latent_dim, prior_flow_steps=2, prior_hidden_units=(64,), **kwargs):
    """VAE with a masked autoregressive flow prior (Papamakarios et al. 2017; as a VAE prior, Chen et al.
    2017, "Variational lossy autoencoder"): ``VAE(prior=MAFPrior(steps, hidden_units))``.

    ``z = g(e)``, ``e ~ N(0, I)``; ``log p(z)`` is one parallel pass per step, sampling
    ``latent_dim`` passes; the MADEs start at the identity.

    Args:
        prior_flow_steps: ``K`` >= 1, default 2.
        prior_hidden_units: hidden layers of each MADE, default ``(64,)``.
        other arguments: see :class:`~keras_ae.models.VAE`.
    """
    return VAE(input_shape, latent_dim, prior=MAFPrior(steps=prior_flow_steps, hidden_units=prior_hidden_units),
               **kwargs)
