"""Posterior parts: encoder features ``h`` ``[B, F]`` -> the approximate posterior ``q(z|x)`` (a ``tfd`` distribution).

- :class:`GaussianPosterior`: ``N(mu(x), diag sigma(x)^2)`` (Kingma & Welling 2014);
- :class:`IAFPosterior`, :class:`PlanarPosterior`: that Gaussian pushed through an inverse
  autoregressive flow (Kingma et al. 2016) or planar flows (Rezende & Mohamed 2015), with
  ``log q(z|x) = log N(z_0; mu, sigma^2) - log |det df_x/dz_0|`` computed in the sampling
  direction (training never inverts the flow);
- :class:`CategoricalPosterior`: ``N`` one-hot categoricals, relaxed by Gumbel-softmax in
  training (Jang et al. 2017; Maddison et al. 2017);
- :class:`VonMisesFisherPosterior`: a von Mises-Fisher on the unit sphere (Davidson et al. 2018).

A posterior declares the space its codes live in (``latent_space``), whether it factorizes over
the code's dimensions (``factorized``: a per-dimension KL, free bits) and whether it is a diagonal
Gaussian (``diagonal_gaussian``: the aggregate-posterior estimators of beta-TCVAE and DIP-VAE
read its location and scale). :meth:`Posterior.sample` draws reparameterized codes with their
``log q``; without a seed it uses builtin random ops (the exported graphs).
"""

import numpy as np
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.bodies import fan_in_bias_initializer, new_kernel_initializer
from keras_ae.layers.flows import AutoregressiveFlow, PlanarFlow
from keras_ae.layers.heads import (GaussianHead, RelaxedCategoricalHead, categorical, check_temperature,
                                   gumbel_noise, gumbel_softmax, one_hot_argmax)
from keras_ae.parts.base import Part, register

tfd = tfp.distributions
tfb = tfp.bijectors


class Posterior(Part):
    """Base class: ``call(h)`` gives ``q(z|x)`` over codes ``[latent_dim]``."""

    kind = "posterior"

    #: where the codes live: ``"euclidean"`` (R^d), ``"sphere"`` (the unit sphere), ``"one_hot"``.
    latent_space = "euclidean"
    #: ``q(z|x) = prod_d q(z_d|x)``: the KL to a factorized prior has a per-dimension form.
    factorized = False
    #: ``q(z|x) = N(loc, diag scale^2)``: ``gaussian_parameters`` gives them.
    diagonal_gaussian = False
    #: ``sample(q, n, None)`` uses builtin ops only (a prior that draws through the posterior, the
    #: VampPrior, then exports its sampler to TFLite).
    builtin_sampler = True
    #: why ``log q`` and the KL (the exported ``score``) cannot be TFLite builtin ops, or None.
    density_tflite_skip = None
    #: the part has a learned Gaussian scale, floored by the model's ``posterior_min_scale``.
    uses_min_scale = False

    def attach(self, model):
        super().attach(model)
        self.latent_dim = model.latent_dim
        self.kernel_initializer = model.kernel_initializer

    def code(self, q):
        """The deterministic code of ``q`` ``[B, latent_dim]`` (what ``encode`` returns)."""
        return q.mean()

    def supports_xla(self):
        """Whether XLA compiles the gradient of ``sample`` (the model's ``supports_xla``)."""
        return True

    def sample(self, q, n, seed, training=False):
        """``(z [n, B, D], log q(z|x) [n, B])``: reparameterized draws; ``seed=None``: fresh builtin-op noise."""
        z = q.sample(n, seed=seed)
        return z, q.log_prob(z)

    def fixed_draws(self, q, seed, count):
        """``count`` draws from noise fixed by the integer ``seed``: a deterministic Monte Carlo KL (``score``)."""
        return self.sample(q, count, tf.constant([seed, 0], tf.int32))

    def tempered_draw(self, q, seed, temperature=1.0):
        """One draw ``[B, D]`` of ``q`` at ``temperature`` from any seed kind (:mod:`keras_ae.samplers`): what a
        prior that draws through the posterior (the VampPrior) samples with. The subclasses say what the
        temperature scales; a posterior without a builtin-op sampler refuses a counter-based seed."""
        if isinstance(seed, samplers.CounterSeed):
            raise ValueError(f"the posterior {self!r} has no counter-based sampler (its draws need ops that "
                             "TFLite lacks), so a VampPrior over it cannot sample")
        if not isinstance(temperature, (int, float)) or temperature != 1.0:
            raise ValueError(f"the posterior {self!r} draws only at temperature 1.0, got temperature={temperature}")
        return self.sample(q, 1, seed)[0][0]

    def outputs(self, q):
        """``{"code", ...}``: what ``encode_outputs`` returns besides the code."""
        return {"code": self.code(q)}

    def kl_per_dimension(self, q, p):
        """``KL(q_d || p_d)`` ``[B, d]`` of a factorized posterior and prior (sums to the KL)."""
        return objectives.kl_per_dimension(q, p)


def _gaussian_noise_draws(loc, scale, n, seed):
    """``loc + scale * eps`` ``[n, B, D]``: stateless ``eps`` with a seed, ``tf.random.normal`` without."""
    eps = samplers.normal(tf.concat([[n], tf.shape(loc)], 0), seed)
    return loc[None] + scale[None] * eps


def _fixed_noise(seed, count, shape):
    """``[count, 1, *shape]`` standard-normal draws fixed by an integer ``seed`` (NumPy: a constant in graphs)."""
    eps = np.random.default_rng(seed).standard_normal((count,) + tuple(shape))
    return tf.constant(eps, tf.float32)[:, None]


@register("posterior", "gaussian")
class GaussianPosterior(Posterior):
    """``q(z|x) = N(mu(x), diag sigma(x)^2)``, ``sigma = softplus(.) + min_scale`` (Kingma & Welling 2014).

    The floor ``min_scale`` is the model's ``posterior_min_scale`` (default 1e-4). Codes: ``mu(x)``;
    ``encode_outputs`` adds ``mean`` and ``scale``.
    """

    factorized = True
    diagonal_gaussian = True
    uses_min_scale = True

    def attach(self, model):
        super().attach(model)
        self.head = GaussianHead((self.latent_dim,), scale="learned", min_scale=model.posterior_min_scale,
                                 kernel_initializer=self.kernel_initializer, name="head")

    def parameters(self, h):
        """``(loc, scale)`` ``[B, latent_dim]``."""
        return self.head.parameters(h)

    def call(self, h):
        return self.head(h)

    def gaussian_parameters(self, q):
        return tf.cast(q.mean(), tf.float32), tf.cast(q.stddev(), tf.float32)

    def sample(self, q, n, seed, training=False):
        if seed is None:
            z = _gaussian_noise_draws(*self.gaussian_parameters(q), n, None)
        else:
            z = q.sample(n, seed=seed)
        return z, q.log_prob(z)

    def fixed_draws(self, q, seed, count):
        loc, scale = self.gaussian_parameters(q)
        z = loc[None] + scale[None] * _fixed_noise(seed, count, loc.shape[1:])
        return z, q.log_prob(z)

    def tempered_draw(self, q, seed, temperature=1.0):
        """``mu + T sigma e``, ``e ~ N(0, I)``: ``N(mu, T^2 sigma^2)``."""
        loc, scale = self.gaussian_parameters(q)
        return loc + tf.cast(temperature, tf.float32) * scale * samplers.normal(tf.shape(loc), seed)

    def outputs(self, q):
        loc, scale = self.gaussian_parameters(q)
        return {"code": loc, "mean": loc, "scale": scale}


class FlowPosterior(Posterior):
    """A diagonal Gaussian pushed through an invertible map ``f_x`` whose parameters depend on ``x``.

    ``q(z|x) = tfd.TransformedDistribution(N(mu(x), sigma(x)^2), f_x)``; draws
    ``z = f_x(z_0)`` carry ``log q(z|x) = log N(z_0; mu, sigma^2) - log |det df_x/dz_0|``. The code
    is ``f_x(mu(x))`` (the mean has no closed form); ``encode_outputs`` adds ``base_mean`` and
    ``base_scale``. Subclasses give ``make_flow(feature_size)`` and ``bijector(h)``.
    """

    uses_min_scale = True

    def attach(self, model):
        super().attach(model)
        self.activation = model.activation
        self.head = GaussianHead((self.latent_dim,), scale="learned", min_scale=model.posterior_min_scale,
                                 kernel_initializer=self.kernel_initializer, name="head")

    def build(self, input_shape):
        self.flow = self.make_flow(int(input_shape[-1]))

    def make_flow(self, feature_size):
        raise NotImplementedError

    def bijector(self, h):
        raise NotImplementedError

    def call(self, h):
        return tfd.TransformedDistribution(self.head(h), self.bijector(h), name="flow_posterior")

    def code(self, q):
        return q.bijector.forward(q.distribution.mean())

    @staticmethod
    def push_forward(q, z0):
        """``(z, log q(z|x))`` for base points ``z0`` ``[n, B, D]``: the flow and the change of variables."""
        z = q.bijector.forward(z0)
        log_qz = q.distribution.log_prob(z0) - q.bijector.forward_log_det_jacobian(z0, event_ndims=1)
        return z, tf.cast(log_qz, tf.float32)

    def sample(self, q, n, seed, training=False):
        base = q.distribution
        z0 = base.sample(n, seed=seed) if seed is not None else _gaussian_noise_draws(
            tf.cast(base.mean(), tf.float32), tf.cast(base.stddev(), tf.float32), n, None)
        return self.push_forward(q, z0)

    def fixed_draws(self, q, seed, count):
        base = q.distribution
        mean, std = tf.cast(base.mean(), tf.float32), tf.cast(base.stddev(), tf.float32)
        return self.push_forward(q, mean[None] + std[None] * _fixed_noise(seed, count, mean.shape[1:]))

    def tempered_draw(self, q, seed, temperature=1.0):
        """``f_x(mu + T sigma e)``: the base Gaussian's noise scaled by ``T``, then the flow."""
        base = q.distribution
        mean, std = tf.cast(base.mean(), tf.float32), tf.cast(base.stddev(), tf.float32)
        z0 = mean + tf.cast(temperature, tf.float32) * std * samplers.normal(tf.shape(mean), seed)
        return self.push_forward(q, z0[None])[0][0]

    def outputs(self, q):
        return {"code": self.code(q), "base_mean": tf.cast(q.distribution.mean(), tf.float32),
                "base_scale": tf.cast(q.distribution.stddev(), tf.float32)}


@register("posterior", "iaf")
class IAFPosterior(FlowPosterior):
    """Inverse autoregressive flow posterior (Kingma et al. 2016, "Improved variational inference with IAF").

    ``z_0 ~ N(mu(x), sigma(x)^2)``, then ``K`` steps ``z_k = (z_{k-1} - t_k) exp(-s_k)`` with
    ``(t_k, s_k)`` = MADE_k(``z_{k-1}``) (``amortized=False``) or MADE_k(``z_{k-1}``, ``h(x)``)
    (``amortized=True``: also conditioned on the encoder features, the paper's form),
    autoregressive in ``z_{k-1}``; the order is reversed between steps (``tfb.Invert`` of a
    ``tfb.MaskedAutoregressiveFlow`` with a Keras 3 :class:`~keras_ae.layers.MADE`). The MADEs
    start at the identity (zero output kernels), so training starts from the Gaussian posterior.
    Either way ``mu(x)`` and ``sigma(x)`` make ``q(z|x)`` depend on ``x``.

    Args:
        steps: ``K`` >= 1, default 2 (the paper's MNIST models use 2 to 8; 2 was enough for the
            digits/MNIST recipes here).
        hidden_units: hidden layers of each MADE, default ``(64,)``.
        amortized: the MADEs also read ``h(x)`` (every layer, unmasked), default True (the
            paper's, and what models saved before this argument hold). :func:`~keras_ae.models.IAFVAE`
            defaults to False: measured on the MNIST subset (4,000 training digits, 784-512-16,
            2 MADEs of 3 x 128, 30 epochs, k = 500, seeds 0-2), the flow without ``h(x)`` reached a
            test NLL of 109.08 / 109.64 / 109.60 against 109.60 / 110.42 / 110.49 with it (the
            plain VAE: 110.18 / 110.26 / 110.28): the features' 512-wide kernels only overfit there.
    """

    def __init__(self, steps=2, hidden_units=(64,), amortized=True, **kwargs):
        super().__init__(**kwargs)
        self.steps = _checks.check_positive_int(steps, "steps")
        self.hidden_units = _checks.check_int_sequence(hidden_units, "hidden_units")
        if not isinstance(amortized, (bool, np.bool_)):
            raise ValueError(f"amortized must be True or False, got {amortized!r}")
        self.amortized = bool(amortized)

    def arguments(self):
        return {"steps": self.steps, "hidden_units": list(self.hidden_units), "amortized": self.amortized}

    def make_flow(self, feature_size):
        return AutoregressiveFlow(self.latent_dim, self.steps, self.hidden_units,
                                  context_size=feature_size if self.amortized else 0,
                                  inverse_autoregressive=True, activation=self.activation,
                                  kernel_initializer=self.kernel_initializer, name="iaf")

    def bijector(self, h):
        return self.flow.bijector(context=tf.cast(h, tf.float32) if self.amortized else None)


@register("posterior", "planar")
class PlanarPosterior(FlowPosterior):
    """``K`` planar flows on the Gaussian posterior (Rezende & Mohamed 2015, "Variational inference with
    normalizing flows").

    ``z_k = z_{k-1} + u_hat_k tanh(w_k . z_{k-1} + b_k)`` with ``(u_k, w_k, b_k)`` a linear function
    of the encoder features (amortized, as in the paper) and ``w_k . u_hat_k >= -1`` (invertible).

    Args:
        steps: ``K`` >= 1, default 10 (the paper's MNIST experiments use 10 to 80).
    """

    def __init__(self, steps=10, **kwargs):
        super().__init__(**kwargs)
        self.steps = _checks.check_positive_int(steps, "steps")

    def arguments(self):
        return {"steps": self.steps}

    def make_flow(self, feature_size):
        return PlanarFlow(self.latent_dim, self.steps, kernel_initializer=self.kernel_initializer, name="planar")

    def bijector(self, h):
        return self.flow.bijector(h)


def _flat(shape_of_groups):
    """``tfb.Reshape`` from the ``[N, K]`` one-hot groups to the flat code ``[N * K]``."""
    n, k = shape_of_groups
    return tfb.Reshape([n * k], [n, k])


def one_hot_groups(logits):
    """Independent one-hot categoricals over ``[N, K]`` logits, seen as one flat code ``[N * K]``."""
    return tfd.TransformedDistribution(categorical(logits), _flat(logits.shape[-2:]), name="one_hot_code")


@register("posterior", "categorical")
class CategoricalPosterior(Posterior):
    """``N`` independent categoricals of ``K`` classes, relaxed with Gumbel-softmax in training (Jang et al. 2017).

    The code is the ``N`` one-hot vectors concatenated (``latent_dim = N * K``). In training
    ``y~_n = softmax((log pi_n + g_n) / tau)``, ``g_n`` Gumbel noise (straight-through one-hot
    values with ``straight_through=True``); at evaluation exact one-hot draws (Gumbel-max), so
    the reported ELBO and likelihood are those of the discrete model. ``tau`` is the non-trainable
    ``temperature`` variable (``model.temperature``), which
    :class:`keras_ae.callbacks.TemperatureAnnealing` anneals. ``encode`` gives the one-hot argmax
    of each variable; ``encode_outputs`` adds the class ``probabilities``.

    Args:
        num_variables: ``N`` >= 1, default 20 (Jang et al.'s MNIST model uses 30 x 10).
        num_classes: ``K`` >= 2, default 10.
        temperature: initial temperature, > 0, default 1.0 (the paper's start).
        straight_through: one-hot forward values with relaxed gradients, default False.
    """

    latent_space = "one_hot"
    factorized = True  # over the N variables: free bits floor each variable's KL

    def __init__(self, num_variables=20, num_classes=10, temperature=1.0, straight_through=False, **kwargs):
        super().__init__(**kwargs)
        self.num_variables = _checks.check_positive_int(num_variables, "num_variables")
        self.num_classes = _checks.check_integer(num_classes, "num_classes", minimum=2)
        check_temperature(temperature)
        self.initial_temperature = float(temperature)
        self.straight_through = bool(straight_through)

    def arguments(self):
        return {"num_variables": self.num_variables, "num_classes": self.num_classes,
                "temperature": self.initial_temperature, "straight_through": self.straight_through}

    def check_model(self, model):
        if model.latent_dim != self.num_variables * self.num_classes:
            raise ValueError(f"latent_dim must be num_variables * num_classes = "
                             f"{self.num_variables * self.num_classes} for {self!r}, got {model.latent_dim}")

    def attach(self, model):
        super().attach(model)
        self.temperature = self.add_weight(name="temperature", shape=(), trainable=False,
                                           initializer=keras.initializers.Constant(self.initial_temperature),
                                           aggregation="only_first_replica")
        self.head = RelaxedCategoricalHead(self.num_variables, self.num_classes, self.initial_temperature,
                                           kernel_initializer=self.kernel_initializer, name="head")

    def schedulable_variables(self):
        return {"temperature": self.temperature}

    def call(self, h):
        return one_hot_groups(self.head.logits(h))

    def logits(self, q):
        """``[B, N, K]`` logits of ``q``."""
        return q.distribution.distribution.logits_parameter()

    def _flat_code(self, y):
        return tf.reshape(y, tf.concat([tf.shape(y)[:-2], [self.num_variables * self.num_classes]], 0))

    def code(self, q):
        return self._flat_code(one_hot_argmax(self.logits(q)))

    def sample(self, q, n, seed, training=False):
        """Relaxed (training) or exact one-hot (Gumbel-max) draws ``[n, B, N * K]``."""
        logits = self.logits(q)
        logits = tf.broadcast_to(logits[None], tf.concat([[n], tf.shape(logits)], 0))  # [n, B, N, K]
        if training:
            y = gumbel_softmax(logits, self.temperature, seed=seed, hard=self.straight_through)
        else:
            y = one_hot_argmax(logits + gumbel_noise(tf.shape(logits), seed))
        z = self._flat_code(y)
        return z, q.log_prob(z)

    def outputs(self, q):
        return {"code": self.code(q), "probabilities": self._flat_code(tf.nn.softmax(self.logits(q)))}

    def tempered_draw(self, q, seed, temperature=1.0):
        """One-hot Gumbel-max draws of ``softmax(logits / T)`` per variable, flat ``[B, N * K]``."""
        logits = self.logits(q)
        return self._flat_code(tf.one_hot(samplers.categorical(logits, seed, temperature), self.num_classes))

    def kl_per_dimension(self, q, p):
        """``KL`` of each of the ``N`` variables ``[B, N]``."""
        return objectives.kl_per_dimension(q.distribution, p.distribution)


@register("posterior", "von_mises_fisher")
class VonMisesFisherPosterior(Posterior):
    """``q(z|x) = vMF(mu(x), kappa(x))`` on the unit sphere ``S^{d-1}`` (Davidson et al. 2018, "Hyperspherical
    variational auto-encoders").

    ``mu = h W_mu / ||h W_mu||`` and ``kappa = softplus(h w_kappa) + 1``: the ``+ 1`` is the
    authors' (their released code), keeping the posterior away from the uniform distribution at
    the start. Draws are TFP's ``tfd.VonMisesFisher`` sampler: Wood's (1994) rejection sampler for
    ``w = mu . z`` and a uniform direction on the orthogonal sphere, rotated to ``mu`` by a
    Householder reflection (Davidson et al., algorithm 1; inverse-CDF sampling of ``w`` for
    ``d = 3``). TFP declares it ``FULLY_REPARAMETERIZED`` for ``d = 3`` and ``NOT_REPARAMETERIZED``
    otherwise, yet gradients flow in every dimension: to ``mu`` through the reflection, and to
    ``kappa`` through the accepted proposal
    ``w = (1 - (1 + b) e) / (1 - (1 - b) e)``, ``e ~ Beta((d-1)/2, (d-1)/2)``, with ``b(kappa)``;
    that is Davidson et al.'s reparameterization term ``g_rep`` without their correction term
    ``g_cor`` (exact for ``d = 3``; ``tests/test_hyperspherical.py`` measures both). The code is
    ``mu(x)``; ``encode_outputs`` adds ``concentration``.
    """

    latent_space = "sphere"
    builtin_sampler = False
    density_tflite_skip = ("the von Mises-Fisher density and its KL need modified Bessel functions "
                           "(tfp.math.bessel_ive), which have no TFLite builtin kernels")

    def attach(self, model):
        super().attach(model)
        if self.latent_dim < 2:
            raise ValueError(f"latent_dim must be >= 2 for {self!r} (a sphere S^(d-1) in R^d), got {self.latent_dim}")
        self.projection = keras.layers.Dense(self.latent_dim + 1, name="projection",
                                             kernel_initializer=new_kernel_initializer(self.kernel_initializer))

    def build(self, input_shape):
        self.projection.bias_initializer = fan_in_bias_initializer(self.projection, input_shape)
        self.projection.build(input_shape)

    def supports_xla(self):
        # Wood's rejection loop (d != 3) has no fixed trip count: XLA cannot compile its gradient
        # ("XLA compilation requires a fixed tensor list size"); d = 3 samples by the inverse CDF.
        return self.latent_dim == 3

    def parameters(self, h):
        """``(mean_direction [B, d], concentration [B])``."""
        p = tf.cast(self.projection(h), tf.float32)
        return tf.math.l2_normalize(p[:, :self.latent_dim], axis=-1), tf.nn.softplus(p[:, self.latent_dim]) + 1.0

    def call(self, h):
        return tfd.VonMisesFisher(*self.parameters(h))

    def code(self, q):
        return q.mean_direction

    def outputs(self, q):
        return {"code": q.mean_direction, "concentration": q.concentration}
