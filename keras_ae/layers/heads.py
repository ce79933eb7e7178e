"""Distribution heads: Keras 3 layers mapping features to TensorFlow Probability distributions.

A head projects features to parameters shaped like one event (``ParamProjection``) and wraps
them in a ``tfd`` distribution whose event shape is the data (or code) shape, so
``dist.log_prob(x)`` is one number per example. Parameters are cast to float32 so that
log-probabilities stay in float32 under mixed precision. ``tfp.layers`` is Keras 2 only and
is not used.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, samplers
from keras_ae.layers.bodies import fan_in_bias_initializer, kernel_initializer_config, new_kernel_initializer

tfd = tfp.distributions

GAUSSIAN_SCALES = ("learned", "global", "fixed")
#: the non-linearity of a Gaussian head's mean: none, or a sigmoid for data in [0, 1].
GAUSSIAN_MEANS = ("linear", "sigmoid")


@keras.saving.register_keras_serializable(package="keras_ae")
class ParamProjection(keras.layers.Layer):
    """Features -> ``[B, *event_shape, num_params]`` (or ``[B, *event_shape]`` if ``num_params`` is None).

    Flat features use a dense layer; image features ``[B, H, W, F]`` whose spatial size matches
    an image event use a 3x3 convolution, so a convolutional decoder stays convolutional.
    """

    def __init__(self, event_shape, num_params=None, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.num_params = num_params
        self.k = 1 if num_params is None else int(num_params)
        self.proj = None

    def build(self, input_shape):
        spatial_match = (
            len(input_shape) == 4 and len(self.event_shape) == 3
            and tuple(input_shape[1:3]) == self.event_shape[:2]
        )
        if spatial_match:
            self.proj = keras.layers.Conv2D(self.event_shape[-1] * self.k, 3, padding="same", dtype=self.dtype_policy,
                                            kernel_initializer=new_kernel_initializer(self.kernel_initializer))
        else:
            self.proj = keras.layers.Dense(math.prod(self.event_shape) * self.k, dtype=self.dtype_policy,
                                           kernel_initializer=new_kernel_initializer(self.kernel_initializer))
        self.flatten_first = len(input_shape) > 2 and not spatial_match
        if self.flatten_first:
            input_shape = (input_shape[0], math.prod(input_shape[1:]))
        self.proj.bias_initializer = fan_in_bias_initializer(self.proj, input_shape)
        self.proj.build(input_shape)

    def call(self, h):
        if self.flatten_first:
            h = keras.ops.reshape(h, (-1, math.prod(h.shape[1:])))
        p = self.proj(h)
        if self.num_params is None:
            return keras.ops.reshape(p, (-1,) + self.event_shape)
        # [B, prod(event) * k] or [B, H, W, C * k] -> [B, *event, k]
        return keras.ops.reshape(p, (-1,) + self.event_shape + (self.k,))

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape), "num_params": self.num_params,
                "kernel_initializer": self.kernel_initializer}

    def compute_output_shape(self, input_shape):
        tail = () if self.num_params is None else (self.k,)
        return (input_shape[0],) + self.event_shape + tail


class _Head(keras.layers.Layer):
    """A head whose parameter methods may be called before the layer itself (they build it)."""

    def _build_for(self, h):
        if not self.built:
            self.build(tuple(h.shape))
            self.built = True


@keras.saving.register_keras_serializable(package="keras_ae")
class GaussianHead(_Head):
    """Features -> diagonal Gaussian ``N(loc, diag(scale^2))`` over ``event_shape``.

    Args:
        event_shape: shape of one event, e.g. ``(latent_dim,)`` or ``(28, 28, 1)``.
        scale: ``"learned"`` (per example and dimension, from the features), ``"global"`` (one
            learned scale per dimension, shared by all examples) or ``"fixed"`` (``fixed_scale``).
            Default ``"learned"``.
        fixed_scale: the scale when ``scale="fixed"``, default 1.0.
        min_scale: floor added to a learned scale (keeps the likelihood bounded), default 1e-3.
        mean: ``"linear"`` (default) or ``"sigmoid"``: ``loc = sigmoid(.)``, a mean in (0, 1) for data
            in [0, 1].
        kernel_initializer: of the projection; None: the bodies' default (PyTorch's, see
            ``keras_ae.layers.bodies.DEFAULT_KERNEL_INITIALIZER``). Every head takes it.

    Example: ``GaussianHead((16,))(features).sample(seed=(1, 2))``.
    """

    def __init__(self, event_shape, scale="learned", fixed_scale=1.0, min_scale=1e-3, kernel_initializer=None,
                 mean="linear", **kwargs):
        super().__init__(**kwargs)
        _checks.check_choice(scale, "scale", GAUSSIAN_SCALES)
        self.mean_mode = _checks.check_choice(mean, "mean", GAUSSIAN_MEANS)
        _checks.check_number(fixed_scale, "fixed_scale", minimum=0, exclusive_minimum=True)
        _checks.check_number(min_scale, "min_scale", minimum=0)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.scale_mode = scale
        self.fixed_scale = float(fixed_scale)
        self.min_scale = float(min_scale)
        self.projection = ParamProjection(self.event_shape, 2 if scale == "learned" else None,
                                          kernel_initializer=kernel_initializer)
        if scale == "global":
            self.raw_scale = self.add_weight(
                name="raw_scale", shape=self.event_shape, initializer="zeros", trainable=True
            )

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape), "scale": self.scale_mode,
                "fixed_scale": self.fixed_scale, "min_scale": self.min_scale, "mean": self.mean_mode,
                "kernel_initializer": self.projection.kernel_initializer}

    def build(self, input_shape):
        self.projection.build(input_shape)

    def parameters(self, h):
        """Return ``(loc, scale)`` as float32 tensors of shape ``[B, *event_shape]``."""
        self._build_for(h)
        p = tf.cast(self.projection(h), tf.float32)
        if self.scale_mode == "learned":
            loc, raw = p[..., 0], p[..., 1]
            scale = tf.nn.softplus(raw) + self.min_scale
        elif self.scale_mode == "global":
            loc = p
            scale = tf.broadcast_to(tf.nn.softplus(tf.cast(self.raw_scale, tf.float32)) + self.min_scale,
                                    tf.shape(loc))
        else:
            loc = p
            scale = tf.fill(tf.shape(loc), self.fixed_scale)
        if self.mean_mode == "sigmoid":
            loc = tf.sigmoid(loc)
        return loc, scale

    def call(self, h):
        loc, scale = self.parameters(h)
        return gaussian(loc, scale)


@keras.saving.register_keras_serializable(package="keras_ae")
class BernoulliHead(_Head):
    """Features -> independent Bernoulli over ``event_shape``, parameterized by logits.

    ``mean()`` is ``sigmoid(logits)``, the reconstruction in data space; ``log_prob(x)`` is the
    negative binary cross-entropy, valid for binary data (and used as the usual surrogate for
    grey levels in [0, 1]).
    """

    def __init__(self, event_shape, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.projection = ParamProjection(self.event_shape, kernel_initializer=kernel_initializer)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape),
                "kernel_initializer": self.projection.kernel_initializer}

    def build(self, input_shape):
        self.projection.build(input_shape)

    def logits(self, h):
        self._build_for(h)
        return tf.cast(self.projection(h), tf.float32)

    def call(self, h):
        return bernoulli(self.logits(h))


@keras.saving.register_keras_serializable(package="keras_ae")
class ContinuousBernoulliHead(BernoulliHead):
    """Features -> independent continuous Bernoulli over ``event_shape``, parameterized by logits.

    ``p(x | lambda) = C(lambda) lambda^x (1 - lambda)^(1 - x)`` for ``x`` in [0, 1], with the
    normalizer ``C(lambda)`` that the Bernoulli cross-entropy leaves out: a proper density for
    grey levels (Loaiza-Ganem & Cunningham 2019). ``mean()`` is the reconstruction in data space
    (not ``sigmoid(logits)``).

    Example: ``ContinuousBernoulliHead((784,))(features).log_prob(x)``.
    """

    def call(self, h):
        return continuous_bernoulli(self.logits(h))


@keras.saving.register_keras_serializable(package="keras_ae")
class RelaxedCategoricalHead(keras.layers.Layer):
    """Features -> ``num_variables`` independent relaxed one-hot categoricals with ``num_classes`` classes.

    The event is ``[num_variables, num_classes]``. A Gumbel-softmax sample (Jang et al. 2017;
    Maddison et al. 2017) is ``softmax((logits + g) / temperature)`` with ``g`` standard Gumbel
    noise: on the simplex, and one-hot as the temperature goes to 0. ``logits(h)`` gives the
    parameters for the helpers below (``gumbel_softmax``, ``one_hot_argmax``) and for the exact
    categorical (``categorical(logits)``).

    Args:
        num_variables: number of categorical variables N, >= 1.
        num_classes: classes per variable K, >= 2.
        temperature: default temperature of ``call``, > 0, default 1.0.

    Example: ``RelaxedCategoricalHead(10, 10)(features, temperature=0.5).sample(seed=(1, 2))``.
    """

    def __init__(self, num_variables, num_classes, temperature=1.0, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        _checks.check_positive_int(num_variables, "num_variables")
        _checks.check_integer(num_classes, "num_classes", minimum=2)
        check_temperature(temperature)
        self.num_variables = int(num_variables)
        self.num_classes = int(num_classes)
        self.temperature = float(temperature)
        self.projection = ParamProjection((self.num_variables, self.num_classes), kernel_initializer=kernel_initializer)

    def get_config(self):
        return {**super().get_config(), "num_variables": self.num_variables, "num_classes": self.num_classes,
                "temperature": self.temperature, "kernel_initializer": self.projection.kernel_initializer}

    def build(self, input_shape):
        self.projection.build(input_shape)

    def logits(self, h):
        """``[B, num_variables, num_classes]`` float32 logits."""
        return tf.cast(self.projection(h), tf.float32)

    def call(self, h, temperature=None):
        temperature = self.temperature if temperature is None else temperature
        return tfd.Independent(
            tfd.RelaxedOneHotCategorical(tf.cast(temperature, tf.float32), logits=self.logits(h)),
            reinterpreted_batch_ndims=1,
        )


def check_temperature(temperature):
    """Raise ``ValueError`` unless a (Python) temperature is > 0."""
    if isinstance(temperature, (int, float)):
        _checks.check_number(temperature, "temperature", minimum=0, exclusive_minimum=True)


def gumbel_noise(shape, seed=None):
    """Standard Gumbel noise ``-log(-log u)`` (:func:`keras_ae.samplers.gumbel`): counter-based with a
    ``CounterSeed``, stateless with a ``[2]`` seed, else ``tf.random.uniform`` (a TFLite builtin)."""
    return samplers.gumbel(shape, seed)


def one_hot_argmax(scores):
    """One-hot of the argmax over the last axis, float32 (exactly one 1 per row)."""
    return tf.one_hot(tf.argmax(scores, axis=-1, output_type=tf.int32), tf.shape(scores)[-1], dtype=tf.float32)


def gumbel_softmax(logits, temperature, seed=None, hard=False):
    """A Gumbel-softmax (relaxed one-hot) sample over the last axis of ``logits``.

    ``y = softmax((logits + g) / temperature)``, ``g ~ Gumbel(0, 1)``. With ``hard=True`` the
    value is the one-hot ``argmax(y)`` while the gradient is that of ``y`` (straight-through,
    Jang et al. 2017, section 2.2).

    Args:
        logits: ``[..., K]`` unnormalized log-probabilities.
        temperature: scalar > 0 (a tensor or variable may be annealed during training).
        seed: stateless ``[2]`` seed, or None for fresh ``tf.random.uniform`` noise.
        hard: straight-through one-hot samples, default False.
    """
    check_temperature(temperature)
    logits = tf.cast(logits, tf.float32)
    soft = tf.nn.softmax((logits + gumbel_noise(tf.shape(logits), seed)) / tf.cast(temperature, tf.float32), axis=-1)
    if not hard:
        return soft
    return soft + tf.stop_gradient(one_hot_argmax(soft) - soft)


def categorical(logits):
    """Independent one-hot categoricals over the last axis; the event is ``[N, K]``."""
    return tfd.Independent(tfd.OneHotCategorical(logits=tf.cast(logits, tf.float32), dtype=tf.float32),
                           reinterpreted_batch_ndims=1)


def continuous_bernoulli(logits):
    """Independent continuous Bernoulli whose event is everything after the batch axis."""
    return tfd.Independent(
        tfd.ContinuousBernoulli(logits=logits), reinterpreted_batch_ndims=len(logits.shape) - 1
    )


def gaussian(loc, scale):
    """Diagonal Gaussian whose event is everything after the batch axis."""
    return tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=len(loc.shape) - 1)


class LogitBernoulli(tfd.Bernoulli):
    """``tfd.Bernoulli`` on logits whose ``log_prob`` is one fused binary cross-entropy.

    ``log p(x | s) = x s - softplus(s) = -sigmoid_cross_entropy_with_logits(x, s)``: the value
    TFP computes as ``(1 - x) (-softplus(s)) + x (-softplus(-s))``, with one exponential and one
    logarithm per pixel instead of two of each (about a tenth of a 784-512-16 VAE training step
    on the CPU, measured with ``python -m zoo bench vae-mnist``). Equal to ``tfd.Bernoulli`` to
    float32 round-off for finite logits (tested); a decoder's logits are always finite.
    """

    def _log_prob(self, event):
        logits = self.logits_parameter()
        return -tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(event, logits.dtype), logits=logits)


def bernoulli(logits):
    """Independent Bernoulli (float32 samples) whose event is everything after the batch axis."""
    return tfd.Independent(
        LogitBernoulli(logits=logits, dtype=tf.float32), reinterpreted_batch_ndims=len(logits.shape) - 1
    )


LIKELIHOOD_HEADS = {
    "bernoulli": BernoulliHead,
    "gaussian": GaussianHead,
    "continuous_bernoulli": ContinuousBernoulliHead,
}

# Likelihoods whose support is [0, 1]: data outside it is rejected with a ValueError.
UNIT_INTERVAL_LIKELIHOODS = {"bernoulli", "continuous_bernoulli"}


def get_likelihood_head(likelihood, event_shape, **kwargs):
    """Build the head for a named likelihood (``"bernoulli"``, ``"gaussian"``, ...)."""
    _checks.check_choice(likelihood, "likelihood", sorted(LIKELIHOOD_HEADS))
    return LIKELIHOOD_HEADS[likelihood](event_shape, **kwargs)
