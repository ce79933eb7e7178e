"""Normalizing flows as Keras 3 layers that hand TFP bijectors out: planar flows, IAF and MAF stacks.

A layer owns the weights (created with ``add_weight`` / sub-layers); its ``bijector(...)`` method
builds a ``tfb`` bijector from them at call time, so a ``tfd.TransformedDistribution`` of a base
distribution and that bijector is the flow's density, with TFP computing log-determinants.

- :class:`PlanarBijector`, :class:`PlanarFlow`: ``f(z) = z + u_hat tanh(w.z + b)`` (Rezende &
  Mohamed 2015, "Variational inference with normalizing flows"), with ``u_hat`` chosen so that
  ``w.u_hat >= -1`` (their appendix A.1): then ``f`` is invertible, and the inverse is a 1-D
  monotone root, found by bisection.
- :class:`AutoregressiveFlow`: ``K`` affine autoregressive steps, each from a :class:`MADE`
  through ``tfb.MaskedAutoregressiveFlow`` (Papamakarios et al. 2017, MAF), with the order
  reversed between steps; ``inverse_autoregressive=True`` gives IAF (Kingma et al. 2016,
  "Improved variational inference with inverse autoregressive flow"), whose forward pass (the
  sampling direction) is one parallel pass per step.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks
from keras_ae.layers.bodies import kernel_initializer_config, new_kernel_initializer
from keras_ae.layers.made import MADE, shift_and_log_scale

tfb = tfp.bijectors

#: bisection steps of the planar inverse: the bracket has width ``2 |w.u_hat|`` and halves each step,
#: so 60 steps reach float32 resolution for any ``|w.u_hat| < 2^36``.
PLANAR_INVERSE_STEPS = 60


def planar_u_hat(u, w):
    """``u_hat = u + (m(w.u) - w.u) w / ||w||^2`` with ``m(a) = -1 + softplus(a)``: ``w.u_hat > -1``."""
    wu = tf.reduce_sum(w * u, axis=-1, keepdims=True)
    m = -1.0 + tf.nn.softplus(wu)
    return u + (m - wu) * w / (tf.reduce_sum(tf.square(w), axis=-1, keepdims=True) + 1e-12)


class PlanarBijector(tfb.Bijector):
    """One planar flow ``y = z + u_hat tanh(w.z + b)`` over the last axis (event size ``D``).

    ``log |det dy/dz| = log(1 + (1 - tanh^2(w.z + b)) w.u_hat)``, positive inside the log because
    ``w.u_hat > -1`` (the constraint is applied to ``u`` here, see :func:`planar_u_hat`).

    Args:
        u, w: ``[..., D]`` (batch axes broadcast against the input's, e.g. one flow per example).
        b: ``[...]`` (or ``[..., 1]``).
    """

    def __init__(self, u, w, b, validate_args=False, name="planar"):
        parameters = dict(locals())
        with tf.name_scope(name):
            self._w = tf.convert_to_tensor(w, tf.float32)
            self._u_hat = planar_u_hat(tf.convert_to_tensor(u, tf.float32), self._w)
            b = tf.convert_to_tensor(b, tf.float32)
            self._b = b[..., None] if b.shape.rank == self._w.shape.rank - 1 else b
            super().__init__(forward_min_event_ndims=1, validate_args=validate_args, parameters=parameters,
                             name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(u=tfp.util.ParameterProperties(event_ndims=1), w=tfp.util.ParameterProperties(event_ndims=1),
                    b=tfp.util.ParameterProperties(event_ndims=0))

    @property
    def wu(self):
        """``w.u_hat`` ``[..., 1]``, > -1."""
        return tf.reduce_sum(self._w * self._u_hat, axis=-1, keepdims=True)

    def _forward(self, z):
        a = tf.reduce_sum(self._w * z, axis=-1, keepdims=True) + self._b
        return z + self._u_hat * tf.tanh(a)

    def _forward_log_det_jacobian(self, z):
        a = tf.reduce_sum(self._w * z, axis=-1, keepdims=True) + self._b
        return tf.math.log1p((1.0 - tf.square(tf.tanh(a))) * self.wu)[..., 0]

    def _inverse(self, y):
        # a = w.z + b solves g(a) = a + (w.u_hat) tanh(a) = w.y + b, g increasing; |a - c| <= |w.u_hat|.
        c = tf.reduce_sum(self._w * y, axis=-1, keepdims=True) + self._b
        wu = self.wu
        low, high = c - tf.abs(wu), c + tf.abs(wu)
        for _ in range(PLANAR_INVERSE_STEPS):
            mid = 0.5 * (low + high)
            below = mid + wu * tf.tanh(mid) < c
            low, high = tf.where(below, mid, low), tf.where(below, high, mid)
        return y - self._u_hat * tf.tanh(0.5 * (low + high))

    def _inverse_log_det_jacobian(self, y):
        return -self._forward_log_det_jacobian(self._inverse(y))


@keras.saving.register_keras_serializable(package="keras_ae")
class PlanarFlow(keras.layers.Layer):
    """``num_steps`` planar flows whose parameters come from features (amortized, as in Rezende & Mohamed).

    ``bijector(h)`` for features ``h`` ``[B, F]`` is ``f_K o ... o f_1`` with per-example ``u_k, w_k, b_k``
    from one dense projection of ``h``.

    Args:
        event_size: ``D`` >= 1.
        num_steps: ``K`` >= 1, default 10.
        kernel_initializer: of the projection; None: the bodies' default.
    """

    def __init__(self, event_size, num_steps=10, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.event_size = _checks.check_positive_int(event_size, "event_size")
        self.num_steps = _checks.check_positive_int(num_steps, "num_steps")
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        self.projection = keras.layers.Dense(self.num_steps * (2 * self.event_size + 1), name="planar_params",
                                             kernel_initializer=new_kernel_initializer(self.kernel_initializer))

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "num_steps": self.num_steps,
                "kernel_initializer": self.kernel_initializer}

    def build(self, input_shape):
        self.projection.build(input_shape)

    def call(self, h):
        """``(u, w, b)``: ``[B, K, D]``, ``[B, K, D]``, ``[B, K]``."""
        p = tf.cast(self.projection(h), tf.float32)
        p = tf.reshape(p, [-1, self.num_steps, 2 * self.event_size + 1])
        return p[..., :self.event_size], p[..., self.event_size:2 * self.event_size], p[..., -1]

    def bijector(self, h):
        u, w, b = self(h)
        steps = [PlanarBijector(u[:, k], w[:, k], b[:, k], name=f"planar_{k}") for k in range(self.num_steps)]
        return tfb.Chain(steps[::-1], name="planar_flow")  # Chain applies the last entry first


@keras.saving.register_keras_serializable(package="keras_ae")
class AutoregressiveFlow(keras.layers.Layer):
    """``K`` affine autoregressive steps (MADE + ``tfb.MaskedAutoregressiveFlow``), order reversed between steps.

    Step ``k`` maps ``x`` to ``y`` with ``y_i = x_i exp(s_i) + t_i`` where ``(t_i, s_i)`` = MADE_k of
    ``y_<i`` (MAF: density evaluation ``y -> x`` is one parallel pass, sampling is ``D`` passes) or,
    with ``inverse_autoregressive=True``, of ``x_<i`` (IAF: ``y = (x - t(x)) exp(-s(x))`` is one
    parallel pass, the inverse is ``D`` passes). Between steps a ``tfb.Permute`` reverses the order.

    Args:
        event_size: ``D`` >= 1.
        num_steps: ``K`` >= 1, default 2.
        hidden_units: MADE hidden layers, default ``(64,)``.
        context_size: size of a conditioning vector passed to ``bijector(context)``, default 0.
        inverse_autoregressive: IAF instead of MAF, default False.
        activation, kernel_initializer: of the MADEs (default ``"relu"``, the bodies' default).
    """

    def __init__(self, event_size, num_steps=2, hidden_units=(64,), context_size=0, inverse_autoregressive=False,
                 activation="relu", kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.event_size = _checks.check_positive_int(event_size, "event_size")
        self.num_steps = _checks.check_positive_int(num_steps, "num_steps")
        self.hidden_units = tuple(_checks.check_positive_int(u, "hidden_units entries") for u in hidden_units)
        self.context_size = _checks.check_integer(context_size, "context_size", minimum=0)
        self.inverse_autoregressive = bool(inverse_autoregressive)
        self.activation = activation
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        self.mades = [MADE(self.event_size, 2, self.hidden_units, "natural", self.context_size, activation,
                           kernel_initializer=self.kernel_initializer, name=f"made_{k}")
                      for k in range(self.num_steps)]
        self.reverse = np.arange(self.event_size)[::-1].copy()
        self.built = True

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "num_steps": self.num_steps,
                "hidden_units": list(self.hidden_units), "context_size": self.context_size,
                "inverse_autoregressive": self.inverse_autoregressive, "activation": self.activation,
                "kernel_initializer": self.kernel_initializer}

    def build(self, input_shape=None):
        self.built = True

    def step(self, k, context=None):
        """The bijector of step ``k`` alone (MAF, or IAF as ``tfb.Invert`` of a MAF)."""
        maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=shift_and_log_scale(self.mades[k], context),
                                           name=f"maf_{k}")
        return tfb.Invert(maf, name=f"iaf_{k}") if self.inverse_autoregressive else maf

    def bijector(self, context=None):
        """``step_{K-1} o reverse o ... o reverse o step_0`` as one ``tfb.Chain``."""
        parts = []
        for k in range(self.num_steps):
            if k:
                parts.append(tfb.Permute(self.reverse, name=f"reverse_{k}"))
            parts.append(self.step(k, context))
        return tfb.Chain(parts[::-1], name="iaf" if self.inverse_autoregressive else "maf")

    def call(self, x, context=None):
        """``bijector(context).forward(x)``."""
        return self.bijector(context).forward(x)

    def sample_forward(self, x):
        """The MAF forward pass (``x -> y``) written with builtin ops only: ``D`` masked passes per step.

        Equal to ``bijector().forward(x)`` for a MAF without context; the exported ``sample`` of a
        MAF prior uses it because TFLite has no kernels for the loop TFP's MAF builds.
        """
        if self.inverse_autoregressive or self.context_size:
            raise ValueError("sample_forward is the forward pass of an unconditional MAF")
        y = tf.cast(x, tf.float32)
        for k in range(self.num_steps):
            if k:
                y = tf.gather(y, self.reverse, axis=-1)
            fn = shift_and_log_scale(self.mades[k])
            out = tf.zeros_like(y)
            # After pass i, coordinates 0..i are final (coordinate i needs only 0..i-1).
            for _ in range(self.event_size):
                shift, log_scale = fn(out)
                out = y * tf.exp(log_scale) + shift
            y = out
        return y
