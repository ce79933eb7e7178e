"""DRAW's Gaussian filterbank attention (Gregor et al. 2015, section 3) as Keras 3 layers.

An ``N x N`` grid of 2-D Gaussian filters is laid on an image of ``B`` rows (height) and ``A``
columns (width). Five numbers from a linear layer of the decoder state place it::

    (g~_X, g~_Y, log sigma^2, log delta~, log gamma) = W(h)
    g_X = (A + 1) / 2 * (g~_X + 1)          grid centre, pixel coordinates 1 .. A
    g_Y = (B + 1) / 2 * (g~_Y + 1)
    delta = (max(A, B) - 1) / (N - 1) * delta~     stride between filters
    mu_X^i = g_X + (i - N/2 - 0.5) * delta          centre of filter i = 1 .. N
    F_X[i, a] = exp(-(a - mu_X^i)^2 / (2 sigma^2)) / Z_X^i,   Z_X^i such that sum_a F_X[i, a] = 1

(``F_Y`` likewise over the rows). Pixel and filter indices are 1-based as in the paper, so
``g~ = 0`` is the exact centre of the image and the filter centres are symmetric about it.

- read: ``gamma * F_Y x F_X^T``, an ``N x N`` glimpse of each image given (DRAW reads the image
  and the error image);
- write: ``(1 / gamma) * F_Y^T w F_X`` for an ``N x N`` patch ``w`` from another linear layer.

**What the normalisation does.** Each row of a filterbank sums to 1, so every glimpse pixel is a
weighted *average* of image pixels: a constant image ``c`` reads as ``gamma * c`` wherever the
grid lies (as long as a filter touches the image), and a write spreads each patch pixel over the
image with weights summing to 1, so ``sum(write(w)) = sum(w) / gamma`` (mass is conserved). With
``N = A = B``, the grid centred (``g~ = 0``) and unit stride (``delta~ = 1``), filter ``i`` is
centred on pixel ``i`` and ``F`` is a row-normalised Gaussian blur of the identity: the read is
``gamma * F_Y x F_X^T``, which tends to ``gamma * x`` as ``sigma -> 0`` (``tests/test_draw.py``
checks both). A zero linear layer gives exactly that centred, full-size, unit-stride grid with
``sigma = gamma = 1``. The linear layer's bias starts at a grid that tiles the image
(:meth:`FilterbankRead.initial_bias`).

Channels (``[b, H, W, C]`` images) share one filterbank, as the paper does for colour images.
Every op is a builtin TFLite op (batch matmul, exp, reductions), so models using these layers
convert.
"""

import math
from typing import NamedTuple

import keras
import tensorflow as tf

from keras_ae import _checks
from keras_ae.layers.bodies import kernel_initializer_config, new_kernel_initializer

#: added to each filter's normaliser ``Z`` so a filter that lies wholly off the image (all its
#: weights underflow) gives zeros instead of NaN.
FILTER_EPSILON = 1e-8


class AttentionParameters(NamedTuple):
    """Where a filterbank grid lies, each ``[b]`` float32: centre (pixels, 1-based), stride, variance, intensity."""

    g_x: tf.Tensor
    g_y: tf.Tensor
    delta: tf.Tensor
    sigma2: tf.Tensor
    gamma: tf.Tensor


def attention_parameters(raw, height, width, glimpse_size):
    """The paper's map from the five linear outputs ``[b, 5]`` to :class:`AttentionParameters`.

    ``raw[:, 0..4]`` are ``g~_X, g~_Y, log sigma^2, log delta~, log gamma``; ``A = width``,
    ``B = height``, ``N = glimpse_size`` (for ``N = 1`` the stride factor's ``N - 1`` is taken as 1).
    """
    raw = tf.cast(raw, tf.float32)
    g_tilde_x, g_tilde_y, log_sigma2, log_delta, log_gamma = tf.unstack(raw, 5, axis=-1)
    stride_scale = (max(height, width) - 1) / max(glimpse_size - 1, 1)
    return AttentionParameters(
        g_x=(width + 1) / 2 * (g_tilde_x + 1.0),
        g_y=(height + 1) / 2 * (g_tilde_y + 1.0),
        delta=stride_scale * tf.exp(log_delta),
        sigma2=tf.exp(log_sigma2),
        gamma=tf.exp(log_gamma),
    )


def _filterbank(centre, delta, sigma2, glimpse_size, size):
    """``[b, N, size]``: row ``i`` a normalised Gaussian over pixels ``1 .. size`` centred at ``mu^i``."""
    i = tf.range(1, glimpse_size + 1, dtype=tf.float32)  # filter index 1 .. N
    mu = centre[:, None] + (i[None, :] - glimpse_size / 2 - 0.5) * delta[:, None]  # [b, N]
    a = tf.range(1, size + 1, dtype=tf.float32)  # pixel index 1 .. size
    f = tf.exp(-tf.square(a[None, None, :] - mu[:, :, None]) / (2.0 * sigma2[:, None, None]))  # [b, N, size]
    return f / (tf.reduce_sum(f, axis=-1, keepdims=True) + FILTER_EPSILON)


def gaussian_filterbanks(params, height, width, glimpse_size):
    """``(F_X [b, N, A], F_Y [b, N, B])`` of a grid placed by ``params`` (:class:`AttentionParameters`)."""
    f_x = _filterbank(params.g_x, params.delta, params.sigma2, glimpse_size, width)
    f_y = _filterbank(params.g_y, params.delta, params.sigma2, glimpse_size, height)
    return f_x, f_y


def _channels_first(images):
    """``[b, H, W, C]`` -> ``[b * C, H, W]`` (channel-major per example) and ``C``."""
    channels = int(images.shape[-1])
    h, w = int(images.shape[1]), int(images.shape[2])
    return tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [-1, h, w]), channels


def _channels_last(maps, channels):
    """``[b * C, H, W]`` -> ``[b, H, W, C]`` (the inverse of :func:`_channels_first`)."""
    h, w = int(maps.shape[1]), int(maps.shape[2])
    return tf.transpose(tf.reshape(maps, [-1, channels, h, w]), [0, 2, 3, 1])


def filterbank_read(images, f_x, f_y, gamma):
    """``gamma * F_Y x F_X^T`` per channel: ``[b, H, W, C]`` -> glimpses ``[b, N, N, C]``."""
    maps, channels = _channels_first(tf.cast(images, tf.float32))
    f_x_c, f_y_c = tf.repeat(f_x, channels, axis=0), tf.repeat(f_y, channels, axis=0)  # one bank per channel
    glimpse = tf.matmul(f_y_c, tf.matmul(maps, f_x_c, transpose_b=True))  # [bC, N, B] [bC, B, A] [bC, A, N]
    return _channels_last(glimpse, channels) * gamma[:, None, None, None]


def filterbank_write(patches, f_x, f_y, gamma):
    """``(1 / gamma) * F_Y^T w F_X`` per channel: patches ``[b, N, N, C]`` -> images ``[b, B, A, C]``."""
    maps, channels = _channels_first(tf.cast(patches, tf.float32))
    f_x_c, f_y_c = tf.repeat(f_x, channels, axis=0), tf.repeat(f_y, channels, axis=0)
    image = tf.matmul(f_y_c, tf.matmul(maps, f_x_c), transpose_a=True)  # [bC, B, N] [bC, N, N] [bC, N, A]
    return _channels_last(image, channels) / gamma[:, None, None, None]


class _FilterbankAttention(keras.layers.Layer):
    """The linear layer ``h -> (g~_X, g~_Y, log sigma^2, log delta~, log gamma)`` and the filterbanks it places."""

    def __init__(self, image_shape, glimpse_size, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        image_shape = _checks.check_int_sequence(image_shape, "image_shape")
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (height, width, channels), got {tuple(image_shape)}")
        self.image_shape = tuple(int(d) for d in image_shape)
        self.glimpse_size = _checks.check_positive_int(glimpse_size, "glimpse_size")
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        self.locator = keras.layers.Dense(5, kernel_initializer=new_kernel_initializer(self.kernel_initializer),
                                          bias_initializer=keras.initializers.Constant(self.initial_bias()),
                                          dtype=self.dtype_policy, name="locator")

    def initial_bias(self):
        """The locator's initial bias: a centred grid that tiles the image, ``[0, 0, log sigma0^2, log delta~0, 0]``.

        Stride ``delta0 = max(A, B) / N`` (the ``N`` filters share the image out), ``sigma0 =
        delta0 / 2`` and ``gamma = 1``, so a first glimpse sees the whole image at low resolution
        and a first write is smooth. A zero bias would give stride ``(max(A, B) - 1) / (N - 1)``
        and ``sigma = 1``: a 2 x 2 read of the four corner pixels of an MNIST digit, which are
        blank, and a dotted write; ``draw-mnist`` with that start fell to the mean image (KL 0.7
        nats after 8 epochs, reconstruction 208 nats). For ``N = A = B`` both give unit stride.
        """
        height, width, _ = self.image_shape
        size, n = max(height, width), self.glimpse_size
        delta0 = size / n
        stride_scale = (size - 1) / max(n - 1, 1)
        delta_tilde = delta0 / stride_scale if size > 1 else 1.0
        return [0.0, 0.0, float(2 * math.log(delta0 / 2)), float(math.log(delta_tilde)), 0.0]

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape), "glimpse_size": self.glimpse_size,
                "kernel_initializer": self.kernel_initializer}

    def attention(self, h):
        """:class:`AttentionParameters` of the grid that state ``h`` ``[b, units]`` places."""
        height, width, _ = self.image_shape
        return attention_parameters(self.locator(h), height, width, self.glimpse_size)

    def filterbanks(self, h):
        """``(F_X, F_Y, gamma)`` for state ``h``."""
        params = self.attention(h)
        height, width, _ = self.image_shape
        f_x, f_y = gaussian_filterbanks(params, height, width, self.glimpse_size)
        return f_x, f_y, params.gamma


@keras.saving.register_keras_serializable(package="keras_ae")
class FilterbankRead(_FilterbankAttention):
    """DRAW's read with attention: ``N x N`` glimpses of images, placed by a state ``h``.

    ``layer(images, h)``: ``images`` a list of ``[b, H, W, C]`` tensors (DRAW passes ``x`` and
    the error image ``x - sigmoid(c)``), ``h`` ``[b, units]``; returns the concatenated
    glimpses, flat ``[b, len(images) * N * N * C]``. Every image is read with the same grid.

    Args:
        image_shape: ``(height, width, channels)``.
        glimpse_size: ``N`` (the paper's MNIST read is 2).
        kernel_initializer: of the linear layer placing the grid.

    Example: ``FilterbankRead((28, 28, 1), 2)([x, x_hat], h_dec)``.
    """

    def call(self, images, h):
        f_x, f_y, gamma = self.filterbanks(h)
        glimpses = [filterbank_read(image, f_x, f_y, gamma) for image in images]
        size = self.glimpse_size * self.glimpse_size * self.image_shape[-1]
        return tf.concat([tf.reshape(g, [-1, size]) for g in glimpses], axis=-1)


@keras.saving.register_keras_serializable(package="keras_ae")
class FilterbankWrite(_FilterbankAttention):
    """DRAW's write with attention: an ``N x N`` patch ``w = W(h)`` written through the grid ``h`` places.

    ``layer(h)``: ``h`` ``[b, units]`` -> ``(1 / gamma) F_Y^T w F_X`` ``[b, H, W, C]``, added to
    the canvas by the model.

    Args:
        image_shape: ``(height, width, channels)``.
        glimpse_size: ``N`` (the paper's MNIST write is 5).
        kernel_initializer: of both linear layers (grid and patch).

    Example: ``canvas = canvas + FilterbankWrite((28, 28, 1), 5)(h_dec)``.
    """

    def __init__(self, image_shape, glimpse_size, kernel_initializer=None, **kwargs):
        super().__init__(image_shape, glimpse_size, kernel_initializer, **kwargs)
        self.patch = keras.layers.Dense(glimpse_size * glimpse_size * self.image_shape[-1],
                                        kernel_initializer=new_kernel_initializer(self.kernel_initializer),
                                        dtype=self.dtype_policy, name="patch")

    def call(self, h):
        f_x, f_y, gamma = self.filterbanks(h)
        patch = tf.reshape(tf.cast(self.patch(h), tf.float32),
                           [-1, self.glimpse_size, self.glimpse_size, self.image_shape[-1]])
        return filterbank_write(patch, f_x, f_y, gamma)


def image_shape_of(data_shape):
    """The ``(height, width, channels)`` an example of ``data_shape`` is read as, or None.

    ``(H, W, C)`` stays; ``(H, W)`` is one channel; a flat ``(D,)`` with ``D`` a square is a square
    grey image. Anything else has no image layout (None).
    """
    shape = tuple(int(d) for d in data_shape)
    if len(shape) == 3:
        return shape
    if len(shape) == 2:
        return shape + (1,)
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side == shape[0]:
            return (side, side, 1)
    return None
