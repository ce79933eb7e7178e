"""Latent matching beyond the KL: WAE-MMD, InfoVAE / MMD-VAE and the adversarial autoencoder (WAE-GAN).

Each model keeps the VAE's networks (Gaussian encoder head, likelihood head, ``N(0, I)`` prior,
samplers and export) and changes the regularizer: the KL between each posterior and the prior is
replaced, in part or in full, by a divergence between the *aggregate* posterior
``q(z) = E_{p(x)} q(z|x)`` and the prior, estimated from a minibatch of codes and prior draws:

- the maximum mean discrepancy (:func:`keras_ae.objectives.mmd_u_statistic`): :class:`InfoVAE`
  (Zhao et al. 2019) and its deterministic-encoder special case :class:`WAE` (Tolstikhin et al.
  2018, WAE-MMD);
- a latent discriminator trained on its own optimizer (the contract's ``PARAMETER_GROUPS``):
  :class:`AdversarialAutoencoder` (Makhzani et al. 2016; Tolstikhin et al.'s WAE-GAN).

Batch terms (the MMD, the discriminator's) are properties of a minibatch: each is returned once per
example, so the batch mean of the per-example loss is the term; under ``tf.distribute`` each
replica computes it on its own slice of the global batch.
"""

import keras
import tensorflow as tf

from keras_ae import _checks, objectives
from keras_ae.layers.bodies import new_kernel_initializer
from keras_ae.models.vae import VAE

#: Tolstikhin et al.'s reference code sums the IMQ kernel at these multiples of ``C = 2 d``.
WAE_KERNEL_MULTIPLIERS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _check_single_sample(num_samples, name):
    if num_samples != 1:
        raise ValueError(f"num_samples must be 1 for {name} (one code per example is matched to the prior), "
                         f"got {num_samples}")


class _DeterministicCodes:
    """Mixin: with ``deterministic_encoder`` the training codes are the posterior means.

    Tolstikhin et al. (2018, section 4) train WAEs with deterministic encoders. The Gaussian head
    stays in the model, so ``log_likelihood`` still importance-samples with ``q(z|x)`` (any proposal
    gives a consistent estimate); only the codes seen in training are the means.
    """

    def draw_codes(self, q, n, seed, training=False):
        if training and self.deterministic_encoder:
            mean = self.posterior_code(q)
            return tf.broadcast_to(mean[None], tf.concat([[n], tf.shape(mean)], 0))
        return super().draw_codes(q, n, seed, training=training)

    def _score(self, x):
        """``-log p(x | z = mean)``: the reconstruction cost at the code (no KL, which the objective lacks)."""
        if not self.deterministic_encoder:
            return super()._score(x)
        return objectives.negative_log_likelihood(self._likelihood(self._encode(x)), x)


class DiscriminatorOptimizerDefault:
    """Mixin: ``compile()`` gives the ``"discriminator"`` group its paper's optimizer unless one is passed.

    ``DISCRIMINATOR_OPTIMIZER`` is the config of a ``keras.optimizers.Adam``; ``compile(group_optimizers=
    {"discriminator": ...})`` overrides it, and a saved model restores the one it was compiled with.
    """

    DISCRIMINATOR_OPTIMIZER = {}

    def compile(self, optimizer=None, group_optimizers=None, **kwargs):
        group_optimizers = dict(group_optimizers or {})
        group_optimizers.setdefault("discriminator", keras.optimizers.Adam(**self.DISCRIMINATOR_OPTIMIZER))
        return super().compile(optimizer=optimizer, group_optimizers=group_optimizers, **kwargs)


def latent_discriminator(units, kernel_initializer, name, leaky_slope=None):
    """An MLP ``[B, D] -> [B, 1]`` logit (Keras 3 layers): ``units`` hidden layers, then a linear logit.

    Hidden activations: ReLU, or a leaky ReLU of slope ``leaky_slope``.
    """
    layers = []
    for i, u in enumerate(units):
        layers.append(keras.layers.Dense(u, activation=None if leaky_slope else "relu", name=f"{name}_hidden_{i}",
                                         kernel_initializer=new_kernel_initializer(kernel_initializer)))
        if leaky_slope:
            layers.append(keras.layers.LeakyReLU(negative_slope=leaky_slope, name=f"{name}_leaky_{i}"))
    layers.append(keras.layers.Dense(1, kernel_initializer=new_kernel_initializer(kernel_initializer),
                                     name=f"{name}_logit"))
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="keras_ae")
class InfoVAE(_DeterministicCodes, VAE):
    """InfoVAE (Zhao, Song & Ermon 2019) with the MMD divergence; ``alpha = 1`` is the MMD-VAE.

    Objective per example (minimised)::

        E_q[-log p(x|z)] + (1 - alpha) * beta * kl_weight * KL(q(z|x) || p(z))
                         + (alpha + lambda - 1) * MMD_u^2(q(z), p(z))

    where ``MMD_u^2`` is the unbiased U-statistic between the batch's codes ``z_i ~ q(z|x_i)`` and
    as many prior draws (:func:`keras_ae.objectives.mmd_u_statistic`), with the kernel ``k`` at
    scale ``C = kernel_scale`` (default ``2 * latent_dim``, Tolstikhin et al.'s ``2 d sigma_z^2``
    for ``N(0, I)``) summed over ``kernel_multipliers``. Logged: ``reconstruction``, ``kl``,
    ``elbo`` (the VAE's) and ``mmd``.

    Args:
        alpha: InfoVAE's ``alpha`` (the KL weight is ``1 - alpha``), in [0, 1], default 1.0 (the
            MMD-VAE of Zhao et al.'s tutorial, which drops the KL).
        mmd_weight: ``lambda`` (MMD weight ``alpha + lambda - 1``), >= 1 - alpha, default 10.0
            (Tolstikhin et al.'s MNIST weight for the same MMD term; not tuned here).
        kernel: ``"imq"`` (default, Tolstikhin et al.) or ``"rbf"``.
        kernel_scale: ``C``, > 0, default ``2 * latent_dim``.
        kernel_multipliers: the kernel is summed at ``C * s`` for each ``s``, default (1.0,)
            for ``"rbf"`` and Tolstikhin et al.'s (0.1, 0.2, 0.5, 1, 2, 5, 10) for ``"imq"``.
        deterministic_encoder: train on the posterior means instead of draws, default False.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``num_samples`` must be 1).

    Example::

        model = InfoVAE(input_shape=(784,), latent_dim=8, hidden_units=(512,), kernel="rbf")
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10)
    """

    TERMS = ("reconstruction", "kl", "elbo", "mmd")

    def __init__(self, input_shape, latent_dim, alpha=1.0, mmd_weight=10.0, kernel="imq", kernel_scale=None,
                 kernel_multipliers=None, deterministic_encoder=False, **kwargs):
        _checks.check_number(alpha, "alpha", minimum=0, maximum=1)
        _checks.check_number(mmd_weight, "mmd_weight", minimum=1.0 - float(alpha))
        _checks.check_choice(kernel, "kernel", objectives.MMD_KERNELS)
        _check_single_sample(kwargs.get("num_samples", 1), type(self).__name__)
        if kernel_scale is not None:
            _checks.check_number(kernel_scale, "kernel_scale", minimum=0, exclusive_minimum=True)
        if kernel_multipliers is None:
            kernel_multipliers = WAE_KERNEL_MULTIPLIERS if kernel == "imq" else (1.0,)
        if isinstance(kernel_multipliers, (str, bytes)) or not isinstance(kernel_multipliers, (list, tuple)) \
                or not kernel_multipliers:
            raise ValueError(f"kernel_multipliers must be a non-empty tuple of numbers > 0, got {kernel_multipliers!r}")
        self.kernel_multipliers = tuple(
            _checks.check_number(s, "kernel_multipliers entries", minimum=0, exclusive_minimum=True)
            for s in kernel_multipliers)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.alpha = float(alpha)
        self.mmd_weight = float(mmd_weight)
        self.kernel = kernel
        self.kernel_scale = 2.0 * self.latent_dim if kernel_scale is None else float(kernel_scale)
        self.deterministic_encoder = bool(deterministic_encoder)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, mmd_weight=self.mmd_weight, kernel=self.kernel,
                      kernel_scale=self.kernel_scale, kernel_multipliers=list(self.kernel_multipliers),
                      deterministic_encoder=self.deterministic_encoder)
        return config

    def mmd_to_prior(self, z, seed):
        """``MMD_u^2`` between codes ``z`` ``[B, latent_dim]`` and ``B`` prior draws from a stateless ``seed``."""
        prior_draws = self._prior().sample(tf.shape(z)[0], seed=seed)
        return objectives.mmd_u_statistic(z, prior_draws, self.kernel, self.kernel_scale, self.kernel_multipliers)

    def loss_weights(self):
        return {"reconstruction": 1.0,
                "kl_objective": (1.0 - self.alpha) * self.beta * tf.convert_to_tensor(self.kl_weight),
                "mmd": self.alpha + self.mmd_weight - 1.0}

    def extra_terms(self, terms, record):
        z = record.codes[0]  # [B, latent_dim]: one code per example
        mmd = self.mmd_to_prior(z, self.noise_seed(stream=3))
        return {**terms, "mmd": objectives.broadcast_to_batch(mmd, z)}


@keras.saving.register_keras_serializable(package="keras_ae")
class WAE(InfoVAE):
    """Wasserstein autoencoder with the MMD penalty (WAE-MMD, Tolstikhin et al. 2018, algorithm 2).

    Objective per example (minimised)::

        c(x, G(z)) + lambda * MMD_u^2(q(z), p(z)),   z = E(x) (deterministic encoder)

    with the cost ``c(x, G(z)) = -log p(x|z)`` of the likelihood head (``likelihood="gaussian"``
    with ``decoder_scale="fixed"`` gives the paper's squared error, halved, plus a constant) and
    ``MMD_u^2`` as in :class:`InfoVAE` (``alpha = 1``). ``score`` is the cost at the code.

    Args:
        mmd_weight: ``lambda``, >= 0, default 10.0 (Tolstikhin et al., MNIST).
        kernel: ``"imq"`` (default, the paper's choice) or ``"rbf"``.
        deterministic_encoder: default True (the paper's experiments).
        other arguments: see :class:`InfoVAE` (``alpha`` is 1).

    Example::

        model = WAE(input_shape=(784,), latent_dim=8, hidden_units=(512,), mmd_weight=10.0)
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10)
        images = model.sample(16, seed=0)
    """

    def __init__(self, input_shape, latent_dim, mmd_weight=10.0, deterministic_encoder=True, **kwargs):
        if kwargs.pop("alpha", 1.0) != 1.0:
            raise ValueError("alpha is 1 for the WAE (no KL term); use InfoVAE for alpha < 1")
        _checks.check_number(mmd_weight, "mmd_weight", minimum=0)
        super().__init__(input_shape, latent_dim, alpha=1.0, mmd_weight=mmd_weight,
                         deterministic_encoder=deterministic_encoder, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("alpha")
        return config


@keras.saving.register_keras_serializable(package="keras_ae")
class AdversarialAutoencoder(DiscriminatorOptimizerDefault, _DeterministicCodes, VAE):
    """Adversarial autoencoder (Makhzani et al. 2016) / WAE-GAN (Tolstikhin et al. 2018, algorithm 1).

    A latent discriminator ``D`` (an MLP giving a logit) tells prior draws ``z' ~ p(z)`` from codes
    ``z ~ q(z|x)``; the encoder learns to fool it. Per example (minimised), alternating:

    - autoencoder (main optimizer): ``c(x, G(z)) + lambda * softplus(-D(z))``, i.e.
      ``-log p(x|z) - lambda * log sigmoid(D(z))`` (the generator's non-saturating loss);
    - discriminator (its own parameter group ``"discriminator"`` and optimizer):
      ``softplus(-D(z')) + softplus(D(z))`` with ``z`` held fixed
      (:func:`keras_ae.objectives.discriminator_cross_entropy`).

    Logged: ``reconstruction``, ``kl``, ``elbo`` (the VAE's, for reference), ``adversarial`` and
    ``discriminator_loss``. ``compile()`` gives the discriminator ``Adam(5e-4, beta_1=0.5)``, the
    WAE-GAN's adversary optimizer (Tolstikhin et al. 2018, section 4); pass another as
    ``compile(group_optimizers={"discriminator": ...})``.

    Args:
        adversarial_weight: ``lambda``, >= 0, default 1.0 (Tolstikhin et al.'s WAE-GAN on MNIST).
        discriminator_units: hidden layers of ``D``, default (512, 512, 512, 512) (the WAE-GAN's
            four 512-unit layers on MNIST); recipes on small data use smaller ones.
        deterministic_encoder: train on the posterior means (Makhzani et al.'s deterministic
            AAE, and the WAE), default True; False gives the Gaussian-posterior AAE.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``num_samples`` must be 1).

    Example::

        model = AdversarialAutoencoder(input_shape=(784,), latent_dim=8, hidden_units=(512,))
        model.compile(optimizer=keras.optimizers.Adam(1e-3))  # the discriminator: Adam(5e-4, beta_1=0.5)
        model.fit(x_train, epochs=10)
    """

    TERMS = ("reconstruction", "kl", "elbo", "adversarial")
    PARAMETER_GROUPS = {"discriminator": ("discriminator_loss",)}
    DISCRIMINATOR_OPTIMIZER = {"learning_rate": 5e-4, "beta_1": 0.5}

    def __init__(self, input_shape, latent_dim, adversarial_weight=1.0, discriminator_units=(512, 512, 512, 512),
                 deterministic_encoder=True, **kwargs):
        _checks.check_number(adversarial_weight, "adversarial_weight", minimum=0)
        units = _checks.check_int_sequence(discriminator_units, "discriminator_units")
        _check_single_sample(kwargs.get("num_samples", 1), type(self).__name__)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.adversarial_weight = float(adversarial_weight)
        self.discriminator_units = units
        self.deterministic_encoder = bool(deterministic_encoder)
        self.discriminator = latent_discriminator(units, self.kernel_initializer, "discriminator")

    def get_config(self):
        config = super().get_config()
        config.update(adversarial_weight=self.adversarial_weight, discriminator_units=list(self.discriminator_units),
                      deterministic_encoder=self.deterministic_encoder)
        return config

    def parameter_group_variables(self, group):
        return self.discriminator.trainable_variables

    def loss_weights(self):
        return {"reconstruction": 1.0, "adversarial": self.adversarial_weight}

    def extra_terms(self, terms, record):
        logits = self.discriminator(record.codes[0])[:, 0]
        return {**terms, "adversarial": tf.nn.softplus(-logits)}

    def _group_loss_terms(self, group, x, training=False):
        q = self._posterior(x)
        z = tf.stop_gradient(self.draw_codes(q, 1, self.noise_seed(stream=1), training=training)[0])
        prior_draws = self._prior().sample(tf.shape(z)[0], seed=self.noise_seed(stream=4))
        real, fake = self.discriminator(prior_draws)[:, 0], self.discriminator(z)[:, 0]
        return {"discriminator_loss": objectives.discriminator_cross_entropy(real, fake)}
