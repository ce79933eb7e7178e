"""Named disentangling configurations: beta-TCVAE, FactorVAE, DIP-VAE-I/-II and controlled capacity increase.

Each is a :class:`~keras_ae.models.VAE` (whose ``beta`` gives the beta-VAE of Higgins et al.
2017) with another regularizer part (:mod:`keras_ae.parts.regularizers`) pushing the aggregate
posterior ``q(z) = E_{p(x)} q(z|x)`` towards a factorized one:

- :func:`BetaTCVAE`: the KL split into index-code mutual information, total correlation and
  dimension-wise KL, the total correlation weighted by ``beta`` (Chen et al. 2018);
- :func:`FactorVAE`: ``+ gamma * TC`` estimated by a permute-dims discriminator trained on its own
  optimizer (Kim & Mnih 2018);
- :func:`DIPVAE`: the covariance of ``q(z)`` pushed to the identity (Kumar et al. 2018);
- :func:`CapacityVAE`: a KL of ``C`` nats targeted, ``C`` raised by a schedule (Burgess et al. 2018).
"""

from keras_ae.models.vae.vae import VAE, named_configuration
from keras_ae.parts import DIP, Capacity, DiscriminatorTC, TotalCorrelation


def _kl_arguments(kwargs):
    """The KL's arguments among a configuration's keyword arguments (they go to its regularizer)."""
    return {k: kwargs.pop(k) for k in ("beta", "free_bits") if k in kwargs}


@named_configuration
def BetaTCVAE(input_shape, latent_dim, beta=6.0, alpha=1.0, gamma=1.0, estimator="mws", dataset_size=None,
              **kwargs):
    """beta-TCVAE (Chen, Li, Grosse & Duvenaud 2018): ``VAE(regularizer=TotalCorrelation(...))``.

    Objective per example (minimised), one draw ``z_i ~ q(z|x_i)``, ``w = kl_weight``::

        E_q[-log p(x|z)] + w * (alpha * MI + beta * TC + gamma * dimension-wise KL)

    with the aggregate densities estimated on the minibatch (``"mws"`` or ``"mss"``). Logged:
    ``mutual_information``, ``total_correlation``, ``dimension_kl``.

    Args:
        beta: weight of the total correlation, >= 0, default 6.0 (Chen et al.'s dSprites command).
        alpha, gamma: weights of the mutual information and the dimension-wise KL, default 1.0.
        estimator: ``"mws"`` (default) or ``"mss"``; dataset_size: ``N``, needed by ``"mss"``.
        other arguments: see :class:`~keras_ae.models.VAE` (Gaussian posterior, factorized prior,
            ``num_samples`` 1, no ``free_bits``).
    """
    return VAE(input_shape, latent_dim, regularizer=TotalCorrelation(beta, alpha, gamma, estimator, dataset_size),
               **kwargs)


@named_configuration
def FactorVAE(input_shape, latent_dim, gamma=10.0, discriminator_units=(1000,) * 6, discriminator_learning_rate=1e-4,
              **kwargs):
    """FactorVAE (Kim & Mnih 2018): ``VAE(regularizer=DiscriminatorTC(...))``.

    Alternating (the paper's algorithm 1): the VAE minimises ``E_q[-log p(x|z)] + beta * kl_weight * KL
    + gamma * D(z)``; the discriminator (parameter group ``"discriminator"``) tells codes from their
    permute-dims shuffle. ``compile()`` gives it ``Adam(discriminator_learning_rate, beta_1=0.5,
    beta_2=0.9)`` (the paper's); pass another as ``group_optimizers={"discriminator": ...}``.

    Args:
        gamma: weight of the TC, >= 0, default 10.0.
        discriminator_units: default six layers of 1000 (the paper's), leaky ReLU 0.2.
        discriminator_learning_rate: > 0, default 1e-4 (the paper's).
        other arguments: see :class:`~keras_ae.models.VAE` (``beta``, ``free_bits`` the KL's;
            ``num_samples`` 1).
    """
    regularizer = DiscriminatorTC(gamma=gamma, units=discriminator_units, learning_rate=discriminator_learning_rate,
                                  **_kl_arguments(kwargs))
    return VAE(input_shape, latent_dim, regularizer=regularizer, **kwargs)


@named_configuration
def DIPVAE(input_shape, latent_dim, dip_type="i", lambda_od=10.0, lambda_d=None, **kwargs):
    """DIP-VAE-I and -II (Kumar, Sattigeri & Balakrishnan 2018): ``VAE(regularizer=DIP(...))``.

    Objective per example: ``-ELBO_beta(x) + lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2``,
    ``C`` the minibatch covariance of the posterior means (I) or of ``q(z)`` (II). Logged: ``dip_penalty``.

    Args:
        dip_type: ``"i"`` (default) or ``"ii"``.
        lambda_od: off-diagonal weight, default 10.0; lambda_d: diagonal weight, default
            ``10 * lambda_od`` for ``"i"``, ``lambda_od`` for ``"ii"`` (the paper's rule).
        other arguments: see :class:`~keras_ae.models.VAE`.
    """
    regularizer = DIP(dip_type=dip_type, lambda_od=lambda_od, lambda_d=lambda_d, **_kl_arguments(kwargs))
    return VAE(input_shape, latent_dim, regularizer=regularizer, **kwargs)


@named_configuration
def CapacityVAE(input_shape, latent_dim, gamma=1000.0, capacity=25.0, **kwargs):
    """beta-VAE with controlled capacity increase (Burgess et al. 2018): ``VAE(regularizer=Capacity(...))``.

    Objective per example: ``E_q[-log p(x|z)] + gamma * | mean_batch KL - C |``; ``C`` is
    ``model.capacity``, raised by e.g. ``KLWarmup(epochs=E, start=0.0, end=25.0, variable="capacity")``.
    Logged: ``capacity_penalty``.

    Args:
        gamma: weight of the penalty, default 1000.0 (the paper's dSprites value).
        capacity: ``C`` without a schedule, default 25.0 nats (the paper's final capacity on dSprites).
        other arguments: see :class:`~keras_ae.models.VAE` (``beta`` must be 1).
    """
    return VAE(input_shape, latent_dim, regularizer=Capacity(gamma=gamma, capacity=capacity, **_kl_arguments(kwargs)),
               **kwargs)
