"""Disentangling VAEs: beta-TCVAE, FactorVAE, DIP-VAE-I/-II and controlled capacity increase.

All keep the VAE's networks, prior, samplers and export (:class:`~keras_ae.models.vae.VAE`,
whose ``beta`` gives the beta-VAE of Higgins et al. 2017) and change the regularizer of the
posterior towards a factorized aggregate posterior ``q(z) = E_{p(x)} q(z|x)``:

- :class:`BetaTCVAE` splits the KL into index-code mutual information, total correlation and
  dimension-wise KL, estimated on the minibatch (:func:`keras_ae.objectives.kl_decomposition`),
  and weights the total correlation by ``beta`` (Chen et al. 2018);
- :class:`FactorVAE` adds ``gamma * TC`` estimated by a discriminator between codes and their
  permute-dims shuffle, trained on its own optimizer (Kim & Mnih 2018);
- :class:`DIPVAE` penalizes the covariance of ``q(z)`` away from the identity (Kumar et al. 2018);
- :class:`CapacityVAE` targets a KL of ``C`` nats, ``C`` raised during training by a schedule
  (Burgess et al. 2018).

Batch terms are returned once per example, so their batch mean is the term; under
``tf.distribute`` each replica computes them on its own slice of the global batch.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives
from keras_ae.models.divergences import DiscriminatorOptimizerDefault, latent_discriminator
from keras_ae.models.vae import VAE

tfd = tfp.distributions
DIP_TYPES = ("i", "ii")


@keras.saving.register_keras_serializable(package="keras_ae")
class BetaTCVAE(VAE):
    """beta-TCVAE (Chen, Li, Grosse & Duvenaud 2018): the ELBO with its KL split and the total correlation weighted.

    Objective per example (minimised), with one draw ``z_i ~ q(z|x_i)`` and ``w = kl_weight``::

        E_q[-log p(x|z)] + w * (alpha * [log q(z_i|x_i) - log q(z_i)]              index-code MI
                                + beta * [log q(z_i) - sum_d log q(z_i,d)]         total correlation
                                + gamma * sum_d [log q(z_i,d) - log p(z_i,d)])     dimension-wise KL

    The three terms sum to a one-sample estimate of the KL, so ``alpha = beta = gamma = 1`` is the
    VAE. The aggregate densities ``q(z_i)``, ``q(z_i,d)`` are estimated on the minibatch by
    minibatch-weighted (``"mws"``) or minibatch-stratified (``"mss"``) sampling
    (:func:`keras_ae.objectives.aggregate_log_densities`). Logged besides the VAE's terms:
    ``mutual_information``, ``total_correlation``, ``dimension_kl``.

    Args:
        beta: weight of the total correlation, >= 0, default 6.0 (the dSprites command of Chen et al.'s
            released code).
        alpha, gamma: weights of the mutual information and the dimension-wise KL, >= 0, default 1.0
            (the paper's setting).
        estimator: ``"mws"`` (default) or ``"mss"``.
        dataset_size: number of training examples ``N``; needed by ``"mss"``, default None.
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``num_samples`` 1, ``free_bits`` 0).

    Example::

        model = BetaTCVAE(input_shape=(64, 64, 1), latent_dim=10, hidden_units=(1200, 1200), beta=6.0,
                          estimator="mss", dataset_size=len(x_train))
    """

    TERMS = ("reconstruction", "kl", "elbo", "mutual_information", "total_correlation", "dimension_kl")

    def __init__(self, input_shape, latent_dim, beta=6.0, alpha=1.0, gamma=1.0, estimator="mws", dataset_size=None,
                 **kwargs):
        _checks.check_number(alpha, "alpha", minimum=0)
        _checks.check_number(gamma, "gamma", minimum=0)
        _checks.check_choice(estimator, "estimator", objectives.TC_ESTIMATORS)
        if dataset_size is not None or estimator == "mss":
            if dataset_size is None:
                raise ValueError("estimator='mss' needs dataset_size (the number of training examples N), got None")
            dataset_size = _checks.check_integer(dataset_size, "dataset_size", minimum=2)
        if kwargs.get("num_samples", 1) != 1 or kwargs.get("free_bits", 0.0):
            raise ValueError(f"BetaTCVAE takes num_samples=1 and free_bits=0, got num_samples="
                             f"{kwargs.get('num_samples', 1)}, free_bits={kwargs.get('free_bits', 0.0)}")
        super().__init__(input_shape, latent_dim, beta=beta, **kwargs)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.estimator = estimator
        self.dataset_size = dataset_size

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, gamma=self.gamma, estimator=self.estimator, dataset_size=self.dataset_size)
        return config

    def loss_weights(self):
        w = tf.convert_to_tensor(self.kl_weight)
        return {"reconstruction": 1.0, "mutual_information": self.alpha * w, "total_correlation": self.beta * w,
                "dimension_kl": self.gamma * w}

    def extra_terms(self, terms, record):
        q, z = record.posterior, record.codes[0]
        log_prior_dims = tfd.Normal(0.0, 1.0).log_prob(z)  # [B, latent_dim]: the VAE's factorized N(0, I)
        parts = objectives.kl_decomposition(z, q.mean(), q.stddev(), log_prior_dims, self.estimator, self.dataset_size)
        return {**terms, **parts}


@keras.saving.register_keras_serializable(package="keras_ae")
class FactorVAE(DiscriminatorOptimizerDefault, VAE):
    """FactorVAE (Kim & Mnih 2018): the ELBO plus ``gamma`` times a discriminator's total correlation.

    Objective per example (minimised), alternating as in the paper's algorithm 1:

    - VAE (main optimizer): ``E_q[-log p(x|z)] + beta * kl_weight * KL(q(z|x) || p(z)) + gamma * D(z)``,
      where ``D(z) = log d(z) / (1 - d(z))`` is the discriminator's logit, the density-ratio
      estimate of ``TC = KL(q(z) || prod_d q(z_d))``;
    - discriminator (parameter group ``"discriminator"``, its own optimizer):
      ``softplus(-D(z)) + softplus(D(z~))`` with ``z`` the batch's codes (held fixed) and ``z~``
      their permute-dims shuffle (:func:`keras_ae.objectives.permute_dims`), draws of
      ``prod_d q(z_d)``. The paper permutes a second batch; this permutes the same one, which
      needs one encoder pass less and has the same distribution.

    Logged besides the VAE's terms: ``total_correlation`` (``D(z)``) and ``discriminator_loss``.

    Args:
        gamma: weight of the TC, >= 0, default 10.0 (Kim & Mnih compare gamma from 10 to 100 on dSprites;
            10 is the low end).
        discriminator_units: default six layers of 1000 units, leaky ReLU (slope 0.2), the paper's.
        discriminator_learning_rate: of the discriminator's default optimizer, > 0, default 1e-4
            (the paper's).
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``beta`` 1 in the paper).

    Optimizers: ``compile()`` gives the discriminator the paper's ``Adam(1e-4, beta_1=0.5, beta_2=0.9)``
    (its learning rate is ``discriminator_learning_rate``; pass another optimizer as
    ``group_optimizers={"discriminator": ...}``); the paper trains the VAE with ``Adam(1e-4)``.
    """

    TERMS = ("reconstruction", "kl", "elbo", "total_correlation")
    PARAMETER_GROUPS = {"discriminator": ("discriminator_loss",)}
    DISCRIMINATOR_OPTIMIZER = {"learning_rate": 1e-4, "beta_1": 0.5, "beta_2": 0.9}

    def __init__(self, input_shape, latent_dim, gamma=10.0, discriminator_units=(1000,) * 6,
                 discriminator_learning_rate=1e-4, **kwargs):
        _checks.check_number(gamma, "gamma", minimum=0)
        _checks.check_number(discriminator_learning_rate, "discriminator_learning_rate", minimum=0,
                             exclusive_minimum=True)
        units = _checks.check_int_sequence(discriminator_units, "discriminator_units")
        if kwargs.get("num_samples", 1) != 1:
            raise ValueError(f"num_samples must be 1 for FactorVAE, got {kwargs['num_samples']}")
        super().__init__(input_shape, latent_dim, **kwargs)
        self.gamma = float(gamma)
        self.discriminator_units = units
        self.discriminator_learning_rate = float(discriminator_learning_rate)
        self.DISCRIMINATOR_OPTIMIZER = {**type(self).DISCRIMINATOR_OPTIMIZER,
                                        "learning_rate": self.discriminator_learning_rate}
        self.discriminator = latent_discriminator(units, self.kernel_initializer, "discriminator", leaky_slope=0.2)

    def get_config(self):
        config = super().get_config()
        config.update(gamma=self.gamma, discriminator_units=list(self.discriminator_units),
                      discriminator_learning_rate=self.discriminator_learning_rate)
        return config

    def parameter_group_variables(self, group):
        return self.discriminator.trainable_variables

    def loss_weights(self):
        return {**super().loss_weights(), "total_correlation": self.gamma}

    def extra_terms(self, terms, record):
        return {**terms, "total_correlation": self.discriminator(record.codes[0])[:, 0]}

    def _group_loss_terms(self, group, x, training=False):
        q = self._posterior(x)
        z = tf.stop_gradient(self.draw_codes(q, 1, self.noise_seed(stream=1), training=training)[0])
        shuffled = objectives.permute_dims(z, self.noise_seed(stream=5))
        real, fake = self.discriminator(z)[:, 0], self.discriminator(shuffled)[:, 0]
        return {"discriminator_loss": objectives.discriminator_cross_entropy(real, fake)}


@keras.saving.register_keras_serializable(package="keras_ae")
class DIPVAE(VAE):
    """DIP-VAE-I and -II (Kumar, Sattigeri & Balakrishnan 2018): match the covariance of ``q(z)`` to ``I``.

    Objective per example (minimised)::

        -ELBO_beta(x) + lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2

    with ``C`` estimated on the minibatch: DIP-VAE-I ``C = Cov[mu(x)]`` (the posterior means);
    DIP-VAE-II ``C = Cov[mu(x)] + E[diag sigma(x)^2]``, the covariance of ``q(z)``
    (:func:`keras_ae.objectives.covariance_penalty`). Logged besides the VAE's: ``dip_penalty``.

    Args:
        dip_type: ``"i"`` (default) or ``"ii"``.
        lambda_od: off-diagonal weight, >= 0, default 10.0.
        lambda_d: diagonal weight, >= 0, default ``10 * lambda_od`` for ``"i"`` and ``lambda_od``
            for ``"ii"`` (the paper's rule).
        other arguments: see :class:`~keras_ae.models.vae.VAE`.
    """

    TERMS = ("reconstruction", "kl", "elbo", "dip_penalty")

    def __init__(self, input_shape, latent_dim, dip_type="i", lambda_od=10.0, lambda_d=None, **kwargs):
        _checks.check_choice(dip_type, "dip_type", DIP_TYPES)
        _checks.check_number(lambda_od, "lambda_od", minimum=0)
        if lambda_d is None:
            lambda_d = (10.0 if dip_type == "i" else 1.0) * float(lambda_od)
        _checks.check_number(lambda_d, "lambda_d", minimum=0)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.dip_type = dip_type
        self.lambda_od = float(lambda_od)
        self.lambda_d = float(lambda_d)

    def get_config(self):
        config = super().get_config()
        config.update(dip_type=self.dip_type, lambda_od=self.lambda_od, lambda_d=self.lambda_d)
        return config

    def loss_weights(self):
        return {**super().loss_weights(), "dip_penalty": 1.0}

    def aggregate_covariance(self, q):
        """The minibatch estimate of ``C`` ``[latent_dim, latent_dim]`` (see the class docstring)."""
        mean = tf.cast(q.mean(), tf.float32)
        centred = mean - tf.reduce_mean(mean, axis=0, keepdims=True)
        cov = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(mean)[0], tf.float32)
        if self.dip_type == "ii":
            cov += tf.linalg.diag(tf.reduce_mean(tf.square(tf.cast(q.stddev(), tf.float32)), axis=0))
        return cov

    def extra_terms(self, terms, record):
        penalty = objectives.covariance_penalty(self.aggregate_covariance(record.posterior), self.lambda_od,
                                                self.lambda_d)
        return {**terms, "dip_penalty": objectives.broadcast_to_batch(penalty, terms["kl"])}


@keras.saving.register_keras_serializable(package="keras_ae")
class CapacityVAE(VAE):
    """beta-VAE with controlled capacity increase (Burgess et al. 2018, "Understanding disentangling in beta-VAE").

    Objective per example (minimised)::

        E_q[-log p(x|z)] + gamma * | mean_batch KL(q(z|x) || p(z)) - C |

    The target ``C`` (nats) is the non-trainable variable ``model.capacity``; raise it during
    training with the schedule mechanism, e.g. linearly from 0 to 25 nats over the run::

        model.fit(x, epochs=E, callbacks=[keras_ae.callbacks.KLWarmup(epochs=E, start=0.0, end=25.0,
                                                                      variable="capacity")])

    (the callback registers ``model.set_schedule("capacity", ...)``, computed in the train step).
    Logged besides the VAE's terms: ``capacity_penalty`` (``|KL - C|``) and, per epoch, ``capacity``.

    Args:
        gamma: weight of the penalty, >= 0, default 1000.0 (the paper's dSprites value).
        capacity: the value of ``C`` without a schedule, >= 0, default 25.0 nats (the paper's final
            capacity on dSprites, reached over 100,000 steps).
        other arguments: see :class:`~keras_ae.models.vae.VAE` (``beta`` must be 1: ``gamma`` weights the KL).
    """

    TERMS = ("reconstruction", "kl", "elbo", "capacity_penalty")

    def __init__(self, input_shape, latent_dim, gamma=1000.0, capacity=25.0, **kwargs):
        _checks.check_number(gamma, "gamma", minimum=0)
        _checks.check_number(capacity, "capacity", minimum=0)
        if kwargs.get("beta", 1.0) != 1.0:
            raise ValueError(f"beta must be 1 for CapacityVAE (gamma weights the KL's distance to C), "
                             f"got {kwargs['beta']}")
        super().__init__(input_shape, latent_dim, **kwargs)
        self.gamma = float(gamma)
        self.initial_capacity = float(capacity)
        # Set in the train step by a schedule; one value for every replica.
        self.capacity = self.add_weight(name="capacity", shape=(), trainable=False, aggregation="only_first_replica",
                                        initializer=keras.initializers.Constant(self.initial_capacity))

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "capacity": self.initial_capacity}

    def loss_weights(self):
        return {"reconstruction": 1.0, "capacity_penalty": self.gamma}

    def extra_terms(self, terms, record):
        kl = terms["kl_objective"]
        penalty = tf.abs(tf.reduce_mean(kl) - tf.convert_to_tensor(self.capacity))
        return {**terms, "capacity_penalty": objectives.broadcast_to_batch(penalty, kl)}
