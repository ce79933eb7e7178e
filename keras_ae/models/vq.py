"""Vector-quantized autoencoders: VQ-VAE.

van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning".
"""

import keras
import tensorflow as tf

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.bodies import GridDecoderBody, GridEncoderBody, grid_shape, new_kernel_initializer
from keras_ae.layers.pixelcnn import GatedPixelCNN
from keras_ae.layers.quantizer import VectorQuantizer, perplexity, usage
from keras_ae.models.base import BaseAutoencoder

RECONSTRUCTIONS = ("bernoulli", "mse")
#: the stream of the restart draws' seed (shared by the replicas, unlike ``noise_seed``).
_RESTART_STREAM = 17


@keras.saving.register_keras_serializable(package="keras_ae")
class VQVAE(BaseAutoencoder):
    """VQ-VAE: a convolutional encoder to a grid of vectors, each replaced by its nearest code.

    The code of an image is a grid of integers ``k_ij`` in ``[0, K)`` (``code_spec`` is int32
    ``[h, w]``, ``h = ceil(H / 2^n)`` for ``n = len(filters)``). Objective per example
    (section 3.1, eq. 3), summed over pixels and grid cells::

        L = rec(x, D(z_q)) + ||sg(z_e) - z_q||^2 + beta ||z_e - sg(z_q)||^2

    with ``z_e = E(x)``, ``z_q = e_k`` the nearest code (``k = argmin_j ||z_e - e_j||^2``) passed to
    the decoder with a straight-through gradient, ``rec`` the Bernoulli cross-entropy
    (``reconstruction="bernoulli"``, data in [0, 1]) or the squared error (``"mse"``). With
    ``ema=True`` the codebook term is dropped and the codebook follows exponential moving
    averages of the encoder outputs each code receives (appendix A.1), kept identical on every
    replica; see :class:`~keras_ae.layers.quantizer.VectorQuantizer`. Dead codes restart at
    encoder outputs. ``perplexity`` (``exp`` of the entropy of the batch's code frequencies)
    and ``usage`` (the fraction of codes the batch uses) are logged every step and epoch; they are
    measured per replica batch and are not part of the objective.

    ``encode(x)`` gives the int32 grid, ``decode(k)`` the mean image, ``score(x)`` the
    reconstruction term.

    Args:
        input_shape: ``(H, W, C)``.
        num_codes: codebook size ``K`` >= 2, default 64.
        embedding_dim: size ``D`` of a code vector, default 16.
        filters: channels of the stride-2 convolutions (``n = len(filters)`` halvings), default ``(32, 64)``.
        beta: commitment weight, default 0.25 (the paper's).
        reconstruction: ``"bernoulli"`` (default) or ``"mse"``.
        ema: EMA codebook updates instead of the codebook loss, default False.
        decay, epsilon, restart_threshold: of the quantizer (defaults 0.99, 1e-5, 0.03).
        activation, kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`.

    Example::

        model = VQVAE(input_shape=(28, 28, 1), num_codes=128, embedding_dim=16, ema=True)
        model.compile()
        model.fit(x_train, epochs=20)        # logs perplexity and usage every epoch
        k = model.encode(x_test)             # int32 [B, 7, 7]
    """

    TERMS = ("reconstruction", "codebook", "commitment", "perplexity", "usage")

    def __init__(self, input_shape, num_codes=64, embedding_dim=16, filters=(32, 64), beta=0.25,
                 reconstruction="bernoulli", ema=False, decay=0.99, epsilon=1e-5, restart_threshold=0.03, **kwargs):
        kwargs.pop("latent_dim", None)
        kwargs.pop("architecture", None)
        kwargs.pop("hidden_units", None)
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3:
            raise ValueError(f"VQVAE needs images: input_shape must be (height, width, channels), got {input_shape}")
        filters = _checks.check_int_sequence(filters, "filters")
        if not filters:
            raise ValueError("filters must name at least one downsampling convolution, got ()")
        cells = grid_shape(tuple(input_shape), len(filters))
        super().__init__(input_shape, latent_dim=cells[0] * cells[1], architecture="conv", hidden_units=(),
                         filters=filters, **kwargs)
        self.grid = cells
        self.num_codes = _checks.check_integer(num_codes, "num_codes", minimum=2)
        self.embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
        self.beta = _checks.check_number(beta, "beta", minimum=0.0)
        self.reconstruction = _checks.check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
        self.data_likelihood = reconstruction
        self.unit_interval_data = reconstruction == "bernoulli"
        self.encoder_body = GridEncoderBody(self.data_shape, self.embedding_dim, self.filters, self.activation,
                                            self.kernel_initializer, name="encoder_body")
        self.quantizer = VectorQuantizer(self.num_codes, self.embedding_dim, ema=ema, decay=decay, epsilon=epsilon,
                                         restart_threshold=restart_threshold,
                                         kernel_initializer=self.kernel_initializer, name="quantizer")
        self.decoder_body = GridDecoderBody(self.data_shape, self.filters, self.activation, self.kernel_initializer,
                                            name="decoder_body")
        self.output_layer = keras.layers.Conv2D(self.data_shape[-1], 1, name="output",
                                                kernel_initializer=new_kernel_initializer(self.kernel_initializer))

    def get_config(self):
        config = super().get_config()
        for key in ("latent_dim", "architecture", "hidden_units"):
            config.pop(key)
        q = self.quantizer
        return {**config, "num_codes": self.num_codes, "embedding_dim": self.embedding_dim, "beta": self.beta,
                "reconstruction": self.reconstruction, "ema": q.ema, "decay": q.decay, "epsilon": q.epsilon,
                "restart_threshold": q.restart_threshold}

    @property
    def code_spec(self):
        return tf.TensorSpec(self.grid, tf.int32, name="z")

    def check_codes(self, z, name="z"):
        """Validate a batch of code grids ``[B, h, w]``: integers in ``[0, num_codes)``."""
        return _checks.check_batch(z, self.code_spec, name, (0, self.num_codes - 1),
                                   f"a codebook of {self.num_codes} codes")

    # -- networks --------------------------------------------------------------------------------
    def encoder_outputs(self, x):
        """``z_e = E(x)``: ``[B, h, w, D]`` float32, before quantization."""
        return tf.cast(self.encoder_body(x), tf.float32)

    def decoder_output(self, vectors):
        """Code vectors ``[B, h, w, D]`` -> decoder output ``[B, H, W, C]`` (logits for Bernoulli)."""
        return tf.cast(self.output_layer(self.decoder_body(vectors)), tf.float32)

    def _mean(self, output):
        return tf.sigmoid(output) if self.reconstruction == "bernoulli" else output

    def _reconstruction_error(self, x, output):
        if self.reconstruction == "bernoulli":
            return objectives.bernoulli_cross_entropy(x, output)
        return objectives.squared_error(x, output)

    # -- hooks -----------------------------------------------------------------------------------
    def _encode(self, x):
        return self.quantizer.indices(self.encoder_outputs(x))

    def _decode(self, z, seed=None):
        return self._mean(self.decoder_output(self.quantizer.lookup(z)))

    def _reconstruct(self, x):
        return self._decode(self._encode(x))

    def _loss_terms(self, x, training=False):
        z_e = self.encoder_outputs(x)
        z_q, indices = self.quantizer(z_e)
        terms = self.quantizer.terms(z_e, indices)
        ones = tf.ones_like(terms["commitment"])
        return {"reconstruction": self._reconstruction_error(x, self.decoder_output(z_q)), **terms,
                "perplexity": perplexity(indices, self.num_codes) * ones, "usage": usage(indices, self.num_codes) * ones}

    def loss_weights(self):
        weights = {"reconstruction": 1.0, "commitment": self.beta}
        if not self.quantizer.ema:
            weights["codebook"] = 1.0
        return weights

    def _non_gradient_updates(self, x, **extras):
        z_e = self.encoder_outputs(x)
        seed = tf.constant([self.seed, _RESTART_STREAM], tf.int32)
        if getattr(self, "optimizer", None) is not None:
            seed = samplers.fold_seed(seed, self.optimizer.iterations)
        self.quantizer.update(z_e, self.quantizer.indices(z_e), seed)

    def codebook_usage(self, x, batch_size=256):
        """Over a whole array: ``{"usage": fraction of codes used, "perplexity": exp H(code frequencies)}``.

        Args:
            x: data ``[N, H, W, C]``.
            batch_size: examples per encoding batch, default 256.
        """
        x = self.check_inputs(x)
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        codes = tf.concat([self._encode(x[i:i + batch_size]) for i in range(0, int(x.shape[0]), batch_size)], axis=0)
        return {"usage": float(usage(codes, self.num_codes)), "perplexity": float(perplexity(codes, self.num_codes))}


def _vq_autoencoder(autoencoder, input_shape):
    """The first stage of a prior model: a VQVAE given, or one built from its config or arguments."""
    if isinstance(autoencoder, BaseAutoencoder):
        model = autoencoder
    elif isinstance(autoencoder, dict) and "class_name" in autoencoder:
        model = keras.saving.deserialize_keras_object(autoencoder)
    elif autoencoder is None or isinstance(autoencoder, dict):
        model = VQVAE(input_shape, **(autoencoder or {}))
    else:
        raise ValueError(f"autoencoder must be a VQVAE, its config or a dict of VQVAE arguments, "
                         f"got {type(autoencoder).__name__}")
    if not isinstance(model, VQVAE):
        raise ValueError(f"autoencoder must be a VQVAE (a model with a grid of codes), got {type(model).__name__}")
    if tuple(model.data_shape) != tuple(input_shape):
        raise ValueError(f"the autoencoder takes input_shape {tuple(model.data_shape)}, the prior model was given "
                         f"{tuple(input_shape)}")
    return model


@keras.saving.register_keras_serializable(package="keras_ae")
class VQPixelCNNPrior(BaseAutoencoder):
    """The second stage of a VQ-VAE: a Gated PixelCNN prior over its frozen code grids.

    Objective per example (minimised): the exact negative log-likelihood of the code grid
    ``k = encode(x)`` of a trained, frozen :class:`VQVAE` under an autoregressive prior in raster
    order (van den Oord et al. 2017, section 4.2)::

        prior_nll(x) = -sum_ij log p(k_ij | k_<ij)

    with ``p`` a :class:`~keras_ae.layers.pixelcnn.GatedPixelCNN` over ``K`` classes (first mask
    A). The autoencoder's weights do not change (it is not trainable here); its
    ``reconstruction`` term is logged for reference, not optimized. ``encode``/``decode``/
    ``reconstruct`` are the autoencoder's; ``sample(n, seed)`` draws a grid cell by cell under
    ``tf.while_loop`` and decodes it, so images are generated end to end (also by the exported
    ``sample`` and ``sample_seeded``).

    Two-stage training in the zoo: ``python -m zoo train vqvae-digits``, then
    ``python -m zoo train vqvae-prior-digits --from RUN_DIR`` (the trained VQVAE is given as
    ``autoencoder``, see ``previous_stage``).

    Args:
        input_shape: ``(H, W, C)``, the autoencoder's.
        autoencoder: the trained ``VQVAE`` (its weights are kept), its Keras config, or a dict of
            ``VQVAE`` arguments for a new one (default ``{}``: ``VQVAE``'s defaults).
        num_layers, filters, kernel_size, first_kernel_size, hidden: of the prior network
            (defaults 5, 32, 3, 3, 64; :class:`~keras_ae.layers.pixelcnn.GatedPixelCNN`).
        kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`.

    Example::

        vq = VQVAE(input_shape=(28, 28, 1), num_codes=64); vq.compile(); vq.fit(x, epochs=20)
        model = VQPixelCNNPrior((28, 28, 1), autoencoder=vq); model.compile(); model.fit(x, epochs=20)
        images = model.sample(16, seed=0)
    """

    TERMS = ("prior_nll", "reconstruction")
    is_generative = True
    #: the constructor argument that takes the trained model of the first stage (``zoo train --from``).
    previous_stage = "autoencoder"

    def __init__(self, input_shape, autoencoder=None, num_layers=5, filters=32, kernel_size=3, first_kernel_size=3,
                 hidden=64, **kwargs):
        for key in ("latent_dim", "architecture", "hidden_units", "filters"):
            kwargs.pop(key, None)
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
        autoencoder = _vq_autoencoder(autoencoder, tuple(int(d) for d in input_shape))
        super().__init__(input_shape, latent_dim=autoencoder.latent_dim, hidden_units=(), **kwargs)
        self.autoencoder = autoencoder
        self.autoencoder.trainable = False
        self.unit_interval_data = self.autoencoder.unit_interval_data
        self.data_likelihood = self.autoencoder.data_likelihood
        self.prior_network = GatedPixelCNN(num_layers, filters, kernel_size, first_kernel_size, "A",
                                           self.autoencoder.num_codes, hidden,
                                           kernel_initializer=self.kernel_initializer, name="prior")

    def get_config(self):
        config = super().get_config()
        for key in ("latent_dim", "architecture", "hidden_units", "filters"):
            config.pop(key)
        n = self.prior_network
        return {**config, "autoencoder": keras.saving.serialize_keras_object(self.autoencoder),
                "num_layers": n.num_layers, "filters": n.filters, "kernel_size": n.kernel_size,
                "first_kernel_size": n.first_kernel_size, "hidden": n.hidden}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["autoencoder"] = keras.saving.deserialize_keras_object(config["autoencoder"])
        return super().from_config(config)

    @property
    def code_spec(self):
        return self.autoencoder.code_spec

    def check_codes(self, z, name="z"):
        return self.autoencoder.check_codes(z, name)

    def _encode(self, x):
        return self.autoencoder._encode(x)

    def _decode(self, z, seed=None):
        return self.autoencoder._decode(z)

    def prior_log_prob(self, codes):
        """Exact ``log p(k)`` of code grids ``[B, h, w]`` under the prior, per example (nats)."""
        return self.prior_network.log_prob(self.check_codes(codes))

    def _loss_terms(self, x, training=False):
        z_e = self.autoencoder.encoder_outputs(x)
        codes = tf.stop_gradient(self.autoencoder.quantizer.indices(z_e))
        output = self.autoencoder.decoder_output(self.autoencoder.quantizer.lookup(codes))
        return {"prior_nll": -self.prior_network.log_prob(codes),
                "reconstruction": tf.stop_gradient(self.autoencoder._reconstruction_error(x, output))}

    def loss_weights(self):
        return {"prior_nll": 1.0}

    def _prior_codes(self, n, seed):
        return self.prior_network.sample(n, self.autoencoder.grid, seed)

    def _sample(self, n, seed):
        return self._decode(self._prior_codes(n, seed))

    def _sample_for_export(self, n):
        return self._decode(self._prior_codes(n, None))
