"""The spatial softmax (Levine et al. 2016; Finn et al. 2016): feature maps -> the expected 2-D position of each.

For every channel ``c`` of a feature map ``a[h, w, c]`` the layer takes a softmax over the
``H x W`` positions, ``s[h, w, c] = exp(a[h, w, c] / T) / sum_{h', w'} exp(a[h', w', c] / T)``
with a temperature ``T``, and returns the expected image position under it,
``(x_c, y_c) = sum_{h, w} s[h, w, c] (x_w, y_h)``: a *feature point*. Coordinates are in
[-1, 1]: ``x`` along the columns (``x_w = -1 + 2 w / (W - 1)``, -1 the centre of the first column,
1 of the last), ``y`` along the rows, likewise (``y`` grows downwards, as rows do). A one-hot map
gives the position of its peak; a constant map gives the centre ``(0, 0)``.
"""

import keras
import tensorflow as tf

from keras_ae import _checks


@keras.saving.register_keras_serializable(package="keras_ae")
class SpatialSoftmax(keras.layers.Layer):
    """Feature maps ``[B, H, W, C]`` -> feature points ``[B, C, 2]`` (or flat ``[B, 2C]``: ``x_0, y_0, x_1, ...``).

    Args:
        temperature: the softmax temperature ``T`` > 0 at the start, default 1.
        learn_temperature: whether ``T`` is a trained weight (kept positive: the weight is
            ``log T``), default True, as in Finn et al.; False keeps it fixed.
        flatten: return ``[B, 2C]`` (default) instead of ``[B, C, 2]``.

    Example:
        >>> maps = tf.one_hot([[5]], 16)  # one channel, its peak at row 1, column 1 of a 4x4 map
        >>> layer = SpatialSoftmax(temperature=1e-3, learn_temperature=False)
        >>> layer(tf.reshape(tf.transpose(maps, [0, 2, 1]), [1, 4, 4, 1])).numpy().round(3)
        array([[-0.333, -0.333]], dtype=float32)
    """

    def __init__(self, temperature=1.0, learn_temperature=True, flatten=True, **kwargs):
        # float32 inside whatever the policy: a float16 softmax over H x W positions loses the peaks.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.temperature = _checks.check_number(temperature, "temperature", minimum=0, exclusive_minimum=True)
        self.learn_temperature = bool(learn_temperature)
        self.flatten = bool(flatten)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"SpatialSoftmax takes feature maps [B, H, W, C] of a known H and W, got {input_shape}")
        self.log_temperature = self.add_weight(
            name="log_temperature", shape=(), trainable=self.learn_temperature,
            initializer=keras.initializers.Constant(float(tf.math.log(self.temperature))))
        height, width = int(input_shape[1]), int(input_shape[2])
        # Pixel-centre coordinates in [-1, 1] (a single row or column sits at 0).
        ys = tf.linspace(-1.0, 1.0, height) if height > 1 else tf.zeros([1])
        xs = tf.linspace(-1.0, 1.0, width) if width > 1 else tf.zeros([1])
        grid_y, grid_x = tf.meshgrid(ys, xs, indexing="ij")  # [H, W] each
        self._grid = tf.stack([tf.reshape(grid_x, [-1]), tf.reshape(grid_y, [-1])], axis=1)  # [H * W, 2]

    def attention(self, maps):
        """The softmax ``s`` ``[B, H * W, C]`` over positions of each channel (row-major positions)."""
        maps = tf.cast(maps, tf.float32)
        shape = tf.shape(maps)
        flat = tf.reshape(maps, [shape[0], shape[1] * shape[2], shape[3]])
        return tf.nn.softmax(flat * tf.exp(-tf.cast(self.log_temperature, tf.float32)), axis=1)

    def call(self, maps):
        attention = self.attention(maps)  # [B, HW, C]
        points = tf.einsum("bpc,pd->bcd", attention, tf.cast(self._grid, attention.dtype))  # [B, C, 2]
        if self.flatten:
            return tf.reshape(points, [tf.shape(points)[0], -1])
        return points

    def compute_output_shape(self, input_shape):
        channels = input_shape[3]
        if self.flatten:
            return (input_shape[0], None if channels is None else 2 * channels)
        return (input_shape[0], channels, 2)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature,
                "learn_temperature": self.learn_temperature, "flatten": self.flatten}
