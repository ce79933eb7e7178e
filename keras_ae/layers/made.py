"""MADE, the masked autoencoder for distribution estimation, as a Keras 3 layer.

Germain, Gregor, Murray & Larochelle 2015, "MADE: Masked Autoencoder for Distribution
Estimation". A dense network whose weight matrices are multiplied by binary masks so that output
``i`` depends only on the inputs that come *before* ``i`` in a chosen order::

    out[..., i, :] = f_i(x[..., order < rank(i)], context)

Each input ``d`` gets a degree ``m(d)`` in ``1..D`` (its rank in the order); each hidden unit a
degree in ``1..D-1``. A hidden weight from ``a`` to ``b`` is kept when ``m(b) >= m(a)``, an output
weight when ``m(out) > m(hidden)``, so the Jacobian ``d out_i / d x_j`` is zero unless ``j`` comes
strictly before ``i``: strictly triangular in the order. The optional ``context`` (a conditioning
vector, e.g. encoder features for IAF) enters every layer unmasked.

TFP's ``tfb.AutoregressiveNetwork`` does the same for Keras 2 (``tf_keras``) only; this layer is its
Keras 3 replacement, and :func:`shift_and_log_scale` turns it into the
``shift_and_log_scale_fn`` of ``tfb.MaskedAutoregressiveFlow``.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_ae import _checks
from keras_ae.layers.bodies import kernel_initializer_config, new_kernel_initializer

ORDERS = ("natural", "reversed", "random")


def input_order(event_size, order="natural", seed=0):
    """The order as a permutation: ``result[k]`` is the input generated ``k``-th.

    Args:
        event_size: ``D`` >= 1.
        order: ``"natural"`` (0, 1, ..., D-1), ``"reversed"``, ``"random"`` (a permutation drawn
            with ``seed``) or an explicit permutation of ``range(D)``.
        seed: integer seed of the random order.
    """
    event_size = _checks.check_positive_int(event_size, "event_size")
    if isinstance(order, str):
        _checks.check_choice(order, "order", ORDERS)
        if order == "natural":
            return np.arange(event_size)
        if order == "reversed":
            return np.arange(event_size)[::-1].copy()
        return np.random.default_rng(_checks.check_seed(seed)).permutation(event_size)
    perm = np.asarray(order)
    if perm.ndim != 1 or sorted(perm.tolist()) != list(range(event_size)):
        raise ValueError(f"order must be one of {ORDERS} or a permutation of range({event_size}), got {order!r}")
    return perm.astype(np.int64)


def made_masks(event_size, hidden_units, order):
    """Binary masks ``[fan_in, fan_out]`` of every layer, from the degrees (Germain et al., eq. 12-13).

    Input ``d`` has degree ``rank(d) + 1``; hidden layer ``l`` has degrees cycling through
    ``min_prev .. D-1`` (evenly spread, deterministic); the output layer (per input dimension) uses
    the input degrees with a strict inequality. Returns ``(masks, input_degrees)``.
    """
    input_degrees = np.empty(event_size, np.int64)
    input_degrees[np.asarray(order)] = np.arange(1, event_size + 1)
    degrees, masks = input_degrees, []
    for units in hidden_units:
        low, high = int(np.min(degrees)), max(event_size - 1, 1)
        low = min(low, high)
        hidden = low + np.arange(units) % (high - low + 1)  # [units]
        masks.append((hidden[None, :] >= degrees[:, None]).astype(np.float32))
        degrees = hidden
    masks.append((input_degrees[None, :] > degrees[:, None]).astype(np.float32))
    return masks, input_degrees


@keras.saving.register_keras_serializable(package="keras_ae")
class MADE(keras.layers.Layer):
    """Autoregressive network: ``x [..., D]`` (and ``context [..., C]``) -> ``[..., D, num_params]``.

    ``out[..., i, :]`` depends on ``x[..., j]`` only for ``j`` before ``i`` in ``order`` (never on
    ``x[..., i]`` itself), and on ``context`` freely. Leading axes broadcast: ``x`` may be
    ``[n, B, D]`` with ``context`` ``[B, C]`` (``n`` samples of a batch).

    Args:
        event_size: ``D`` >= 1, the size of the autoregressive input.
        num_params: outputs per input dimension, >= 1, default 2 (e.g. shift and log-scale).
        hidden_units: sizes of the masked hidden layers, default ``(64,)``; ``()`` for none.
        order: ``"natural"`` (default), ``"reversed"``, ``"random"`` or a permutation of ``range(D)``.
        context_size: size of the conditioning input, >= 0, default 0 (none).
        activation: hidden non-linearity, default ``"relu"``.
        seed: seed of a random ``order``, default 0.
        kernel_initializer: of the hidden kernels; None: the bodies' default.
        output_initializer: of the output kernel, default ``"zeros"`` (a flow built from it starts
            at the identity: shift 0, log-scale 0).

    Example::

        made = MADE(event_size=8, num_params=2, hidden_units=(64, 64), context_size=32)
        params = made(z, context=h)        # [B, 8, 2], params[:, i] a function of z[:, :i] and h
    """

    def __init__(self, event_size, num_params=2, hidden_units=(64,), order="natural", context_size=0,
                 activation="relu", seed=0, kernel_initializer=None, output_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.event_size = _checks.check_positive_int(event_size, "event_size")
        self.num_params = _checks.check_positive_int(num_params, "num_params")
        self.hidden_units = tuple(_checks.check_positive_int(u, "hidden_units entries") for u in hidden_units)
        self.context_size = _checks.check_integer(context_size, "context_size", minimum=0)
        self.seed = _checks.check_seed(seed) or 0
        self.order_spec = order if isinstance(order, str) else [int(v) for v in order]
        self.order = input_order(self.event_size, order, self.seed)
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        self.output_initializer = kernel_initializer_config(output_initializer)
        masks, self.input_degrees = made_masks(self.event_size, self.hidden_units, self.order)
        # The output mask repeats per parameter: column i * num_params + p belongs to dimension i.
        masks[-1] = np.repeat(masks[-1], self.num_params, axis=1)
        self._masks = [tf.constant(m) for m in masks]
        sizes = (self.event_size,) + self.hidden_units + (self.event_size * self.num_params,)
        self.kernels, self.biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            init = new_kernel_initializer(self.output_initializer if last else self.kernel_initializer)
            self.kernels.append(self.add_weight(name=f"kernel_{i}", shape=(fan_in, fan_out), initializer=init))
            self.biases.append(self.add_weight(name=f"bias_{i}", shape=(fan_out,), initializer="zeros"))
        # The context enters every layer unmasked (TFP's conditional_input_layers="all_layers"): the
        # first output in the order has no masked input at all and would otherwise ignore it.
        self.context_kernels = []
        for i, fan_out in enumerate(sizes[1:] if self.context_size else ()):
            last = i == len(sizes) - 2
            init = new_kernel_initializer(self.output_initializer if last else self.kernel_initializer)
            self.context_kernels.append(self.add_weight(name=f"context_kernel_{i}", shape=(self.context_size, fan_out),
                                                        initializer=init))
        self.built = True

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "num_params": self.num_params,
                "hidden_units": list(self.hidden_units), "order": self.order_spec,
                "context_size": self.context_size, "activation": self.activation_name, "seed": self.seed,
                "kernel_initializer": self.kernel_initializer, "output_initializer": self.output_initializer}

    def build(self, input_shape=None):
        self.built = True

    def masked_kernels(self):
        """The kernels times their masks: what ``call`` multiplies by."""
        return [tf.cast(k, tf.float32) * m for k, m in zip(self.kernels, self._masks)]

    def call(self, x, context=None):
        return self.output_params(self.features(x, context), context)

    def features(self, x, context=None):
        """The last hidden layer ``[..., hidden_units[-1]]`` (the input itself without hidden layers)."""
        if (context is None) != (not self.context_kernels):
            raise ValueError(f"MADE built with context_size={self.context_size} got context "
                             f"{'None' if context is None else 'a tensor'}")
        h = tf.cast(x, tf.float32)
        for i, kernel in enumerate(self.masked_kernels()[:-1]):
            h = self.activation(self._layer(h, i, kernel, context))
        return h

    def output_params(self, h, context=None):
        """Last hidden layer -> ``[..., D, num_params]``."""
        h = self._layer(h, len(self.kernels) - 1, self.masked_kernels()[-1], context)
        # [..., D * P] -> [..., D, P]
        return tf.reshape(h, tf.concat([tf.shape(h)[:-1], [self.event_size, self.num_params]], 0))

    def _layer(self, h, i, kernel, context):
        h = tf.linalg.matmul(h, kernel) if h.shape.rank == 2 else tf.tensordot(h, kernel, [[h.shape.rank - 1], [0]])
        h = h + tf.cast(self.biases[i], tf.float32)
        if context is not None:
            h = h + tf.linalg.matmul(tf.cast(context, tf.float32), tf.cast(self.context_kernels[i], tf.float32))
        return h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.event_size, self.num_params)


#: bound of a flow step's log-scale, ``|log s| <= LOG_SCALE_BOUND``: keeps one step from scaling by
#: more than e^3 ~ 20 in either direction early in training (a soft bound: ``b * tanh(s / b)``).
LOG_SCALE_BOUND = 3.0


def shift_and_log_scale(made, context=None):
    """A ``shift_and_log_scale_fn`` for ``tfb.MaskedAutoregressiveFlow`` from a ``num_params=2`` MADE.

    Returns ``fn(y) -> (shift, log_scale)``, each shaped like ``y``; the log-scale is soft-bounded
    by :data:`LOG_SCALE_BOUND`. ``context`` (``[B, C]``) is closed over: the flow is conditional.
    """
    if made.num_params != 2:
        raise ValueError(f"shift_and_log_scale needs a MADE with num_params=2, got num_params={made.num_params}")

    def fn(y, **unused):
        params = made(y, context=context)
        shift, raw = params[..., 0], params[..., 1]
        return shift, LOG_SCALE_BOUND * tf.tanh(raw / LOG_SCALE_BOUND)

    return fn
