"""Exact-likelihood autoregressive density models of binary data: MADE and the Gated PixelCNN.

Germain, Gregor, Murray & Larochelle 2015, "MADE: Masked Autoencoder for Distribution Estimation";
van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016, "Conditional Image
Generation with PixelCNN Decoders".
"""

import keras
import numpy as np
import tensorflow as tf

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.made import MADE
from keras_ae.layers.pixelcnn import GatedPixelCNN
from keras_ae.models.base import BaseAutoencoder
from keras_ae.models.vae.vae import VAE


class ExactDensity(BaseAutoencoder):
    """Shared by the exact density models: the loss and the score are ``-log p(x)`` from ``_log_prob``."""

    TERMS = ("nll",)
    unit_interval_data = True
    data_likelihood = "bernoulli"
    is_generative = True
    has_exact_likelihood = True

    def _log_prob(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement _log_prob")

    def _loss_terms(self, x, training=False):
        return {"nll": -self._log_prob(x)}

    def _score(self, x):
        """``-log p(x)``, exact."""
        return -self._log_prob(x)


@keras.saving.register_keras_serializable(package="keras_ae")
class MADEDensity(ExactDensity):
    """MADE as a density model of binary data, with exact ``log p(x)``.

    Objective per example (minimised), ``x`` flattened to ``D`` values in ``{0, 1}``::

        -log p(x) = -sum_i log Bernoulli(x_i | sigmoid(f_i(x_<o(i))))

    with ``f`` a :class:`~keras_ae.layers.MADE` (output ``i`` sees only the inputs before ``i`` in
    the order), so the product of conditionals is a normalized distribution and the loss is the
    exact negative log-likelihood (no bound, no sampling). The logged term ``nll`` is it, and so is
    ``score``.

    As an autoencoder: ``encode(x)`` is MADE's last hidden layer (``latent_dim = hidden_units[-1]``),
    ``decode(h)`` the conditional probabilities ``p(x_i = 1 | x_<i)`` computed from it, so
    ``reconstruct(x)`` gives each pixel's probability given the pixels before it. ``sample(n)``
    draws pixel by pixel in the order (``D`` network passes under ``tf.while_loop``).

    Args:
        input_shape: shape of one example, data in [0, 1] (binary for exact likelihoods).
        hidden_units: masked hidden layers, at least one, default ``(500,)``.
        order: ``"natural"`` (default), ``"reversed"``, ``"random"`` (drawn with ``seed``) or a permutation.
        activation, kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`
            (``latent_dim``, ``architecture``, ``filters``, ``encoder`` and ``decoder`` are
            refused: ``UNUSED_ARGUMENTS`` says why).

    Example::

        model = MADEDensity(input_shape=(784,), hidden_units=(500,))
        model.compile()
        model.fit(x_binary, epochs=20)
        log_px = model.exact_log_likelihood(x_test)     # [B], exact
    """

    TERMS = ("nll",)
    unit_interval_data = True
    data_likelihood = "bernoulli"
    is_generative = True
    stochastic_decoder = False
    UNUSED_ARGUMENTS = {
        "latent_dim": "the code is MADE's last hidden layer, of hidden_units[-1] units",
        "architecture": "MADE's layers are masked dense layers (set hidden_units)",
        "filters": "MADE's layers are masked dense layers (set hidden_units)",
        "encoder": "MADE's masks make one network both encoder and decoder",
        "decoder": "MADE's masks make one network both encoder and decoder",
    }

    def __init__(self, input_shape, hidden_units=(500,), order="natural", **kwargs):
        hidden_units = _checks.check_int_sequence(hidden_units, "hidden_units")
        if not hidden_units:
            raise ValueError("hidden_units must name at least one hidden layer (the code), got ()")
        super().__init__(input_shape, hidden_units=hidden_units, **kwargs)
        self.latent_dim = int(hidden_units[-1])
        self.architecture = "mlp"  # masked dense layers: what XLA's measured CPU default (xla_pays_on_cpu) reads
        self.size = int(np.prod(self.data_shape))
        self.order_spec = order if isinstance(order, str) else [int(v) for v in order]
        self.made = MADE(self.size, num_params=1, hidden_units=self.hidden_units, order=order,
                         activation=self.activation, seed=self.seed, kernel_initializer=self.kernel_initializer,
                         output_initializer=self.kernel_initializer, name="made")

    def get_config(self):
        return {**super().get_config(), "order": self.order_spec}

    def _flat(self, x):
        return tf.reshape(tf.cast(x, tf.float32), [-1, self.size])

    def _logits(self, x):
        return self.made(self._flat(x))[..., 0]  # [B, D]

    def _log_prob(self, x):
        return -objectives.bernoulli_cross_entropy(self._flat(x), self._logits(x))

    def _encode(self, x):
        return self.made.features(self._flat(x))

    def _decode(self, z, seed=None):
        return tf.reshape(tf.sigmoid(self.made.output_params(z)[..., 0]), (-1,) + self.data_shape)

    def _draw(self, n, seed, temperature=1.0):
        order = tf.constant(self.made.order, tf.int32)

        def step(i, canvas, step_seed):
            d = tf.gather(order, i)
            pixel = samplers.bernoulli(tf.gather(self.made(canvas)[..., 0], d, axis=1), step_seed, temperature)  # [n]
            return canvas + pixel[:, None] * tf.one_hot(d, self.size)[None, :]

        canvas = samplers.sequential_sample(step, tf.zeros(tf.stack([tf.cast(n, tf.int32), self.size])),
                                            self.size, seed)
        return tf.reshape(canvas, (-1,) + self.data_shape)

    def _sample(self, n, seed, temperature=1.0):
        """``n`` exact ancestral draws ``[n, *input_shape]`` in the order; each pixel's logit divided by ``temperature``."""
        return self._draw(n, seed, temperature)


@keras.saving.register_keras_serializable(package="keras_ae")
class PixelCNNDensity(ExactDensity):
    """Gated PixelCNN as a density model of binary images, with exact ``log p(x)``.

    Objective per example (minimised), pixels in raster order::

        -log p(x) = -sum_i log Bernoulli(x_i | sigmoid(f_i(x_<i)))

    with ``f`` a :class:`~keras_ae.layers.pixelcnn.GatedPixelCNN` whose first mask is type A, so
    the output at pixel ``i`` sees only the pixels before it (van den Oord et al. 2016,
    "Conditional Image Generation with PixelCNN Decoders"). The product of conditionals is a
    normalized distribution and ``nll`` is the exact negative log-likelihood in nats; so is
    ``score``.

    As an autoencoder: ``encode(x)`` is the network's last horizontal-stack features
    ``[H, W, filters]``, ``decode(h)`` the conditional probabilities ``p(x_i = 1 | x_<i)`` from them,
    so ``reconstruct(x)`` gives each pixel's probability given the pixels before it. ``sample(n)``
    draws pixel by pixel (``H * W`` network passes under ``tf.while_loop``, also in the exported
    ``sample``).

    Args:
        input_shape: ``(H, W, 1)``, data in [0, 1] (binary for exact likelihoods).
        num_layers, filters, kernel_size, first_kernel_size, hidden: of the network (defaults
            5, 32, 3, 5, 64; see :class:`~keras_ae.layers.pixelcnn.GatedPixelCNN`).
        architecture: only ``"conv"``.
        kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder` (``latent_dim``,
            ``hidden_units``, ``activation``, ``encoder`` and ``decoder`` are refused:
            ``UNUSED_ARGUMENTS`` says why).

    Example::

        model = PixelCNNDensity(input_shape=(28, 28, 1), num_layers=7, filters=64)
        model.compile()
        model.fit(x_binary, epochs=20)
        nll = -model.exact_log_likelihood(x_test).numpy().mean()
    """

    UNUSED_ARGUMENTS = {
        "latent_dim": "the code is the network's last features, [height, width, filters]",
        "hidden_units": "its layers are masked convolutions (set num_layers, filters, hidden)",
        "activation": "a Gated PixelCNN's non-linearities are its gates (tanh times sigmoid)",
        "encoder": "its masked convolutions make one network both encoder and decoder",
        "decoder": "its masked convolutions make one network both encoder and decoder",
    }

    def __init__(self, input_shape, num_layers=5, filters=32, kernel_size=3, first_kernel_size=5, hidden=64,
                 architecture="conv", **kwargs):
        _checks.check_choice(architecture, "architecture", ("conv",))
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3 or int(tuple(input_shape)[-1]) != 1:
            raise ValueError(f"PixelCNNDensity models one-channel images: input_shape must be (height, width, 1), "
                             f"got {input_shape}")
        filters = _checks.check_positive_int(filters, "filters")
        super().__init__(input_shape, architecture="conv", filters=(filters,), **kwargs)
        self.latent_dim = filters
        self.network = GatedPixelCNN(num_layers, filters, kernel_size, first_kernel_size, "A", None, hidden,
                                     kernel_initializer=self.kernel_initializer, name="pixelcnn")

    def get_config(self):
        config = super().get_config()
        n = self.network
        return {**config, "num_layers": n.num_layers, "filters": n.filters, "kernel_size": n.kernel_size,
                "first_kernel_size": n.first_kernel_size, "hidden": n.hidden}

    @property
    def code_spec(self):
        return tf.TensorSpec(self.data_shape[:2] + (self.network.filters,), tf.float32, name="z")

    def _log_prob(self, x):
        return self.network.log_prob(x)

    def _encode(self, x):
        return self.network.features(x)

    def _decode(self, z, seed=None):
        return tf.sigmoid(self.network.head(z))

    def _sample(self, n, seed, temperature=1.0):
        """``n`` exact ancestral draws ``[n, H, W, 1]`` in raster order; each pixel's logit divided by ``temperature``."""
        return self.network.sample(n, self.data_shape[:2], seed, temperature=temperature)


#: PixelVAE's default free bits per latent dimension (nats) with the KL regularizer.
FREE_BITS = 0.25


@keras.saving.register_keras_serializable(package="keras_ae")
class PixelVAE(VAE):
    """A VAE whose decoder is a Gated PixelCNN conditioned on the latent (PixelVAE-style).

    Objective per example (minimised), the negative ELBO with free bits (Kingma et al. 2016)::

        -log p(x | z) + beta * sum_j max(KL_j(q(z|x) || N(0, I)), free_bits),   z ~ q(z|x)

    where ``log p(x | z) = sum_i log Bernoulli(x_i | f_i(x_<i, h(z)))`` is exact: ``f`` a
    :class:`~keras_ae.layers.pixelcnn.GatedPixelCNN` (first mask A) and ``h(z)`` the decoder body's
    features (a vector for ``architecture="mlp"``, an image-sized map for ``"conv"``) entering every
    gate (Gulrajani et al. 2017, "PixelVAE"; van den Oord et al. 2016, conditional PixelCNN). A
    powerful decoder can model ``x`` without ``z`` and leave the KL at zero (posterior collapse);
    ``free_bits`` > 0 (default 0.25 nats per dimension) keeps each latent dimension worth using.
    ``kl`` is logged without free bits, so ``elbo`` stays the true bound.

    ``decode(z, seed)`` draws an image pixel by pixel given ``z`` (a stochastic decoder under
    ``tf.while_loop``, also in the exported ``decode``/``reconstruct``/``sample``);
    ``log_likelihood`` is the importance-sampled ``log p(x)`` with the exact ``p(x | z)``.

    Args:
        input_shape: ``(H, W, 1)``, binary data.
        latent_dim: size of ``z``.
        free_bits: nats per latent dimension below which the KL is not pushed down, default 0.25 with
            the default KL regularizer (a regularizer part given as ``regularizer`` keeps its own).
        num_layers, pixel_filters, kernel_size, first_kernel_size, pixel_hidden: of the PixelCNN
            (defaults 3, 32, 3, 5, 64).
        likelihood: only ``"bernoulli"`` (the PixelCNN's conditionals are Bernoulli).
        other arguments: see :class:`~keras_ae.models.VAE`.
    """

    stochastic_decoder = True
    #: its loss builds every layer; its reconstruction draws each pixel in turn (see the base class)
    BUILD_RECONSTRUCTS = False

    def __init__(self, input_shape, latent_dim, free_bits=None, num_layers=3, pixel_filters=32, kernel_size=3,
                 first_kernel_size=5, pixel_hidden=64, likelihood="bernoulli", **kwargs):
        _checks.check_choice(likelihood, "likelihood", ("bernoulli",))
        if free_bits is None and kwargs.get("regularizer", "kl") == "kl":
            free_bits = FREE_BITS
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3 or int(tuple(input_shape)[-1]) != 1:
            raise ValueError(f"PixelVAE models one-channel images: input_shape must be (height, width, 1), "
                             f"got {input_shape}")
        super().__init__(input_shape, latent_dim, likelihood="bernoulli", free_bits=free_bits, **kwargs)
        self.decoder_head = None  # the PixelCNN is the likelihood
        self.pixelcnn = GatedPixelCNN(num_layers, pixel_filters, kernel_size, first_kernel_size, "A", None,
                                      pixel_hidden, kernel_initializer=self.kernel_initializer, name="pixelcnn")

    def get_config(self):
        config = super().get_config()
        config.pop("likelihood")
        n = self.pixelcnn
        return {**config, "num_layers": n.num_layers, "pixel_filters": n.filters, "kernel_size": n.kernel_size,
                "first_kernel_size": n.first_kernel_size, "pixel_hidden": n.hidden}

    def _condition(self, z):
        return tf.cast(self.decoder_body(z), tf.float32)

    def _likelihood(self, z):
        raise NotImplementedError("PixelVAE's p(x|z) is autoregressive, not a tfd distribution object: use "
                                  "log_prob_of_codes(x, z) for log p(x|z) and decode(z, seed) for draws")

    def log_prob_of_codes(self, x, z):
        """Exact ``log p(x|z)`` ``[n, B]`` for codes ``z`` ``[n, B, latent_dim]`` of a batch ``x``."""
        n, batch = tf.shape(z)[0], tf.shape(z)[1]
        x_rep = tf.reshape(tf.broadcast_to(x[None], tf.concat([[n], tf.shape(x)], 0)), (-1,) + self.data_shape)
        log_px = self.pixelcnn.log_prob(x_rep, self._condition(tf.reshape(z, [-1, self.latent_dim])))
        return tf.reshape(log_px, [n, batch])

    def _decode(self, z, seed=None):
        return self.pixelcnn.sample(tf.shape(z)[0], self.data_shape[:2], seed, condition=self._condition(z))

    def _sample(self, n, seed, temperature=1.0):
        """``z = T e`` (the prior part's tempered draw), then pixels drawn given ``z`` with logits divided by ``T``."""
        z = self._prior_codes(n, seed, temperature)
        return self.pixelcnn.sample(tf.shape(z)[0], self.data_shape[:2], samplers.fold_seed(seed, 1),
                                    condition=self._condition(z), temperature=temperature)

    def _score(self, x):
        """``-log p(x | z = code) + KL(q(z|x) || p(z))``, deterministic; the cost at the code alone with
        deterministic training codes (see ``VAE._score``)."""
        q = self._posterior(x)
        nll = -self.log_prob_of_codes(x, self.posterior_code(q)[None])[0]
        if self.regularizer_part.deterministic_codes:
            return nll
        return nll + self.kl(q)
