"""The deep spatial autoencoder (Finn et al. 2016): feature points learned from video, with a slowness term.

The encoder is a stack of convolutions whose last layer has one channel per feature point; a
spatial softmax (:class:`keras_ae.layers.SpatialSoftmax`) turns each channel into the expected
image position of its activation, ``(x_k, y_k)`` in [-1, 1], and the code is the ``2K`` numbers
``f = (x_0, y_0, ..., x_{K-1}, y_{K-1})``. A linear decoder (or an MLP) reconstructs a
downsampled grey version of the frame from ``f`` alone, so the points must say where things are.
Trained on consecutive frames, the slowness term asks the points to move with nearly constant
velocity, so they track objects rather than jump between them.
"""

import keras
import tensorflow as tf

from keras_ae import _checks, objectives
from keras_ae.data.video import NEIGHBOUR_KEYS
from keras_ae.layers.bodies import LayerStack, new_kernel_initializer
from keras_ae.layers.spatial_softmax import SpatialSoftmax
from keras_ae.models.base import BaseAutoencoder


@keras.saving.register_keras_serializable(package="keras_ae")
class FeatureMapBody(LayerStack):
    """Image ``[B, H, W, C]`` -> ``num_points`` feature maps ``[B, H / prod(strides), W / prod(strides), num_points]``.

    ``len(filters)`` "same" convolutions (``kernel_size`` square, ``strides``, the activation),
    then a linear convolution to ``num_points`` channels, the maps a spatial softmax reads.
    """

    def __init__(self, data_shape, num_points, filters=(32, 32), kernel_size=5, strides=None, activation="relu",
                 kernel_initializer=None, **kwargs):
        super().__init__(data_shape, "conv", (), filters, activation, kernel_initializer, **kwargs)
        self.num_points = int(num_points)
        self.kernel_size = int(kernel_size)
        self.strides = tuple(int(s) for s in (strides if strides is not None else (1,) * len(self.filters)))
        for f, s in zip(self.filters, self.strides):
            self.stack.append(keras.layers.Conv2D(f, self.kernel_size, strides=s, padding="same",
                                                  **self.layer_arguments()))
        self.stack.append(keras.layers.Conv2D(self.num_points, self.kernel_size, padding="same",
                                              **{**self.layer_arguments(), "activation": None}))

    def get_config(self):
        config = super().get_config()
        for key in ("architecture", "hidden_units"):
            config.pop(key)
        return {**config, "num_points": self.num_points, "kernel_size": self.kernel_size,
                "strides": list(self.strides)}


@keras.saving.register_keras_serializable(package="keras_ae")
class DeepSpatialAutoencoder(BaseAutoencoder):
    """Deep spatial autoencoder (Finn, Tan, Duan, Darrell, Levine & Abbeel 2016, "Deep Spatial
    Autoencoders for Visuomotor Learning").

    Code: ``K = num_points`` feature points ``f(x) = (x_0, y_0, ..., x_{K-1}, y_{K-1})`` in [-1, 1],
    the spatial softmax of the last convolution's channels (``code_spec`` is ``(2K,)`` float32).

    Objective per example, a consecutive-frame triple ``(x_prev, x, x_next)``:
    ``reconstruction + slowness_weight * slowness`` with

    - ``reconstruction = ||d(x) - g(f(x))||^2``: ``d(x)`` is the frame made grey (the mean over
      channels) and average-pooled by ``target_downsample``; ``g`` is the decoder, linear by
      default (``hidden_units=()``, as in the paper) or an MLP;
    - ``slowness = ||(f(x_next) - f(x)) - (f(x) - f(x_prev))||^2`` (the paper's ``g_slow``): zero
      when the points move at constant velocity.

    Batches carry the neighbouring frames as the entries ``x_prev`` and ``x_next``
    (``batch_extras_spec``); :func:`keras_ae.data.video.window_pipeline` makes them from sequences
    and ``python -m zoo train`` does so on a video dataset (``moving-objects``). With
    ``slowness_weight=0`` the term is still logged but not trained on.

    ``decode`` and ``reconstruct`` return frames of the input's shape: the decoded grey target
    upsampled (nearest) by ``target_downsample`` and repeated over the channels;
    ``decode_target`` is the decoder's own downsampled output, and ``score`` the reconstruction
    term. ``feature_points(x)`` gives the points as ``[B, K, 2]`` and the exported ``encode`` has
    them too (``feature_points``).

    Args:
        input_shape: ``(H, W, C)`` frames; ``H`` and ``W`` divisible by ``target_downsample``.
        num_points: ``K``, feature points (channels of the last convolution), default 16.
        filters: channels of the convolutions before the last, default ``(32, 32)``.
        kernel_size: of every convolution, default 5.
        strides: of the convolutions in ``filters`` (default all 1; the points' grid is the input's
            size over their product).
        target_downsample: the reconstruction target's pooling factor, default 2.
        hidden_units: decoder hidden layers, default ``()`` (a linear decoder).
        slowness_weight: ``lambda`` of the slowness term, >= 0, default 1.
        temperature: the spatial softmax's initial temperature, default 1.
        learn_temperature: train the temperature (default True).
        architecture: only ``"conv"``.
        latent_dim: refused (the code is the ``2K`` coordinates).
        activation, kernel_initializer, encoder, decoder, seed: see
            :class:`~keras_ae.models.base.BaseAutoencoder`; ``encoder`` maps frames to
            ``num_points`` feature maps ``[B, h, w, num_points]``, ``decoder`` maps the ``2K``
            points to features a dense layer turns into the target image.

    Example::

        from keras_ae.data import video
        frames = video.load_video_sequences("moving-objects", "train").frames   # [S, T, 32, 32, 1]
        model = DeepSpatialAutoencoder(input_shape=(32, 32, 1), num_points=8, slowness_weight=1.0)
        model.compile()
        model.fit(video.window_pipeline(frames, batch_size=64), epochs=10)
        points = model.feature_points(frames[0])                            # [T, 8, 2]
    """

    TERMS = ("reconstruction", "slowness")
    UNUSED_ARGUMENTS = {"latent_dim": "the code is the 2 * num_points coordinates of the feature points (set num_points)"}
    has_feature_points = True

    def __init__(self, input_shape, num_points=16, filters=(32, 32), kernel_size=5, strides=None,
                 target_downsample=2, hidden_units=(), slowness_weight=1.0, temperature=1.0, learn_temperature=True,
                 architecture="conv", **kwargs):
        num_points = _checks.check_positive_int(num_points, "num_points")
        _checks.check_choice(architecture, "architecture", ("conv",))
        super().__init__(input_shape, architecture=architecture, hidden_units=hidden_units, filters=filters, **kwargs)
        self.latent_dim = 2 * num_points
        if len(self.data_shape) != 3:
            raise ValueError(f"DeepSpatialAutoencoder needs frames of shape (height, width, channels), "
                             f"got input_shape {self.data_shape}")
        self.num_points = num_points
        self.kernel_size = _checks.check_positive_int(kernel_size, "kernel_size")
        strides = (1,) * len(self.filters) if strides is None else _checks.check_int_sequence(strides, "strides")
        if len(strides) != len(self.filters):
            raise ValueError(f"strides must give one stride per entry of filters {self.filters}, got {strides}")
        self.strides = tuple(strides)
        self.target_downsample = _checks.check_positive_int(target_downsample, "target_downsample")
        height, width, _ = self.data_shape
        if height % self.target_downsample or width % self.target_downsample:
            raise ValueError(f"target_downsample must divide the frame size {height}x{width}, "
                             f"got {self.target_downsample}")
        self.target_shape = (height // self.target_downsample, width // self.target_downsample, 1)
        self.slowness_weight = _checks.check_number(slowness_weight, "slowness_weight", minimum=0)
        self.temperature = _checks.check_number(temperature, "temperature", minimum=0, exclusive_minimum=True)
        self.learn_temperature = bool(learn_temperature)
        if self._given_networks["encoder"] is not None:
            self.feature_maps = self._given_networks["encoder"]
        else:
            self.feature_maps = FeatureMapBody(self.data_shape, num_points, self.filters, self.kernel_size,
                                               self.strides, activation=self.activation,
                                               kernel_initializer=self.kernel_initializer, name="feature_maps")
        self.spatial_softmax = SpatialSoftmax(self.temperature, self.learn_temperature, name="spatial_softmax")
        self.decoder_body = self._given_networks["decoder"]
        if self.decoder_body is None and self.hidden_units:
            self.decoder_body = keras.Sequential(
                [keras.layers.Dense(u, activation=self.activation,
                                    kernel_initializer=new_kernel_initializer(self.kernel_initializer))
                 for u in self.hidden_units], name="decoder_body")
        rows, cols, _ = self.target_shape
        self.output_layer = keras.layers.Dense(rows * cols, name="output",
                                               kernel_initializer=new_kernel_initializer(self.kernel_initializer))

    def get_config(self):
        config = super().get_config()
        config.update(num_points=self.num_points, kernel_size=self.kernel_size, strides=list(self.strides),
                      target_downsample=self.target_downsample, slowness_weight=self.slowness_weight,
                      temperature=self.temperature, learn_temperature=self.learn_temperature)
        return config

    def batch_extras_spec(self):
        return {key: tf.TensorSpec(self.data_shape, tf.float32, name=key) for key in NEIGHBOUR_KEYS}

    def loss_weights(self):
        return {"reconstruction": 1.0, "slowness": self.slowness_weight}

    # -- the parts ---------------------------------------------------------------------------
    def target(self, x):
        """The reconstruction target ``d(x)``: grey (mean over channels), average-pooled, ``[B, *target_shape]``."""
        grey = tf.reduce_mean(tf.cast(x, tf.float32), axis=-1, keepdims=True)
        if self.target_downsample == 1:
            return grey
        return tf.nn.avg_pool2d(grey, self.target_downsample, self.target_downsample, "VALID")

    def decode_target(self, z):
        """Feature points ``[B, 2K]`` -> the decoded target image ``[B, *target_shape]`` (no checks: graph code)."""
        features = tf.cast(z, self.compute_dtype)
        if self.decoder_body is not None:
            features = self.decoder_body(features)
        return tf.reshape(tf.cast(self.output_layer(features), tf.float32), (-1,) + self.target_shape)

    def _feature_points(self, x):
        """The feature points of a batch of frames: ``[B, K, 2]``, ``(x, y)`` in [-1, 1] each."""
        return tf.reshape(self._encode(x), [-1, self.num_points, 2])

    # -- hooks -------------------------------------------------------------------------------
    def _encode(self, x):
        return tf.cast(self.spatial_softmax(self.feature_maps(x)), tf.float32)

    def _decode(self, z, seed=None):
        image = self.decode_target(z)
        height, width, channels = self.data_shape
        if self.target_downsample > 1:
            image = tf.image.resize(image, [height, width], method="nearest")
        return tf.tile(image, [1, 1, 1, channels]) if channels > 1 else image

    def _encode_outputs(self, x):
        code = self._encode(x)
        return {"code": code, "feature_points": tf.reshape(code, [-1, self.num_points, 2])}

    def _score(self, x):
        return objectives.squared_error(self.target(x), self.decode_target(self._encode(x)))

    def _loss_terms(self, x, training=False, x_prev=None, x_next=None):
        if x_prev is None or x_next is None:
            raise ValueError(f"{type(self).__name__} trains on consecutive frames: every batch needs x_prev and x_next")
        batch = tf.shape(x)[0]
        # One pass of the encoder over the three frames.
        points = self._encode(tf.concat([x_prev, x, x_next], axis=0))
        f_prev, f, f_next = points[:batch], points[batch:2 * batch], points[2 * batch:]
        reconstruction = objectives.squared_error(self.target(x), self.decode_target(f))
        return {"reconstruction": reconstruction, "slowness": objectives.slowness(f_prev, f, f_next)}
