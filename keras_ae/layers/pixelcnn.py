"""Gated PixelCNN as Keras 3 layers: masked convolutions, gated blocks, the stacked network.

van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016, "Conditional Image
Generation with PixelCNN Decoders" (gated blocks, vertical and horizontal stacks without the blind
spot, conditioning); van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural
Networks" (masks of type A and B).

Pixels are ordered in raster order (row by row, left to right). A network whose first layer has
mask ``"A"`` gives, at pixel ``i``, outputs that depend only on the pixels before ``i``: the
conditionals ``p(x_i | x_<i)`` of an exact likelihood. With ``"B"`` they depend on the pixels up
to and including ``i``.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_ae import _checks, samplers
from keras_ae.layers.bodies import kernel_initializer_config, new_kernel_initializer

MASK_TYPES = ("A", "B")
STACKS = ("vertical", "horizontal")


def causal_mask(kernel_size, mask_type, stack):
    """The ``[kh, kw, 1, 1]`` 0/1 mask of a masked convolution ("same" padding, centre ``(kh // 2, kw // 2)``).

    - ``stack="vertical"``: a ``k x k`` kernel keeps the rows up to and including the centre row
      (every column); the vertical stack is shifted down a row before the horizontal stack sees it.
    - ``stack="horizontal"``: a ``1 x k`` kernel keeps the columns left of the centre, and the
      centre itself for type ``"B"``.
    """
    kh, kw = kernel_size
    mask = np.zeros((kh, kw, 1, 1), np.float32)
    if stack == "vertical":
        mask[: kh // 2 + 1] = 1.0
    else:
        mask[:, : kw // 2 + (1 if mask_type == "B" else 0)] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="keras_ae")
class MaskedConv2D(keras.layers.Conv2D):
    """A "same" 2-D convolution whose kernel is multiplied by a :func:`causal_mask`.

    Args:
        filters, kernel_size: as ``keras.layers.Conv2D`` (kernel ``(1, k)`` for the horizontal stack).
        mask_type: ``"A"`` (excludes the centre pixel) or ``"B"`` (includes it).
        stack: ``"vertical"`` or ``"horizontal"``.
        **kwargs: other ``Conv2D`` arguments (``padding`` is always ``"same"``).
    """

    def __init__(self, filters, kernel_size, mask_type="B", stack="horizontal", **kwargs):
        kwargs["padding"] = "same"
        super().__init__(filters, kernel_size, **kwargs)
        self.mask_type = _checks.check_choice(mask_type, "mask_type", MASK_TYPES)
        self.stack = _checks.check_choice(stack, "stack", STACKS)
        self.mask = causal_mask(self.kernel_size, mask_type, stack)

    def get_config(self):
        return {**super().get_config(), "mask_type": self.mask_type, "stack": self.stack}

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * self.mask)


def shift_down(x):
    """``y[:, i] = x[:, i - 1]``, zeros in the first row: the vertical stack as seen from the row below."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def gate(x):
    """``tanh(a) * sigmoid(b)`` of the two halves of the last axis (the gated activation unit, eq. 2)."""
    a, b = tf.split(x, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


@keras.saving.register_keras_serializable(package="keras_ae")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated layer of both stacks (van den Oord et al. 2016, figure 2).

    ``v' = gate(V * v + C_v c)``; ``h' = h + W_o gate(H * h + W_vh shift(V * v) + C_h c)`` (no
    residual for the first layer, whose horizontal input is the image), where ``V`` is the
    vertical masked convolution, ``H`` the horizontal one (type ``mask_type``), ``shift`` moves the
    vertical stack down a row and ``c`` is the optional condition (a vector per example or a map
    of the image's size).

    Args:
        filters: channels ``p`` of both stacks.
        kernel_size: odd ``k``: ``k x k`` vertical and ``1 x k`` horizontal kernels.
        mask_type: of the horizontal convolution, ``"A"`` for the first layer of an exact model.
        residual: add the block's input to the horizontal output (False for the first layer).
        kernel_initializer: config of every kernel.
    """

    def __init__(self, filters, kernel_size=3, mask_type="B", residual=True, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = _checks.check_positive_int(filters, "filters")
        self.kernel_size = _checks.check_positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.mask_type = _checks.check_choice(mask_type, "mask_type", MASK_TYPES)
        self.residual = bool(residual)
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        k, p = self.kernel_size, self.filters

        def init():
            return new_kernel_initializer(self.kernel_initializer)

        self.vertical = MaskedConv2D(2 * p, (k, k), mask_type, "vertical", kernel_initializer=init(), name="vertical")
        self.horizontal = MaskedConv2D(2 * p, (1, k), mask_type, "horizontal", kernel_initializer=init(),
                                       name="horizontal")
        self.vertical_to_horizontal = keras.layers.Conv2D(2 * p, 1, kernel_initializer=init(), name="v_to_h")
        self.horizontal_output = keras.layers.Conv2D(p, 1, kernel_initializer=init(), name="h_out")
        self.condition_vertical = keras.layers.Dense(2 * p, use_bias=False, kernel_initializer=init(), name="c_v")
        self.condition_horizontal = keras.layers.Dense(2 * p, use_bias=False, kernel_initializer=init(), name="c_h")

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "mask_type": self.mask_type, "residual": self.residual, "kernel_initializer": self.kernel_initializer}

    def build(self, *shapes, **unused):
        self.built = True  # the convolutions build on the first call (their input sizes differ per stack)

    def call(self, v, h, condition=None):
        v_pre = self.vertical(v)
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(shift_down(v_pre))
        if condition is not None:
            v_pre = v_pre + self.condition_vertical(condition)
            h_pre = h_pre + self.condition_horizontal(condition)
        h_new = self.horizontal_output(gate(h_pre))
        return gate(v_pre), (h + h_new if self.residual else h_new)


@keras.saving.register_keras_serializable(package="keras_ae")
class GatedPixelCNN(keras.layers.Layer):
    """A Gated PixelCNN: per-pixel conditional parameters of an image or a grid of codes.

    Input ``x``: binary images ``[B, H, W, 1]`` (``num_classes=None``: one Bernoulli logit per
    pixel) or int codes ``[B, H, W]`` in ``[0, K)`` (``num_classes=K``: embedded, ``K`` logits per
    cell). Output: logits ``[B, H, W, 1]`` or ``[B, H, W, K]``. The first block is type
    ``first_mask`` with a ``first_kernel_size`` kernel, then ``num_layers - 1`` residual type-B
    blocks, then ``ReLU -> 1x1 conv (hidden) -> ReLU -> 1x1 conv`` on the horizontal stack.

    With ``first_mask="A"`` the output at pixel ``i`` depends on the pixels before ``i`` in raster
    order only, so ``log p(x) = sum_i log p(x_i | logits_i)`` is exact (:meth:`log_prob`), and
    :meth:`sample` draws pixel by pixel under ``tf.while_loop``.

    Conditioning (``condition``): a vector per example ``[B, Dc]`` (a one-hot class, a latent
    code) or a map ``[B, H, W, Dc]`` (e.g. codes of a coarser level, upsampled); it enters every
    gate through a linear map.

    Args:
        num_layers: gated blocks >= 1, default 5.
        filters: channels of both stacks, default 32.
        kernel_size: odd kernel of the later blocks, default 3 (another value with ``num_layers=1``,
            which has no later block, is refused).
        first_kernel_size: odd kernel of the first block, default 5.
        first_mask: ``"A"`` (default: exact autoregressive model) or ``"B"``.
        num_classes: ``None`` for binary images, or the number of code values ``K`` >= 2.
        hidden: channels of the output head, default 64.
        kernel_initializer: config of every kernel (default the library's).
    """

    def __init__(self, num_layers=5, filters=32, kernel_size=3, first_kernel_size=5, first_mask="A",
                 num_classes=None, hidden=64, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = _checks.check_positive_int(num_layers, "num_layers")
        self.filters = _checks.check_positive_int(filters, "filters")
        self.kernel_size = _checks.check_positive_int(kernel_size, "kernel_size")
        self.first_kernel_size = _checks.check_positive_int(first_kernel_size, "first_kernel_size")
        if self.num_layers == 1 and self.kernel_size != 3:
            raise ValueError(f"kernel_size={kernel_size} does nothing with num_layers=1: it is the kernel of the "
                             f"blocks after the first (the first block's is first_kernel_size)")
        self.first_mask = _checks.check_choice(first_mask, "first_mask", MASK_TYPES)
        self.num_classes = None if num_classes is None else _checks.check_integer(num_classes, "num_classes", minimum=2)
        self.hidden = _checks.check_positive_int(hidden, "hidden")
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        if self.num_classes is not None:
            self.embedding = keras.layers.Embedding(self.num_classes, self.filters, name="embedding")
        self.blocks = [GatedPixelCNNBlock(self.filters, self.first_kernel_size if i == 0 else self.kernel_size,
                                          self.first_mask if i == 0 else "B", residual=i > 0,
                                          kernel_initializer=self.kernel_initializer, name=f"block_{i}")
                       for i in range(self.num_layers)]
        self.head_hidden = keras.layers.Conv2D(self.hidden, 1, activation="relu", name="head_hidden",
                                               kernel_initializer=new_kernel_initializer(self.kernel_initializer))
        self.head_output = keras.layers.Conv2D(self.num_outputs, 1, name="head_output",
                                               kernel_initializer=new_kernel_initializer(self.kernel_initializer))

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers, "filters": self.filters,
                "kernel_size": self.kernel_size, "first_kernel_size": self.first_kernel_size,
                "first_mask": self.first_mask, "num_classes": self.num_classes, "hidden": self.hidden,
                "kernel_initializer": self.kernel_initializer}

    @property
    def num_outputs(self):
        return 1 if self.num_classes is None else self.num_classes

    def _inputs(self, x):
        if self.num_classes is None:
            return tf.cast(x, tf.float32)
        return tf.cast(self.embedding(tf.cast(x, tf.int32)), tf.float32)

    @staticmethod
    def _condition(condition):
        if condition is None:
            return None
        condition = tf.cast(condition, tf.float32)
        if len(condition.shape) == 2:  # a vector per example, the same at every pixel
            condition = condition[:, None, None, :]
        return condition

    def features(self, x, condition=None):
        """The horizontal stack after the last block, ``[B, H, W, filters]``."""
        v = h = self._inputs(x)
        condition = self._condition(condition)
        for block in self.blocks:
            v, h = block(v, h, condition)
        return h

    def head(self, features):
        """Features ``[B, H, W, filters]`` -> logits ``[B, H, W, num_outputs]``."""
        return tf.cast(self.head_output(self.head_hidden(tf.nn.relu(features))), tf.float32)

    def call(self, x, condition=None):
        return self.head(self.features(x, condition))

    def log_prob_from_logits(self, x, logits):
        """``sum_i log p(x_i | logits_i)`` per example ``[B]`` (Bernoulli or categorical)."""
        if self.num_classes is None:
            x = tf.cast(x, tf.float32)
            return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=[1, 2, 3])
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(x, tf.int32), logits=logits)
        return -tf.reduce_sum(nll, axis=[1, 2])

    def log_prob(self, x, condition=None):
        """Exact ``log p(x | condition)`` per example ``[B]`` (for ``first_mask="A"``), in nats."""
        return self.log_prob_from_logits(x, self(x, condition))

    def sample(self, n, grid, seed=None, condition=None, temperature=1.0):
        """``n`` draws in raster order: binary images ``[n, H, W, 1]`` or int codes ``[n, H, W]``.

        One network pass per pixel under ``tf.while_loop``
        (:func:`keras_ae.samplers.sequential_sample`), so the loop runs inside an exported graph.
        Pixel ``i`` uses ``fold_seed(seed, i)``: the same seed, the same draws; ``seed=None`` draws
        fresh noise with builtin kernels (Bernoulli: a uniform; categorical: Gumbel-max). Each
        pixel's logits are divided by ``temperature`` (``p^(1/T)`` renormalized).

        Args:
            n: number of draws (int or scalar tensor).
            grid: ``(H, W)``.
            seed: any seed kind of :mod:`keras_ae.samplers`, or None.
            condition: ``[n, Dc]`` or ``[n, H, W, Dc]``, or None.
            temperature: > 0 (float or scalar tensor), default 1.
        """
        height, width = int(grid[0]), int(grid[1])
        n = tf.cast(n, tf.int32)
        if self.num_classes is None:
            canvas = tf.zeros(tf.stack([n, height, width, 1]), tf.float32)
        else:
            canvas = tf.zeros(tf.stack([n, height, width]), tf.int32)

        def step(i, canvas, step_seed):
            row, col = i // width, i % width
            logits = self(canvas, condition)[:, row, col]                                           # [n, outputs]
            where = tf.reshape(tf.one_hot(i, height * width, dtype=canvas.dtype), [1, height, width])  # pixel i
            if self.num_classes is None:
                value = samplers.bernoulli(logits[:, 0], step_seed, temperature)                     # [n]
                return canvas + value[:, None, None, None] * where[..., None]
            value = samplers.categorical(logits, step_seed, temperature)
            return canvas + value[:, None, None] * where

        return samplers.sequential_sample(step, canvas, height * width, seed)
