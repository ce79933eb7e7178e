"""Regularizer parts: the latent term of a VAE's objective, computed from its importance-weight record.

The model always logs ``reconstruction`` (``E_q[-log p(x|z)]``), ``kl`` (its KL estimate: closed
form where the posterior and prior have one, else Monte Carlo on the record's draws) and ``elbo``.
A regularizer adds its own per-example terms and says how the objective weights them
(``loss_weights``; ``w`` below is the model's ``kl_weight``, which
:class:`keras_ae.callbacks.KLWarmup` anneals):

- :class:`KL`: ``beta * w * KL`` (the VAE, beta-VAE, free bits);
- :class:`MMD`: ``(1 - alpha) beta w KL + (alpha + lambda - 1) MMD^2(q(z), p(z))`` (InfoVAE, WAE-MMD);
- :class:`TotalCorrelation`: the KL split into mutual information, total correlation and
  dimension-wise KL, weighted (beta-TCVAE);
- :class:`DiscriminatorTC`: ``KL + gamma * D(z)``, a permute-dims discriminator's total
  correlation, the discriminator trained on its own optimizer (FactorVAE);
- :class:`DIP`: ``KL`` + the distance of ``Cov q(z)`` from ``I`` (DIP-VAE-I/-II);
- :class:`Capacity`: ``gamma |KL - C|`` with a scheduled capacity ``C`` (Burgess et al. 2018);
- :class:`Adversarial`: a latent discriminator between prior draws and codes (AAE, WAE-GAN).

Batch terms (an MMD, a covariance penalty) are returned once per example, so the batch mean of
the per-example loss is the term; under ``tf.distribute`` each replica computes it on its slice.
A regularizer that trains its own parameters declares the group (``PARAMETER_GROUPS``), its
variables and its default optimizer; :meth:`Regularizer.check_model` refuses, with the reason,
a model whose posterior, prior or bound its estimator does not hold for.
"""

import keras
import tensorflow as tf

from keras_ae import _checks, objectives
from keras_ae.layers.bodies import new_kernel_initializer
from keras_ae.parts.base import Part, register
from keras_ae.parts.priors import StandardNormal

#: Tolstikhin et al.'s reference code sums the IMQ kernel at these multiples of ``C = 2 d``.
WAE_KERNEL_MULTIPLIERS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
KL_ESTIMATORS = ("auto", "analytic", "monte_carlo")
DIP_TYPES = ("i", "ii")


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


class Regularizer(Part):
    """Base class (see the module docstring)."""

    kind = "regularizer"

    #: per-example terms logged besides ``reconstruction``, ``kl`` and ``elbo``.
    TERMS = ()
    #: ``{group: terms}`` of parameters trained by their own optimizer on their own terms.
    PARAMETER_GROUPS = {}
    #: the training codes are the posterior's codes (means), not draws (Tolstikhin et al.'s
    #: deterministic encoders); ``score`` is then the reconstruction cost at the code.
    deterministic_codes = False
    #: one code per example (a batch of codes is matched to a distribution).
    single_sample = False
    #: the objective is the ELBO's (``KL``), so the IWAE bound may replace it.
    elbo_objective = False

    def shorthands(self):
        """``{argument: value}`` the model also takes as its own arguments (``beta``, ``free_bits``)."""
        return {}

    def no_shorthand_reason(self, name):
        """Why the model's shorthand ``name`` (``beta``, ``free_bits``) is not among :meth:`shorthands`."""
        return f"it has no {name}"

    def check_model(self, model):
        if self.single_sample and model.num_samples != 1:
            raise ValueError(f"num_samples must be 1 for the {type(self).__name__} regularizer (one code per example "
                             f"is matched to a distribution), got {model.num_samples}")

    def terms(self, model, terms, record, training):
        """Per-example terms ``{name: [B]}`` from the model's ``terms`` and the record of its draws."""
        return {}

    def loss_weights(self, model):
        raise NotImplementedError

    def group_variables(self, group):
        raise NotImplementedError(f"{type(self).__name__} has no parameter group {group!r}")

    def group_loss_terms(self, model, group, x, training=False, **condition):
        raise NotImplementedError(f"{type(self).__name__} has no parameter group {group!r}")

    def group_optimizer(self, group):
        """The optimizer ``compile()`` gives ``group`` when none is passed (None: a copy of the main one)."""
        return None


def _kl_weight(model):
    return tf.convert_to_tensor(model.kl_weight)


@register("regularizer", "kl")
class KL(Regularizer):
    """``beta * kl_weight * KL(q(z|x) || p(z))``: the VAE (Kingma & Welling 2014), beta-VAE (Higgins et al. 2017)
    and free bits (Kingma et al. 2016, eq. 15).

    With ``free_bits = lambda > 0`` the objective's KL is ``sum_j max(lambda, mean_batch KL_j)``
    (per dimension, which needs a factorized posterior and prior with a closed-form KL). Logged:
    ``kl_objective`` (the KL in the objective).

    Args:
        beta: weight of the KL, >= 0, default 1.0.
        free_bits: floor per latent dimension in nats, >= 0, default 0.0 (off).
        estimator: ``"auto"`` (default: closed form where it exists, else Monte Carlo),
            ``"analytic"`` (refused where no closed form exists) or ``"monte_carlo"`` (the
            draws of the reconstruction term, ``log q(z|x) - log p(z)``; refused with free bits,
            which floor the closed-form KL, and with the IWAE bound, which has no KL term).
    """

    elbo_objective = True

    def __init__(self, beta=1.0, free_bits=0.0, estimator="auto", **kwargs):
        super().__init__(**kwargs)
        self.beta = _checks.check_number(beta, "beta", minimum=0)
        self.free_bits = _checks.check_number(free_bits, "free_bits", minimum=0)
        self.estimator = _checks.check_choice(estimator, "estimator", KL_ESTIMATORS)
        if self.free_bits and self.estimator == "monte_carlo":
            raise ValueError(f"estimator='monte_carlo' does nothing with free_bits={self.free_bits}: free bits floor "
                             f"the closed-form KL of each dimension")

    def arguments(self):
        return {"beta": self.beta, "free_bits": self.free_bits, "estimator": self.estimator}

    def shorthands(self):
        return {"beta": self.beta, "free_bits": self.free_bits}

    def check_model(self, model):
        super().check_model(model)
        pair = f"{model.posterior_part!r} and {model.prior_part!r}"
        if self.estimator == "analytic" and not model.analytic_kl:
            raise ValueError(f"estimator='analytic' needs a closed-form KL(q || p), and {pair} have none "
                             "(use estimator='auto' or 'monte_carlo')")
        if self.free_bits and not model.per_dimension_kl:
            raise ValueError(f"free_bits must be 0 with {pair}: free bits floor a per-dimension KL, which needs a "
                             f"factorized posterior and prior with a closed-form KL; got free_bits={self.free_bits}")

    def kl_objective(self, model, terms, record):
        """The objective's KL ``[B]``: the model's, Monte Carlo on the record if asked, free bits if set."""
        if self.free_bits:
            q = record.posterior
            return objectives.free_bits_kl(model.posterior_part.kl_per_dimension(q, model._prior()), self.free_bits)
        if self.estimator == "monte_carlo":
            return tf.reduce_mean(record.log_qz - record.log_pz, axis=0)
        return terms["kl"]

    def terms(self, model, terms, record, training):
        return {"kl_objective": self.kl_objective(model, terms, record)}

    def loss_weights(self, model):
        return {"reconstruction": 1.0, "kl_objective": self.beta * _kl_weight(model)}


@register("regularizer", "mmd")
class MMD(Regularizer):
    """The maximum mean discrepancy between the aggregate posterior and the prior: InfoVAE (Zhao, Song &
    Ermon 2019) and, with ``alpha = 1`` and deterministic codes, WAE-MMD (Tolstikhin et al. 2018).

    Per example::

        (1 - alpha) * beta * kl_weight * KL(q(z|x) || p(z)) + (alpha + lambda - 1) * MMD_u^2(q(z), p(z))

    ``MMD_u^2`` is the unbiased U-statistic between the batch's codes and as many draws of the
    prior's own sampler (:func:`keras_ae.objectives.mmd_u_statistic`), with kernel scale
    ``C = kernel_scale`` (default ``2 * latent_dim``, Tolstikhin et al.'s ``2 d sigma_z^2`` for
    ``N(0, I)``) summed over ``kernel_multipliers``. Logged: ``mmd`` and ``kl_objective``.

    Args:
        weight: ``lambda``, >= 1 - alpha, default 10.0 (Tolstikhin et al.'s MNIST weight).
        alpha: InfoVAE's ``alpha`` in [0, 1], default 1.0 (no KL: the MMD-VAE).
        beta: the KL's weight, >= 0, default 1.0 (with ``alpha = 1`` there is no KL term: another
            value is refused).
        kernel: ``"imq"`` (default, Tolstikhin et al.) or ``"rbf"``.
        kernel_scale: ``C`` > 0, default ``2 * latent_dim``.
        kernel_multipliers: default (1.0,) for ``"rbf"``, Tolstikhin et al.'s (0.1, ..., 10) for ``"imq"``.
        deterministic_codes: train on the posterior's codes (means), default False; the WAE's are.
    """

    TERMS = ("mmd",)
    single_sample = True

    def __init__(self, weight=10.0, alpha=1.0, beta=1.0, kernel="imq", kernel_scale=None, kernel_multipliers=None,
                 deterministic_codes=False, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _checks.check_number(alpha, "alpha", minimum=0, maximum=1)
        self.weight = _checks.check_number(weight, "weight", minimum=1.0 - self.alpha)
        self.beta = _checks.check_number(beta, "beta", minimum=0)
        if self.alpha == 1 and self.beta != 1:
            raise ValueError(f"beta={beta} does nothing with alpha=1: {self.no_shorthand_reason('beta')}")
        self.kernel = _checks.check_choice(kernel, "kernel", objectives.MMD_KERNELS)
        self.kernel_scale = None if kernel_scale is None else _checks.check_number(
            kernel_scale, "kernel_scale", minimum=0, exclusive_minimum=True)
        if kernel_multipliers is None:
            kernel_multipliers = WAE_KERNEL_MULTIPLIERS if kernel == "imq" else (1.0,)
        if isinstance(kernel_multipliers, (str, bytes)) or not isinstance(kernel_multipliers, (list, tuple)) \
                or not kernel_multipliers:
            raise ValueError(f"kernel_multipliers must be a non-empty tuple of numbers > 0, got {kernel_multipliers!r}")
        self.kernel_multipliers = tuple(
            _checks.check_number(s, "kernel_multipliers entries", minimum=0, exclusive_minimum=True)
            for s in kernel_multipliers)
        self.deterministic_codes = bool(deterministic_codes)

    def arguments(self):
        return {"weight": self.weight, "alpha": self.alpha, "beta": self.beta, "kernel": self.kernel,
                "kernel_scale": self.kernel_scale, "kernel_multipliers": list(self.kernel_multipliers),
                "deterministic_codes": self.deterministic_codes}

    def shorthands(self):
        return {} if self.alpha == 1 else {"beta": self.beta}

    def no_shorthand_reason(self, name):
        if name == "beta":
            return "the KL's weight is (1 - alpha) * beta, and alpha = 1 leaves no KL term (the MMD-VAE, the WAE)"
        return super().no_shorthand_reason(name)

    def attach(self, model):
        super().attach(model)
        self.scale = 2.0 * model.latent_dim if self.kernel_scale is None else self.kernel_scale

    def mmd_to_prior(self, model, z, seed):
        """``MMD_u^2`` between codes ``z`` ``[B, D]`` and ``B`` prior draws from a stateless ``seed``."""
        prior_draws = model.prior_part.draw(model, tf.shape(z)[0], seed)
        return objectives.mmd_u_statistic(z, prior_draws, self.kernel, self.scale, self.kernel_multipliers)

    def terms(self, model, terms, record, training):
        z = record.codes[0]  # [B, D]: one code per example
        mmd = self.mmd_to_prior(model, z, model.noise_seed(stream=3))
        return {"kl_objective": terms["kl"], "mmd": objectives.broadcast_to_batch(mmd, z)}

    def loss_weights(self, model):
        return {"reconstruction": 1.0, "kl_objective": (1.0 - self.alpha) * self.beta * _kl_weight(model),
                "mmd": self.alpha + self.weight - 1.0}


@register("regularizer", "total_correlation")
class TotalCorrelation(Regularizer):
    """beta-TCVAE (Chen, Li, Grosse & Duvenaud 2018): the KL split into three parts, each weighted.

    With one draw ``z_i ~ q(z|x_i)`` per example and ``w = kl_weight``::

        w * (alpha * [log q(z_i|x_i) - log q(z_i)]              index-code MI
             + beta * [log q(z_i) - sum_d log q(z_i,d)]         total correlation
             + gamma * sum_d [log q(z_i,d) - log p(z_i,d)])     dimension-wise KL

    The three sum to a one-sample KL estimate (``alpha = beta = gamma = 1`` is the VAE). The
    aggregate densities ``q(z_i)``, ``q(z_i,d)`` are minibatch estimates (``"mws"`` or ``"mss"``,
    :func:`keras_ae.objectives.aggregate_log_densities`), mixtures of the batch's diagonal
    Gaussian posteriors; the dimension-wise KL needs a factorized prior. Refused otherwise.

    Args:
        beta: weight of the total correlation, >= 0, default 6.0 (the dSprites command of Chen et
            al.'s released code).
        alpha, gamma: weights of the mutual information and the dimension-wise KL, >= 0, default 1.0.
        estimator: ``"mws"`` (default) or ``"mss"``.
        dataset_size: number of training examples ``N``; needed by ``"mss"`` (refused with ``"mws"``,
            whose estimate does not depend on it).
    """

    TERMS = ("mutual_information", "total_correlation", "dimension_kl")
    single_sample = True

    def __init__(self, beta=6.0, alpha=1.0, gamma=1.0, estimator="mws", dataset_size=None, **kwargs):
        super().__init__(**kwargs)
        self.beta = _checks.check_number(beta, "beta", minimum=0)
        self.alpha = _checks.check_number(alpha, "alpha", minimum=0)
        self.gamma = _checks.check_number(gamma, "gamma", minimum=0)
        self.estimator = _checks.check_choice(estimator, "estimator", objectives.TC_ESTIMATORS)
        if dataset_size is not None and estimator == "mws":
            raise ValueError(f"dataset_size={dataset_size} does nothing with estimator='mws' (its log q(z) does not "
                             f"depend on N); it is the N of estimator='mss'")
        if estimator == "mss":
            if dataset_size is None:
                raise ValueError("estimator='mss' needs dataset_size (the number of training examples N), got None")
            dataset_size = _checks.check_integer(dataset_size, "dataset_size", minimum=2)
        self.dataset_size = dataset_size

    def arguments(self):
        return {"beta": self.beta, "alpha": self.alpha, "gamma": self.gamma, "estimator": self.estimator,
                "dataset_size": self.dataset_size}

    def shorthands(self):
        return {"beta": self.beta}

    def check_model(self, model):
        super().check_model(model)
        if not model.posterior_part.diagonal_gaussian:
            raise ValueError(f"the total-correlation split needs a diagonal Gaussian posterior (q(z) and q(z_d) are "
                             f"estimated as mixtures of the batch's N(mu, sigma^2)), got {model.posterior_part!r}")
        if not model.prior_part.factorized:
            raise ValueError(f"the total-correlation split needs a factorized prior p(z) = prod_d p(z_d) (its "
                             f"dimension-wise KL), got {model.prior_part!r}")

    def terms(self, model, terms, record, training):
        z = record.codes[0]
        loc, scale = model.posterior_part.gaussian_parameters(record.posterior)
        return objectives.kl_decomposition(z, loc, scale, model.prior_part.log_prob_dims(z), self.estimator,
                                           self.dataset_size)

    def loss_weights(self, model):
        w = _kl_weight(model)
        return {"reconstruction": 1.0, "mutual_information": self.alpha * w, "total_correlation": self.beta * w,
                "dimension_kl": self.gamma * w}


class _Discriminated(Regularizer):
    """A regularizer with a latent discriminator trained as the parameter group ``"discriminator"``."""

    PARAMETER_GROUPS = {"discriminator": ("discriminator_loss",)}
    single_sample = True
    leaky_slope = None

    def make_discriminator(self, model):
        self.discriminator = latent_discriminator(self.units, model.kernel_initializer, "discriminator",
                                                  leaky_slope=self.leaky_slope)

    def group_variables(self, group):
        return self.discriminator.trainable_variables

    def training_codes(self, model, x, training, **condition):
        """The batch's codes ``[B, D]``, held fixed (the discriminator's step does not move the encoder)."""
        q = model._posterior(x, **condition)
        return tf.stop_gradient(model.draw_codes(q, 1, model.noise_seed(stream=1), training=training)[0])

    def logits(self, z):
        return self.discriminator(z)[:, 0]


@register("regularizer", "discriminator_tc")
class DiscriminatorTC(KL, _Discriminated):
    """FactorVAE (Kim & Mnih 2018): the ELBO plus ``gamma`` times a discriminator's total correlation.

    Alternating, as in the paper's algorithm 1:

    - model (main optimizer): ``E_q[-log p(x|z)] + beta * kl_weight * KL + gamma * D(z)``, with
      ``D(z) = log d(z) / (1 - d(z))`` the discriminator's logit, the density-ratio estimate of
      ``TC = KL(q(z) || prod_d q(z_d))``;
    - discriminator (group ``"discriminator"``, its own optimizer): ``softplus(-D(z)) + softplus(D(z~))``
      with ``z`` the batch's codes (held fixed) and ``z~`` their permute-dims shuffle
      (:func:`keras_ae.objectives.permute_dims`), draws of ``prod_d q(z_d)``. The paper permutes a
      second batch; this permutes the same one (one encoder pass less, the same distribution).

    Logged: ``total_correlation`` (``D(z)``) and ``discriminator_loss``.

    Args:
        gamma: weight of the TC, >= 0, default 10.0 (the low end of Kim & Mnih's 10 to 100 on dSprites).
        units: hidden layers of the discriminator, default six of 1000 (the paper's), leaky ReLU 0.2.
        learning_rate: of the discriminator's default optimizer ``Adam(lr, beta_1=0.5, beta_2=0.9)``,
            > 0, default 1e-4 (the paper's).
        beta, free_bits, estimator: the KL's (see :class:`KL`).
    """

    TERMS = ("total_correlation",)
    elbo_objective = False
    leaky_slope = 0.2

    def __init__(self, gamma=10.0, units=(1000,) * 6, learning_rate=1e-4, beta=1.0, free_bits=0.0, estimator="auto",
                 **kwargs):
        super().__init__(beta=beta, free_bits=free_bits, estimator=estimator, **kwargs)
        self.gamma = _checks.check_number(gamma, "gamma", minimum=0)
        self.units = _checks.check_int_sequence(units, "units")
        self.learning_rate = _checks.check_number(learning_rate, "learning_rate", minimum=0, exclusive_minimum=True)

    def arguments(self):
        return {**super().arguments(), "gamma": self.gamma, "units": list(self.units),
                "learning_rate": self.learning_rate}

    def attach(self, model):
        super().attach(model)
        self.make_discriminator(model)

    def group_optimizer(self, group):
        return keras.optimizers.Adam(learning_rate=self.learning_rate, beta_1=0.5, beta_2=0.9)

    def terms(self, model, terms, record, training):
        return {**super().terms(model, terms, record, training), "total_correlation": self.logits(record.codes[0])}

    def loss_weights(self, model):
        return {**super().loss_weights(model), "total_correlation": self.gamma}

    def group_loss_terms(self, model, group, x, training=False, **condition):
        z = self.training_codes(model, x, training, **condition)
        shuffled = objectives.permute_dims(z, model.noise_seed(stream=5))
        return {"discriminator_loss": objectives.discriminator_cross_entropy(self.logits(z), self.logits(shuffled))}


@register("regularizer", "dip")
class DIP(KL):
    """DIP-VAE-I and -II (Kumar, Sattigeri & Balakrishnan 2018): the KL plus a moment match of ``q(z)`` to ``N(0, I)``.

    Per example: ``beta * kl_weight * KL + lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2``
    with ``C`` a minibatch estimate: DIP-VAE-I ``C = Cov[mu(x)]``; DIP-VAE-II
    ``C = Cov[mu(x)] + E[diag sigma(x)^2]``, the covariance of ``q(z)``
    (:func:`keras_ae.objectives.covariance_penalty`). The target ``I`` is the covariance of the
    ``N(0, I)`` prior and ``mu``, ``sigma`` are a diagonal Gaussian posterior's: other parts are
    refused. Logged: ``dip_penalty``.

    Args:
        dip_type: ``"i"`` (default) or ``"ii"``.
        lambda_od: off-diagonal weight, >= 0, default 10.0.
        lambda_d: diagonal weight, >= 0, default ``10 * lambda_od`` for ``"i"`` and ``lambda_od``
            for ``"ii"`` (the paper's rule).
        beta, free_bits, estimator: the KL's (see :class:`KL`).
    """

    TERMS = ("dip_penalty",)
    elbo_objective = False

    def __init__(self, dip_type="i", lambda_od=10.0, lambda_d=None, beta=1.0, free_bits=0.0, estimator="auto",
                 **kwargs):
        super().__init__(beta=beta, free_bits=free_bits, estimator=estimator, **kwargs)
        self.dip_type = _checks.check_choice(dip_type, "dip_type", DIP_TYPES)
        self.lambda_od = _checks.check_number(lambda_od, "lambda_od", minimum=0)
        if lambda_d is None:
            lambda_d = (10.0 if dip_type == "i" else 1.0) * self.lambda_od
        self.lambda_d = _checks.check_number(lambda_d, "lambda_d", minimum=0)

    def arguments(self):
        return {**super().arguments(), "dip_type": self.dip_type, "lambda_od": self.lambda_od,
                "lambda_d": self.lambda_d}

    def check_model(self, model):
        super().check_model(model)
        if not model.posterior_part.diagonal_gaussian:
            raise ValueError(f"DIP needs a diagonal Gaussian posterior (C is estimated from its mu(x) and sigma(x)), "
                             f"got {model.posterior_part!r}")
        if not isinstance(model.prior_part, StandardNormal):
            raise ValueError(f"DIP matches the covariance of q(z) to the identity, the covariance of the N(0, I) "
                             f"prior; got {model.prior_part!r}")

    def aggregate_covariance(self, model, q):
        """The minibatch estimate of ``C`` ``[D, D]`` (see the class docstring)."""
        mean, scale = model.posterior_part.gaussian_parameters(q)
        centred = mean - tf.reduce_mean(mean, axis=0, keepdims=True)
        cov = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(mean)[0], tf.float32)
        if self.dip_type == "ii":
            cov += tf.linalg.diag(tf.reduce_mean(tf.square(scale), axis=0))
        return cov

    def terms(self, model, terms, record, training):
        penalty = objectives.covariance_penalty(self.aggregate_covariance(model, record.posterior), self.lambda_od,
                                                self.lambda_d)
        return {**super().terms(model, terms, record, training),
                "dip_penalty": objectives.broadcast_to_batch(penalty, terms["kl"])}

    def loss_weights(self, model):
        return {**super().loss_weights(model), "dip_penalty": 1.0}


@register("regularizer", "capacity")
class Capacity(KL):
    """Controlled capacity increase (Burgess et al. 2018, "Understanding disentangling in beta-VAE").

    Per example: ``gamma * | mean_batch KL(q(z|x) || p(z)) - C |``. The target ``C`` (nats) is the
    non-trainable variable ``model.capacity``; raise it during training with a schedule, e.g.
    ``keras_ae.callbacks.KLWarmup(epochs=E, start=0.0, end=25.0, variable="capacity")`` (computed
    in the train step). ``beta`` is 1 (``gamma`` weights the KL's distance to ``C``). Logged:
    ``capacity_penalty`` (``|KL - C|``).

    Args:
        gamma: weight of the penalty, >= 0, default 1000.0 (the paper's dSprites value).
        capacity: ``C`` without a schedule, >= 0, default 25.0 nats (the paper's final capacity on
            dSprites, reached over 100,000 steps).
        free_bits, estimator: the KL's (see :class:`KL`).
    """

    TERMS = ("capacity_penalty",)
    elbo_objective = False

    def __init__(self, gamma=1000.0, capacity=25.0, free_bits=0.0, estimator="auto", **kwargs):
        if kwargs.get("beta", 1.0) != 1.0:
            raise ValueError(f"beta must be 1 for the capacity objective (gamma weights the KL's distance to C), "
                             f"got {kwargs['beta']}")
        kwargs.pop("beta", None)
        super().__init__(beta=1.0, free_bits=free_bits, estimator=estimator, **kwargs)
        self.gamma = _checks.check_number(gamma, "gamma", minimum=0)
        self.initial_capacity = _checks.check_number(capacity, "capacity", minimum=0)

    def arguments(self):
        arguments = super().arguments()
        arguments.pop("beta")
        return {**arguments, "gamma": self.gamma, "capacity": self.initial_capacity}

    def attach(self, model):
        super().attach(model)
        # Set in the train step by a schedule; one value for every replica.
        self.capacity = self.add_weight(name="capacity", shape=(), trainable=False, aggregation="only_first_replica",
                                        initializer=keras.initializers.Constant(self.initial_capacity))

    def schedulable_variables(self):
        return {"capacity": self.capacity}

    def terms(self, model, terms, record, training):
        kl = self.kl_objective(model, terms, record)
        penalty = tf.abs(tf.reduce_mean(kl) - tf.convert_to_tensor(self.capacity))
        return {"kl_objective": kl, "capacity_penalty": objectives.broadcast_to_batch(penalty, kl)}

    def loss_weights(self, model):
        return {"reconstruction": 1.0, "capacity_penalty": self.gamma}


@register("regularizer", "adversarial")
class Adversarial(_Discriminated):
    """Adversarial autoencoder (Makhzani et al. 2016) / WAE-GAN (Tolstikhin et al. 2018, algorithm 1).

    A latent discriminator ``D`` (an MLP giving a logit) tells prior draws ``z' ~ p(z)`` (the
    prior's own sampler) from codes ``z ~ q(z|x)``; the encoder learns to fool it. Alternating:

    - model (main optimizer): ``-log p(x|z) + lambda * softplus(-D(z))`` (the generator's
      non-saturating loss);
    - discriminator (group ``"discriminator"``): ``softplus(-D(z')) + softplus(D(z))`` with ``z``
      held fixed (:func:`keras_ae.objectives.discriminator_cross_entropy`).

    Logged: ``adversarial`` and ``discriminator_loss``.

    Args:
        weight: ``lambda``, >= 0, default 1.0 (Tolstikhin et al.'s WAE-GAN on MNIST).
        units: hidden layers of ``D``, default (512, 512, 512, 512) (the WAE-GAN's on MNIST).
        learning_rate: of the discriminator's default optimizer ``Adam(lr, beta_1=0.5)``, > 0,
            default 5e-4 (the WAE-GAN's adversary, Tolstikhin et al. section 4).
        deterministic_codes: train on the posterior's codes (Makhzani et al.'s deterministic AAE,
            and the WAE), default True; False gives the Gaussian-posterior AAE.
    """

    TERMS = ("adversarial",)

    def __init__(self, weight=1.0, units=(512, 512, 512, 512), learning_rate=5e-4, deterministic_codes=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.weight = _checks.check_number(weight, "weight", minimum=0)
        self.units = _checks.check_int_sequence(units, "units")
        self.learning_rate = _checks.check_number(learning_rate, "learning_rate", minimum=0, exclusive_minimum=True)
        self.deterministic_codes = bool(deterministic_codes)

    def arguments(self):
        return {"weight": self.weight, "units": list(self.units), "learning_rate": self.learning_rate,
                "deterministic_codes": self.deterministic_codes}

    def attach(self, model):
        super().attach(model)
        self.make_discriminator(model)

    def group_optimizer(self, group):
        return keras.optimizers.Adam(learning_rate=self.learning_rate, beta_1=0.5)

    def terms(self, model, terms, record, training):
        return {"adversarial": tf.nn.softplus(-self.logits(record.codes[0]))}

    def loss_weights(self, model):
        return {"reconstruction": 1.0, "adversarial": self.weight}

    def group_loss_terms(self, model, group, x, training=False, **condition):
        z = self.training_codes(model, x, training, **condition)
        prior_draws = model.prior_part.draw(model, tf.shape(z)[0], model.noise_seed(stream=4))
        return {"discriminator_loss": objectives.discriminator_cross_entropy(self.logits(prior_draws), self.logits(z))}
