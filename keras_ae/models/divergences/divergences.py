"""Named configurations matching the aggregate posterior to the prior beyond the KL: InfoVAE, WAE-MMD, AAE.

Each is a :class:`~keras_ae.models.VAE` whose regularizer part compares the *aggregate*
posterior ``q(z) = E_{p(x)} q(z|x)`` with the prior from a minibatch of codes and draws of the
prior's own sampler (:mod:`keras_ae.parts.regularizers`):

- the maximum mean discrepancy (:class:`~keras_ae.parts.MMD`): :func:`InfoVAE` (Zhao et al. 2019)
  and its deterministic-encoder case :func:`WAE` (Tolstikhin et al. 2018, WAE-MMD);
- a latent discriminator on its own optimizer (:class:`~keras_ae.parts.Adversarial`):
  :func:`AdversarialAutoencoder` (Makhzani et al. 2016; Tolstikhin et al.'s WAE-GAN).

With deterministic codes the training codes are the posterior means; the Gaussian posterior stays
in the model, so ``log_likelihood`` still importance-samples with ``q(z|x)``.
"""

from keras_ae.models.vae.vae import VAE, named_configuration
from keras_ae.parts import MMD, Adversarial
from keras_ae.parts.regularizers import WAE_KERNEL_MULTIPLIERS  # noqa: F401


@named_configuration
def InfoVAE(input_shape, latent_dim, alpha=1.0, mmd_weight=10.0, kernel="imq", kernel_scale=None,
            kernel_multipliers=None, deterministic_encoder=False, beta=1.0, **kwargs):
    """InfoVAE (Zhao, Song & Ermon 2019) with the MMD divergence; ``alpha = 1`` is the MMD-VAE.

    Objective per example (minimised)::

        E_q[-log p(x|z)] + (1 - alpha) * beta * kl_weight * KL(q(z|x) || p(z))
                         + (alpha + lambda - 1) * MMD_u^2(q(z), p(z))

    Args:
        alpha: in [0, 1], default 1.0 (the MMD-VAE of Zhao et al.'s tutorial, which drops the KL).
        mmd_weight: ``lambda`` >= 1 - alpha, default 10.0 (Tolstikhin et al.'s MNIST weight).
        kernel: ``"imq"`` (default) or ``"rbf"``; kernel_scale: ``C``, default ``2 * latent_dim``;
        kernel_multipliers: default (1.0,) for ``"rbf"``, Tolstikhin et al.'s (0.1, ..., 10) for ``"imq"``.
        deterministic_encoder: train on the posterior means, default False.
        beta: the KL's weight, default 1.0 (refused with ``alpha = 1``, which leaves no KL term).
        other arguments: see :class:`~keras_ae.models.VAE` (``num_samples`` 1).
    """
    regularizer = MMD(weight=mmd_weight, alpha=alpha, beta=beta, kernel=kernel, kernel_scale=kernel_scale,
                      kernel_multipliers=kernel_multipliers, deterministic_codes=deterministic_encoder)
    return VAE(input_shape, latent_dim, regularizer=regularizer, **kwargs)


@named_configuration
def WAE(input_shape, latent_dim, mmd_weight=10.0, kernel="imq", kernel_scale=None, kernel_multipliers=None,
        deterministic_encoder=True, alpha=1.0, **kwargs):
    """Wasserstein autoencoder with the MMD penalty (WAE-MMD, Tolstikhin et al. 2018, algorithm 2).

    Objective per example (minimised): ``c(x, G(z)) + lambda * MMD_u^2(q(z), p(z))``, ``z = E(x)``
    (deterministic encoder), the cost ``c = -log p(x|z)`` of the likelihood (``"gaussian"`` with
    ``decoder_scale="fixed"`` gives the paper's squared error, halved, plus a constant). ``score``
    is the cost at the code. ``VAE(regularizer=MMD(weight, alpha=1, deterministic_codes=True))``.

    Args:
        mmd_weight: ``lambda`` >= 0, default 10.0 (Tolstikhin et al., MNIST).
        kernel, kernel_scale, kernel_multipliers: see :func:`InfoVAE` (``"imq"``: the paper's).
        deterministic_encoder: default True (the paper's experiments).
        alpha: 1 (the WAE has no KL term; InfoVAE takes alpha < 1).
        other arguments: see :class:`~keras_ae.models.VAE` (``beta`` and ``free_bits``, the KL's,
            are refused: there is no KL term).
    """
    if alpha != 1:
        raise ValueError(f"alpha is 1 for the WAE (no KL term), got {alpha}; use InfoVAE for alpha < 1")
    regularizer = MMD(weight=mmd_weight, alpha=1.0, kernel=kernel, kernel_scale=kernel_scale,
                      kernel_multipliers=kernel_multipliers, deterministic_codes=deterministic_encoder)
    return VAE(input_shape, latent_dim, regularizer=regularizer, **kwargs)


@named_configuration
def AdversarialAutoencoder(input_shape, latent_dim, adversarial_weight=1.0, discriminator_units=(512, 512, 512, 512),
                           deterministic_encoder=True, **kwargs):
    """Adversarial autoencoder (Makhzani et al. 2016) / WAE-GAN (Tolstikhin et al. 2018, algorithm 1).

    Alternating: the autoencoder minimises ``-log p(x|z) + lambda * softplus(-D(z))``; the latent
    discriminator (parameter group ``"discriminator"``, ``Adam(5e-4, beta_1=0.5)`` by default, the
    WAE-GAN's) tells prior draws from codes. ``VAE(regularizer=Adversarial(...))``.

    Args:
        adversarial_weight: ``lambda`` >= 0, default 1.0 (WAE-GAN on MNIST).
        discriminator_units: hidden layers of ``D``, default (512, 512, 512, 512) (the WAE-GAN's).
        deterministic_encoder: default True; False gives the Gaussian-posterior AAE.
        other arguments: see :class:`~keras_ae.models.VAE` (``num_samples`` 1; ``beta`` and
            ``free_bits``, the KL's, are refused: there is no KL term).
    """
    regularizer = Adversarial(weight=adversarial_weight, units=discriminator_units,
                              deterministic_codes=deterministic_encoder)
    return VAE(input_shape, latent_dim, regularizer=regularizer, **kwargs)
