"""Network bodies built from the data shape: an MLP for vectors, a convolutional stack for images.

An encoder body maps data ``[B, *data_shape]`` to flat features ``[B, F]``; a decoder body maps a
code ``[B, latent_dim]`` to features that a head turns into data-shaped parameters: flat
``[B, F]`` for the MLP, ``[B, H, W, filters[0]]`` for the convolutional decoder.
"""

import math

import keras

ARCHITECTURES = ("mlp", "conv")

#: The default kernel initializer of every dense and convolutional layer of bodies and heads:
#: PyTorch's default for ``nn.Linear``/``nn.Conv2d`` (``kaiming_uniform_(a=sqrt(5))``, i.e. uniform
#: on +-1/sqrt(fan_in)), instead of Keras's Glorot uniform. Chosen by
#: ``benchmarks/vae_vs_torch.py`` (issue 11): the 784-512-16 Bernoulli VAE on the MNIST subset
#: (4,000 train / 1,000 test, Adam 1e-3, batch 100, 30 epochs, test NLL by importance sampling,
#: k = 500, seeds 0, 1, 2): Glorot 112.37 / 111.79 / 112.12 nats, this initializer 110.11 / 110.26 /
#: 110.07, the same VAE in PyTorch 2.13 109.85 / 109.81 / 110.07. Adam's epsilon stays Keras's
#: (1e-7; PyTorch's 1e-8 moved the NLL by less than 0.1). The biases are PyTorch's too
#: (:func:`fan_in_bias_initializer`). A family may keep another default where its own
#: measurement says so (``BaseAutoencoder.default_kernel_initializer``).
DEFAULT_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                              "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}}


def fan_in(layer, input_shape):
    """The fan-in of a dense or (transposed) convolutional layer's kernel for inputs ``input_shape``.

    ``prod(kernel.shape[:-1])``, as Keras's variance-scaling initializers count it: the input size
    of a ``Dense``; ``kh * kw * in_channels`` of a ``Conv2D``; ``kh * kw * filters`` of a
    ``Conv2DTranspose`` (whose kernel is ``[kh, kw, filters, in_channels]``, PyTorch's count too).
    """
    if isinstance(layer, keras.layers.Dense):
        return int(input_shape[-1])
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return int(math.prod(layer.kernel_size)) * int(layer.filters)
    if isinstance(layer, keras.layers.Conv2D):
        return int(math.prod(layer.kernel_size)) * int(input_shape[-1])
    raise ValueError(f"fan_in needs a Dense, Conv2D or Conv2DTranspose layer, got {type(layer).__name__}")


def fan_in_bias_initializer(layer, input_shape):
    """Biases uniform on ``+-1/sqrt(fan_in)``: PyTorch's default for ``nn.Linear``/``nn.Conv2d`` biases.

    Set on every dense and convolutional layer of the bodies and heads before it is built (Keras's
    own default is zeros). Measured on the MNIST subset with ``benchmarks/peer_parity.py``'s setup
    (784-512-16, 4,000 statically binarized training digits, batch 100, Adam 1e-3, 30 epochs, test
    NLL by importance sampling with k = 500, seeds 0, 1, 2), zero biases against these:
    beta-VAE (beta = 4) 119.04 / 118.10 / 118.28 against 117.86 / 117.02 / 116.47; IWAE (k = 5)
    109.50 / 108.98 / 109.28 against 109.09 / 109.10 / 108.56; VAE 110.18 / 110.26 / 110.28
    against 110.10 / 110.11 / 110.09. pythae (PyTorch's initialization) reached 117.74, 108.99
    and 110.31 on average.
    """
    bound = 1.0 / math.sqrt(fan_in(layer, input_shape))
    return keras.initializers.RandomUniform(-bound, bound)


def kernel_initializer_config(initializer=None):
    """A kernel initializer (Keras identifier, config dict or instance; None: the default) as a config dict.

    Raises ``ValueError`` naming an unknown initializer.
    """
    if initializer is None:
        initializer = DEFAULT_KERNEL_INITIALIZER
    try:
        resolved = keras.initializers.get(dict(initializer) if isinstance(initializer, dict) else initializer)
    except (ValueError, TypeError) as e:
        raise ValueError(f"kernel_initializer must be a Keras initializer, got {initializer!r} ({e})") from None
    if resolved is None:
        raise ValueError(f"kernel_initializer must be a Keras initializer, got {initializer!r}")
    return keras.initializers.serialize(resolved)


def new_kernel_initializer(config=None):
    """A fresh initializer from ``config`` (one per layer: an unseeded instance repeats its draws)."""
    return keras.initializers.deserialize(kernel_initializer_config(config))


def check_body_arguments(data_shape, architecture, hidden_units, filters):
    """Validate body arguments, raising ``ValueError`` that names the bad one."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    if len(data_shape) == 0 or any(int(d) < 1 for d in data_shape):
        raise ValueError(f"input_shape must be a non-empty tuple of positive sizes, got {data_shape}")
    if any(int(u) < 1 for u in hidden_units):
        raise ValueError(f"hidden_units must be positive integers, got {tuple(hidden_units)}")
    if architecture == "conv":
        if len(data_shape) != 3:
            raise ValueError(
                f"architecture='conv' needs images of shape (height, width, channels), got input_shape {data_shape}"
            )
        if not filters or any(int(f) < 1 for f in filters):
            raise ValueError(f"filters must be a non-empty tuple of positive integers, got {tuple(filters)}")


class LayerStack(keras.layers.Layer):
    """A network body: layers applied in order (``self.stack``), built eagerly from the input shape."""

    #: biases from :func:`fan_in_bias_initializer` (else Keras's zeros).
    fan_in_biases = True

    def __init__(self, data_shape, architecture="mlp", hidden_units=(256,), filters=(32, 64),
                 activation="relu", kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = kernel_initializer_config(kernel_initializer)
        self.data_shape = tuple(int(d) for d in data_shape)
        check_body_arguments(self.data_shape, architecture, hidden_units, filters)
        self.architecture = architecture
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.filters = tuple(int(f) for f in filters)
        self.activation = activation
        self.stack = []

    def get_config(self):
        return {**super().get_config(), "data_shape": list(self.data_shape), "architecture": self.architecture,
                "hidden_units": list(self.hidden_units), "filters": list(self.filters),
                "activation": self.activation, "kernel_initializer": self.kernel_initializer}

    def layer_arguments(self):
        """Arguments of every dense and convolutional layer of the stack."""
        return dict(activation=self.activation, kernel_initializer=new_kernel_initializer(self.kernel_initializer))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.stack:
            if self.fan_in_biases and isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D,
                                                         keras.layers.Conv2DTranspose)) and layer.use_bias:
                layer.bias_initializer = fan_in_bias_initializer(layer, shape)
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x):
        for layer in self.stack:
            x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.stack:
            shape = layer.compute_output_shape(shape)
        return shape


@keras.saving.register_keras_serializable(package="keras_ae")
class EncoderBody(LayerStack):
    """Data ``[B, *data_shape]`` -> flat features ``[B, F]``.

    Args:
        data_shape: shape of one example, e.g. ``(784,)`` or ``(28, 28, 1)``.
        architecture: ``"mlp"`` (flatten, then dense layers) or ``"conv"`` (stride-2 3x3
            convolutions with ``filters`` channels, then dense layers).
        hidden_units: sizes of the dense layers, default ``(256,)``; ``()`` for none.
        filters: channels of the convolutions (conv only), default ``(32, 64)``.
        activation: non-linearity, default ``"relu"``; ``"linear"`` for a linear network.
        kernel_initializer: of every layer; None: ``DEFAULT_KERNEL_INITIALIZER`` (PyTorch's).
    """

    def __init__(self, data_shape, architecture="mlp", hidden_units=(256,), filters=(32, 64),
                 activation="relu", kernel_initializer=None, **kwargs):
        super().__init__(data_shape, architecture, hidden_units, filters, activation, kernel_initializer, **kwargs)
        if architecture == "conv":
            for f in self.filters:
                self.stack.append(keras.layers.Conv2D(f, 3, strides=2, padding="same", **self.layer_arguments()))
        self.stack.append(keras.layers.Flatten())
        for u in self.hidden_units:
            self.stack.append(keras.layers.Dense(u, **self.layer_arguments()))



@keras.saving.register_keras_serializable(package="keras_ae")
class DecoderBody(LayerStack):
    """Code ``[B, latent_dim]`` -> features for a head.

    The MLP mirrors the encoder (``hidden_units`` reversed) and returns ``[B, hidden_units[0]]``
    (or the code itself when ``hidden_units`` is empty). The convolutional decoder maps the code
    to a ``ceil(H / 2^n) x ceil(W / 2^n)`` grid, upsamples with ``n = len(filters)`` stride-2
    transposed convolutions and crops to ``H x W``, returning ``[B, H, W, filters[0]]``; any image
    size works.
    """

    def __init__(self, data_shape, architecture="mlp", hidden_units=(256,), filters=(32, 64),
                 activation="relu", kernel_initializer=None, **kwargs):
        super().__init__(data_shape, architecture, hidden_units, filters, activation, kernel_initializer, **kwargs)
        self.stack += [keras.layers.Dense(u, **self.layer_arguments()) for u in reversed(self.hidden_units)]
        if architecture == "conv":
            height, width, _ = self.data_shape
            n = len(self.filters)
            grid_h, grid_w = math.ceil(height / 2**n), math.ceil(width / 2**n)
            self.stack.append(keras.layers.Dense(grid_h * grid_w * self.filters[-1], **self.layer_arguments()))
            self.stack.append(keras.layers.Reshape((grid_h, grid_w, self.filters[-1])))
            for f in reversed(self.filters):
                self.stack.append(
                    keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", **self.layer_arguments())
                )
            # [B, grid_h * 2^n, grid_w * 2^n, filters[0]] -> [B, H, W, filters[0]]
            extra_h, extra_w = grid_h * 2**n - height, grid_w * 2**n - width
            self.stack.append(keras.layers.Cropping2D(((0, extra_h), (0, extra_w))))


def grid_shape(data_shape, downsamplings):
    """``(ceil(H / 2^n), ceil(W / 2^n))``: the grid of ``n`` stride-2 "same" convolutions of an image."""
    height, width = data_shape[0], data_shape[1]
    return math.ceil(height / 2**downsamplings), math.ceil(width / 2**downsamplings)


@keras.saving.register_keras_serializable(package="keras_ae")
class GridEncoderBody(LayerStack):
    """Image ``[B, H, W, C]`` -> a grid of vectors ``[B, ceil(H / 2^n), ceil(W / 2^n), channels]``.

    ``n = len(filters)`` stride-2 3x3 convolutions, a 3x3 convolution, then a linear 1x1
    convolution to ``channels`` (the VQ-VAE encoder of van den Oord et al. 2017, section 4.1,
    without the residual blocks).

    Args:
        data_shape: ``(H, W, C)``.
        channels: vectors' size (a VQ-VAE's ``embedding_dim``).
        filters: channels of the downsampling convolutions, at least one.
        activation, kernel_initializer: as :class:`EncoderBody`.
    """

    #: zero biases, as before PyTorch's became the default elsewhere: not measured for the VQ
    #: models, whose nearest-code indices the export parity checks compare exactly.
    fan_in_biases = False

    def __init__(self, data_shape, channels, filters=(32, 64), activation="relu", kernel_initializer=None, **kwargs):
        super().__init__(data_shape, "conv", (), filters, activation, kernel_initializer, **kwargs)
        self.channels = int(channels)
        for f in self.filters:
            self.stack.append(keras.layers.Conv2D(f, 3, strides=2, padding="same", **self.layer_arguments()))
        self.stack.append(keras.layers.Conv2D(self.filters[-1], 3, padding="same", **self.layer_arguments()))
        self.stack.append(keras.layers.Conv2D(self.channels, 1, **{**self.layer_arguments(), "activation": None}))

    def get_config(self):
        config = super().get_config()
        for key in ("architecture", "hidden_units"):
            config.pop(key)
        return {**config, "channels": self.channels}


@keras.saving.register_keras_serializable(package="keras_ae")
class GridDecoderBody(LayerStack):
    """A grid of vectors ``[B, ceil(H / 2^n), ceil(W / 2^n), D]`` -> image features ``[B, H, W, filters[0]]``.

    The mirror of :class:`GridEncoderBody`: a 3x3 convolution, ``n`` stride-2 transposed
    convolutions (``filters`` reversed), cropped to ``H x W``; a head maps the features to data
    parameters.
    """

    #: zero biases, as before PyTorch's became the default elsewhere: not measured for the VQ
    #: models, whose nearest-code indices the export parity checks compare exactly.
    fan_in_biases = False

    def __init__(self, data_shape, filters=(32, 64), activation="relu", kernel_initializer=None, **kwargs):
        super().__init__(data_shape, "conv", (), filters, activation, kernel_initializer, **kwargs)
        height, width, _ = self.data_shape
        grid_h, grid_w = grid_shape(self.data_shape, len(self.filters))
        self.stack.append(keras.layers.Conv2D(self.filters[-1], 3, padding="same", **self.layer_arguments()))
        for f in reversed(self.filters):
            self.stack.append(keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", **self.layer_arguments()))
        n = len(self.filters)
        self.stack.append(keras.layers.Cropping2D(((0, grid_h * 2**n - height), (0, grid_w * 2**n - width))))

    def get_config(self):
        config = super().get_config()
        for key in ("architecture", "hidden_units"):
            config.pop(key)
        return config
