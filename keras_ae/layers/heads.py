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

tfd = tfp.distributions

GAUSSIAN_SCALES = ("learned", "global", "fixed")


class ParamProjection(keras.layers.Layer):
    """Features -> ``[B, *event_shape, num_params]`` (or ``[B, *event_shape]`` if ``num_params`` is None).

    Flat features use a dense layer; image features ``[B, H, W, F]`` whose spatial size matches
    an image event use a 3x3 convolution, so a convolutional decoder stays convolutional.
    """

    def __init__(self, event_shape, num_params=None, **kwargs):
        super().__init__(**kwargs)
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
            self.proj = keras.layers.Conv2D(self.event_shape[-1] * self.k, 3, padding="same")
        else:
            self.proj = keras.layers.Dense(math.prod(self.event_shape) * self.k)
        self.flatten_first = len(input_shape) > 2 and not spatial_match
        if self.flatten_first:
            input_shape = (input_shape[0], math.prod(input_shape[1:]))
        self.proj.build(input_shape)

    def call(self, h):
        if self.flatten_first:
            h = keras.ops.reshape(h, (-1, math.prod(h.shape[1:])))
        p = self.proj(h)
        if self.num_params is None:
            return keras.ops.reshape(p, (-1,) + self.event_shape)
        # [B, prod(event) * k] or [B, H, W, C * k] -> [B, *event, k]
        return keras.ops.reshape(p, (-1,) + self.event_shape + (self.k,))

    def compute_output_shape(self, input_shape):
        tail = () if self.num_params is None else (self.k,)
        return (input_shape[0],) + self.event_shape + tail


class GaussianHead(keras.layers.Layer):
    """Features -> diagonal Gaussian ``N(loc, diag(scale^2))`` over ``event_shape``.

    Args:
        event_shape: shape of one event, e.g. ``(latent_dim,)`` or ``(28, 28, 1)``.
        scale: ``"learned"`` (per example and dimension, from the features), ``"global"`` (one
            learned scale per dimension, shared by all examples) or ``"fixed"`` (``fixed_scale``).
            Default ``"learned"``.
        fixed_scale: the scale when ``scale="fixed"``, default 1.0.
        min_scale: floor added to a learned scale (keeps the likelihood bounded), default 1e-3.

    Example: ``GaussianHead((16,))(features).sample(seed=(1, 2))``.
    """

    def __init__(self, event_shape, scale="learned", fixed_scale=1.0, min_scale=1e-3, **kwargs):
        super().__init__(**kwargs)
        if scale not in GAUSSIAN_SCALES:
            raise ValueError(f"scale must be one of {GAUSSIAN_SCALES}, got {scale!r}")
        if fixed_scale <= 0:
            raise ValueError(f"fixed_scale must be > 0, got {fixed_scale}")
        if min_scale < 0:
            raise ValueError(f"min_scale must be >= 0, got {min_scale}")
        self.event_shape = tuple(int(d) for d in event_shape)
        self.scale_mode = scale
        self.fixed_scale = float(fixed_scale)
        self.min_scale = float(min_scale)
        self.projection = ParamProjection(self.event_shape, 2 if scale == "learned" else None)
        if scale == "global":
            self.raw_scale = self.add_weight(
                name="raw_scale", shape=self.event_shape, initializer="zeros", trainable=True
            )

    def build(self, input_shape):
        self.projection.build(input_shape)

    def parameters(self, h):
        """Return ``(loc, scale)`` as float32 tensors of shape ``[B, *event_shape]``."""
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
        return loc, scale

    def call(self, h):
        loc, scale = self.parameters(h)
        return gaussian(loc, scale)


class BernoulliHead(keras.layers.Layer):
    """Features -> independent Bernoulli over ``event_shape``, parameterized by logits.

    ``mean()`` is ``sigmoid(logits)``, the reconstruction in data space; ``log_prob(x)`` is the
    negative binary cross-entropy, valid for binary data (and used as the usual surrogate for
    grey levels in [0, 1]).
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.projection = ParamProjection(self.event_shape)

    def build(self, input_shape):
        self.projection.build(input_shape)

    def logits(self, h):
        return tf.cast(self.projection(h), tf.float32)

    def call(self, h):
        return bernoulli(self.logits(h))


def gaussian(loc, scale):
    """Diagonal Gaussian whose event is everything after the batch axis."""
    return tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=len(loc.shape) - 1)


def bernoulli(logits):
    """Independent Bernoulli (float32 samples) whose event is everything after the batch axis."""
    return tfd.Independent(
        tfd.Bernoulli(logits=logits, dtype=tf.float32), reinterpreted_batch_ndims=len(logits.shape) - 1
    )


LIKELIHOOD_HEADS = {
    "bernoulli": BernoulliHead,
    "gaussian": GaussianHead,
}

# Likelihoods whose support is [0, 1]: data outside it is rejected with a ValueError.
UNIT_INTERVAL_LIKELIHOODS = {"bernoulli"}


def get_likelihood_head(likelihood, event_shape, **kwargs):
    """Build the head for a named likelihood (``"bernoulli"``, ``"gaussian"``, ...)."""
    if likelihood not in LIKELIHOOD_HEADS:
        raise ValueError(f"likelihood must be one of {sorted(LIKELIHOOD_HEADS)}, got {likelihood!r}")
    return LIKELIHOOD_HEADS[likelihood](event_shape, **kwargs)
