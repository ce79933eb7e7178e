"""Vector-quantized autoencoders: VQ-VAE, VQ-VAE-2 and the PixelCNN priors over their codes.

van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning";
Razavi, van den Oord & Vinyals 2019, "Generating Diverse High-Fidelity Images with VQ-VAE-2".
"""

import keras
import tensorflow as tf

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.bodies import GridDecoderBody, GridEncoderBody, grid_shape, new_kernel_initializer
from keras_ae.layers.pixelcnn import GatedPixelCNN
from keras_ae.layers.quantizer import VectorQuantizer, perplexity, usage
from keras_ae.models.base import BaseAutoencoder, first_stage_model

RECONSTRUCTIONS = ("bernoulli", "mse")
#: the stream of the restart draws' seed (shared by the replicas, unlike ``noise_seed``).
_RESTART_STREAM = 17


def _check_ema_arguments(ema, epsilon):
    """``epsilon`` smooths the EMA counts: a value other than its default without ``ema=True`` is refused."""
    if not ema and epsilon != 1e-5:
        raise ValueError(f"epsilon (got {epsilon!r}) is the Laplace smoothing of the EMA codebook: it applies "
                         f"with ema=True only")


def _cell_weights(sample_weight, vectors):
    """The examples' weights ``[B]`` given to every cell of their grid ``[B, h, w]`` (None stays None)."""
    if sample_weight is None:
        return None
    return tf.broadcast_to(tf.reshape(sample_weight, [-1, 1, 1]), tf.shape(vectors)[:-1])


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
        architecture: only ``"conv"``.
        activation, kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`.
            ``latent_dim``, ``hidden_units``, ``encoder`` and ``decoder`` are refused
            (``UNUSED_ARGUMENTS`` says why).

    Example::

        model = VQVAE(input_shape=(28, 28, 1), num_codes=128, embedding_dim=16, ema=True)
        model.compile()
        model.fit(x_train, epochs=20)        # logs perplexity and usage every epoch
        k = model.encode(x_test)             # int32 [B, 7, 7]
    """

    TERMS = ("reconstruction", "codebook", "commitment", "perplexity", "usage")
    UNUSED_ARGUMENTS = {
        "latent_dim": "the code is a grid of codebook indices whose size input_shape and filters set",
        "hidden_units": "its encoder and decoder are convolutions (set filters)",
        "encoder": "its encoder is built for the quantizer's grid of code vectors (set filters)",
        "decoder": "its decoder is built for the quantizer's grid of code vectors (set filters)",
    }

    def __init__(self, input_shape, num_codes=64, embedding_dim=16, filters=(32, 64), beta=0.25,
                 reconstruction="bernoulli", ema=False, decay=0.99, epsilon=1e-5, restart_threshold=0.03,
                 architecture="conv", **kwargs):
        _checks.check_choice(architecture, "architecture", ("conv",))
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3:
            raise ValueError(f"VQVAE needs images: input_shape must be (height, width, channels), got {input_shape}")
        filters = _checks.check_int_sequence(filters, "filters")
        if not filters:
            raise ValueError("filters must name at least one downsampling convolution, got ()")
        super().__init__(input_shape, architecture="conv", filters=filters, **kwargs)
        cells = grid_shape(self.data_shape, len(filters))
        self.latent_dim = cells[0] * cells[1]
        self.grid = cells
        _check_ema_arguments(ema, epsilon)
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

    def _non_gradient_updates(self, x, sample_weight):
        z_e = self.encoder_outputs(x)
        seed = tf.constant([self.seed, _RESTART_STREAM], tf.int32)
        if getattr(self, "optimizer", None) is not None:
            seed = samplers.fold_seed(seed, self.optimizer.iterations)
        self.quantizer.update(z_e, self.quantizer.indices(z_e), seed, _cell_weights(sample_weight, z_e))

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


def _vq_autoencoder(autoencoder, input_shape, cls=None):
    """The first stage of a prior model: a ``cls`` (default VQVAE) given, or one built from its config or arguments."""
    cls = cls or VQVAE
    model = first_stage_model(autoencoder, input_shape, cls, "the prior model")
    if not isinstance(model, cls):
        what = "two levels of code grids" if cls is not VQVAE else "a grid of codes"
        raise ValueError(f"autoencoder must be a {cls.__name__} (a model with {what}), got {type(model).__name__}")
    return model


class _FrozenCodesPrior(BaseAutoencoder):
    """Shared by the second stages: a prior over the codes of a frozen, trained VQ autoencoder.

    ``encode``/``decode``/``reconstruct`` and ``code_spec`` are the autoencoder's; the subclass
    builds its networks and defines ``_loss_terms`` and ``_prior_codes``.
    """

    is_generative = True
    #: the constructor argument that takes the trained model of the first stage (``zoo train --from``).
    previous_stage = "autoencoder"
    UNUSED_ARGUMENTS = {
        "latent_dim": "its codes are the autoencoder's",
        "architecture": "its network is a Gated PixelCNN over the autoencoder's codes",
        "hidden_units": "its network is a Gated PixelCNN over the autoencoder's codes (set num_layers, filters, "
                        "hidden)",
        "encoder": "it encodes with the autoencoder (give it as autoencoder=)",
        "decoder": "it decodes with the autoencoder (give it as autoencoder=)",
    }

    def _freeze(self, autoencoder):
        self.latent_dim = autoencoder.latent_dim
        self.autoencoder = autoencoder
        self.autoencoder.trainable = False
        self.unit_interval_data = self.autoencoder.unit_interval_data
        self.data_likelihood = self.autoencoder.data_likelihood

    def get_config(self):
        config = super().get_config()
        config.pop("filters")  # the base's; a subclass's own filters (its PixelCNN's) replaces it
        return {**config, "autoencoder": keras.saving.serialize_keras_object(self.autoencoder)}

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

    def _encode_outputs(self, x):
        return self.autoencoder._encode_outputs(x)

    def _decode(self, z, seed=None):
        return self.autoencoder._decode(z)

    def _sample(self, n, seed, temperature=1.0):
        return self._decode(self._prior_codes(n, seed, temperature))


@keras.saving.register_keras_serializable(package="keras_ae")
class VQPixelCNNPrior(_FrozenCodesPrior):
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
        kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder` (``latent_dim``,
            ``architecture``, ``hidden_units``, ``activation``, ``encoder`` and ``decoder`` are
            refused: ``UNUSED_ARGUMENTS`` says why).

    Example::

        vq = VQVAE(input_shape=(28, 28, 1), num_codes=64); vq.compile(); vq.fit(x, epochs=20)
        model = VQPixelCNNPrior((28, 28, 1), autoencoder=vq); model.compile(); model.fit(x, epochs=20)
        images = model.sample(16, seed=0)
    """

    TERMS = ("prior_nll", "reconstruction")
    UNUSED_ARGUMENTS = {**_FrozenCodesPrior.UNUSED_ARGUMENTS,
                        "activation": "a Gated PixelCNN's non-linearities are its gates (tanh times sigmoid)"}

    def __init__(self, input_shape, autoencoder=None, num_layers=5, filters=32, kernel_size=3, first_kernel_size=3,
                 hidden=64, **kwargs):
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
        super().__init__(input_shape, **kwargs)
        self._freeze(_vq_autoencoder(autoencoder, self.data_shape))
        self.prior_network = GatedPixelCNN(num_layers, filters, kernel_size, first_kernel_size, "A",
                                           self.autoencoder.num_codes, hidden,
                                           kernel_initializer=self.kernel_initializer, name="prior")

    def get_config(self):
        n = self.prior_network
        return {**super().get_config(), "num_layers": n.num_layers, "filters": n.filters,
                "kernel_size": n.kernel_size, "first_kernel_size": n.first_kernel_size, "hidden": n.hidden}

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

    def _prior_codes(self, n, seed, temperature=1.0):
        """A code grid cell by cell, each cell's logits divided by ``temperature``."""
        return self.prior_network.sample(n, self.autoencoder.grid, seed, temperature=temperature)


# -- VQ-VAE-2: two levels of codes ------------------------------------------------------------------
LEVELS = ("top", "bottom")


def _level_codes(z, name="z"):
    """``{"top": ..., "bottom": ...}`` from a dict with those keys (or a pair, top first), else ValueError."""
    if isinstance(z, dict):
        unknown = sorted(set(z) - set(LEVELS))
        missing = [k for k in LEVELS if k not in z]
        if unknown or missing:
            raise ValueError(f"{name} must be a dict with the keys 'top' and 'bottom' (the two index grids), "
                             f"got the keys {sorted(z)}")
        return {k: z[k] for k in LEVELS}
    if isinstance(z, (tuple, list)) and len(z) == 2 and not isinstance(z[0], (int, float)):
        return dict(zip(LEVELS, z))
    raise ValueError(f"{name} must be a dict {{'top': grids, 'bottom': grids}} of the two index grids, "
                     f"got {type(z).__name__}")


@keras.saving.register_keras_serializable(package="keras_ae")
class VQVAE2(BaseAutoencoder):
    """VQ-VAE-2 (Razavi, van den Oord & Vinyals 2019): two levels of codes, a coarse top and a fine bottom.

    Networks (section 3.1, figure 2a, without the residual blocks):

    - ``h = E_b(x)``: ``len(filters)`` stride-2 convolutions to the bottom grid ``[hb, wb]``;
    - ``z_e_top = E_t(h)``: ``len(top_filters)`` more stride-2 convolutions to the top grid
      ``[ht, wt]``, quantized with the top codebook (``num_top_codes`` codes) to ``z_q_top``;
    - ``z_e_bottom = W [h, D_t(z_q_top)]``: the bottom encoder output conditioned on the decoded
      top (``D_t`` upsamples the top codes to the bottom grid), quantized with the bottom
      codebook (``num_codes`` codes) to ``z_q_bottom``;
    - ``x^ = D([z_q_bottom, U(z_q_top)])``: the decoder sees both levels (``U`` is a second
      upsampling of the top codes).

    Objective per example (the VQ-VAE's, eq. 3, with one codebook and commitment term per level)::

        L = rec(x, x^) + sum_level (||sg(z_e) - z_q||^2 + beta ||z_e - sg(z_q)||^2)

    with straight-through gradients at both quantizers; with ``ema=True`` the codebook terms are
    dropped and both codebooks follow EMA updates (identical on every replica); dead codes
    restart at encoder outputs of their level. ``codebook`` and ``commitment`` are summed over the
    levels; ``perplexity_top``/``usage_top`` and ``perplexity_bottom``/``usage_bottom`` are logged.

    The code of an image is two int32 grids: ``code_spec`` is ``{"top": [ht, wt], "bottom": [hb, wb]}``
    (``tf.TensorSpec`` s named ``top`` and ``bottom``). ``encode(x)`` returns that dict;
    ``decode(z)`` takes it (or a pair ``(top, bottom)``); the exported ``encode`` has the outputs
    ``top`` and ``bottom`` and the exported ``decode`` the inputs of the same names.

    Args:
        input_shape: ``(H, W, C)``.
        num_codes: bottom codebook size >= 2, default 64.
        num_top_codes: top codebook size, default ``num_codes``.
        embedding_dim: size of a code vector (both levels), default 16.
        filters: channels of the image-to-bottom stride-2 convolutions, default ``(32, 64)``.
        top_filters: channels of the bottom-to-top stride-2 convolutions, default ``(64,)``.
        beta, reconstruction, ema, decay, epsilon, restart_threshold, architecture: as :class:`VQVAE`
            (both quantizers take the same settings).
        activation, kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`
            (``latent_dim``, ``hidden_units``, ``encoder`` and ``decoder`` are refused, as by :class:`VQVAE`).

    Example::

        model = VQVAE2(input_shape=(28, 28, 1), filters=(32, 64), top_filters=(64,), ema=True)
        model.compile(); model.fit(x_train, epochs=20)
        codes = model.encode(x_test)        # {"top": int32 [B, 4, 4], "bottom": int32 [B, 7, 7]}
        images = model.decode(codes)
    """

    TERMS = ("reconstruction", "codebook", "commitment", "perplexity_top", "usage_top", "perplexity_bottom",
             "usage_bottom")

    UNUSED_ARGUMENTS = VQVAE.UNUSED_ARGUMENTS

    def __init__(self, input_shape, num_codes=64, num_top_codes=None, embedding_dim=16, filters=(32, 64),
                 top_filters=(64,), beta=0.25, reconstruction="bernoulli", ema=False, decay=0.99, epsilon=1e-5,
                 restart_threshold=0.03, architecture="conv", **kwargs):
        _checks.check_choice(architecture, "architecture", ("conv",))
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3:
            raise ValueError(f"VQVAE2 needs images: input_shape must be (height, width, channels), got {input_shape}")
        filters = _checks.check_int_sequence(filters, "filters")
        top_filters = _checks.check_int_sequence(top_filters, "top_filters")
        if not filters or not top_filters:
            raise ValueError(f"filters and top_filters must each name at least one downsampling convolution, "
                             f"got {tuple(filters)} and {tuple(top_filters)}")
        super().__init__(input_shape, architecture="conv", filters=filters, **kwargs)
        bottom = grid_shape(self.data_shape, len(filters))
        top = grid_shape(bottom, len(top_filters))
        self.latent_dim = bottom[0] * bottom[1] + top[0] * top[1]
        self.bottom_grid, self.top_grid = bottom, top
        _check_ema_arguments(ema, epsilon)
        self.top_filters = tuple(int(f) for f in top_filters)
        self.num_codes = _checks.check_integer(num_codes, "num_codes", minimum=2)
        self.num_top_codes = self.num_codes if num_top_codes is None else _checks.check_integer(
            num_top_codes, "num_top_codes", minimum=2)
        self.embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
        self.beta = _checks.check_number(beta, "beta", minimum=0.0)
        self.reconstruction = _checks.check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
        self.data_likelihood = reconstruction
        self.unit_interval_data = reconstruction == "bernoulli"
        act, init = self.activation, self.kernel_initializer
        hidden = self.filters[-1]
        bottom_shape = bottom + (hidden,)
        self.bottom_encoder = GridEncoderBody(self.data_shape, hidden, self.filters, act, init, name="bottom_encoder")
        self.top_encoder = GridEncoderBody(bottom_shape, self.embedding_dim, self.top_filters, act, init,
                                           name="top_encoder")
        self.top_to_bottom = GridDecoderBody(bottom_shape, self.top_filters, act, init, name="top_to_bottom")
        self.bottom_projection = keras.layers.Conv2D(self.embedding_dim, 1, name="bottom_projection",
                                                     kernel_initializer=new_kernel_initializer(init))
        quantizer = dict(embedding_dim=self.embedding_dim, ema=ema, decay=decay, epsilon=epsilon,
                         restart_threshold=restart_threshold, kernel_initializer=init)
        self.top_quantizer = VectorQuantizer(self.num_top_codes, name="top_quantizer", **quantizer)
        self.bottom_quantizer = VectorQuantizer(self.num_codes, name="bottom_quantizer", **quantizer)
        self.top_upsample = GridDecoderBody(bottom_shape, self.top_filters, act, init, name="top_upsample")
        self.decoder_body = GridDecoderBody(self.data_shape, self.filters, act, init, name="decoder_body")
        self.output_layer = keras.layers.Conv2D(self.data_shape[-1], 1, name="output",
                                                kernel_initializer=new_kernel_initializer(init))

    def get_config(self):
        config = super().get_config()
        q = self.bottom_quantizer
        return {**config, "num_codes": self.num_codes, "num_top_codes": self.num_top_codes,
                "embedding_dim": self.embedding_dim, "top_filters": list(self.top_filters), "beta": self.beta,
                "reconstruction": self.reconstruction, "ema": q.ema, "decay": q.decay, "epsilon": q.epsilon,
                "restart_threshold": q.restart_threshold}

    @property
    def code_spec(self):
        """``{"top": int32 [ht, wt], "bottom": int32 [hb, wb]}``: the two index grids of one image."""
        return {"top": tf.TensorSpec(self.top_grid, tf.int32, name="top"),
                "bottom": tf.TensorSpec(self.bottom_grid, tf.int32, name="bottom")}

    def codebook_sizes(self):
        return {"top": self.num_top_codes, "bottom": self.num_codes}

    def check_codes(self, z, name="z"):
        """Validate ``{"top": [B, ht, wt], "bottom": [B, hb, wb]}``: integers in each codebook's range, one batch size."""
        z = _level_codes(z, name)
        specs, sizes = self.code_spec, self.codebook_sizes()
        checked = {k: _checks.check_batch(z[k], specs[k], f"{name}['{k}']", (0, sizes[k] - 1),
                                          f"a {k} codebook of {sizes[k]} codes") for k in LEVELS}
        _checks.check_batch_size_match([checked[k] for k in LEVELS], [f"{name}['{k}']" for k in LEVELS])
        return checked

    # -- networks --------------------------------------------------------------------------------
    def encoder_outputs(self, x):
        """``(z_e_top [B, ht, wt, D], z_e_bottom [B, hb, wb, D], top indices)`` before the bottom quantization."""
        h = self.bottom_encoder(x)
        z_e_top = tf.cast(self.top_encoder(h), tf.float32)
        z_q_top, top = self.top_quantizer(z_e_top)
        features = tf.concat([tf.cast(h, tf.float32), tf.cast(self.top_to_bottom(z_q_top), tf.float32)], axis=-1)
        z_e_bottom = tf.cast(self.bottom_projection(features), tf.float32)
        return z_e_top, z_q_top, top, z_e_bottom

    def decoder_output(self, top_vectors, bottom_vectors):
        """Code vectors of both levels -> decoder output ``[B, H, W, C]`` (logits for Bernoulli)."""
        features = tf.concat([tf.cast(bottom_vectors, tf.float32),
                              tf.cast(self.top_upsample(top_vectors), tf.float32)], axis=-1)
        return tf.cast(self.output_layer(self.decoder_body(features)), tf.float32)

    _mean = VQVAE._mean  # the same output map and reconstruction term as the one-level model
    _reconstruction_error = VQVAE._reconstruction_error

    # -- hooks -----------------------------------------------------------------------------------
    def _encode(self, x):
        _, _, top, z_e_bottom = self.encoder_outputs(x)
        return {"top": top, "bottom": self.bottom_quantizer.indices(z_e_bottom)}

    def _encode_outputs(self, x):
        return self._encode(x)

    def _decode(self, z, seed=None):
        return self._mean(self.decoder_output(self.top_quantizer.lookup(z["top"]),
                                              self.bottom_quantizer.lookup(z["bottom"])))

    def _reconstruct(self, x):
        return self._decode(self._encode(x))

    def _loss_terms(self, x, training=False):
        z_e_top, z_q_top, top, z_e_bottom = self.encoder_outputs(x)
        z_q_bottom, bottom = self.bottom_quantizer(z_e_bottom)
        top_terms = self.top_quantizer.terms(z_e_top, top)
        bottom_terms = self.bottom_quantizer.terms(z_e_bottom, bottom)
        ones = tf.ones_like(top_terms["commitment"])
        return {"reconstruction": self._reconstruction_error(x, self.decoder_output(z_q_top, z_q_bottom)),
                "codebook": top_terms["codebook"] + bottom_terms["codebook"],
                "commitment": top_terms["commitment"] + bottom_terms["commitment"],
                "perplexity_top": perplexity(top, self.num_top_codes) * ones,
                "usage_top": usage(top, self.num_top_codes) * ones,
                "perplexity_bottom": perplexity(bottom, self.num_codes) * ones,
                "usage_bottom": usage(bottom, self.num_codes) * ones}

    def loss_weights(self):
        weights = {"reconstruction": 1.0, "commitment": self.beta}
        if not self.bottom_quantizer.ema:
            weights["codebook"] = 1.0
        return weights

    def _non_gradient_updates(self, x, sample_weight):
        # Both levels' vectors come from the weights before this update (the top codebook's
        # update does not move the bottom encoder outputs of the same step).
        z_e_top, _, top, z_e_bottom = self.encoder_outputs(x)
        bottom = self.bottom_quantizer.indices(z_e_bottom)
        seed = tf.constant([self.seed, _RESTART_STREAM], tf.int32)
        if getattr(self, "optimizer", None) is not None:
            seed = samplers.fold_seed(seed, self.optimizer.iterations)
        self.top_quantizer.update(z_e_top, top, samplers.fold_seed(seed, 0), _cell_weights(sample_weight, z_e_top))
        self.bottom_quantizer.update(z_e_bottom, bottom, samplers.fold_seed(seed, 1),
                                     _cell_weights(sample_weight, z_e_bottom))

    def codebook_usage(self, x, batch_size=256):
        """Over a whole array, per level: ``{"usage_top", "perplexity_top", "usage_bottom", "perplexity_bottom"}``."""
        x = self.check_inputs(x)
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        codes = [self._encode(x[i:i + batch_size]) for i in range(0, int(x.shape[0]), batch_size)]
        out = {}
        for level, size in self.codebook_sizes().items():
            grids = tf.concat([c[level] for c in codes], axis=0)
            out[f"usage_{level}"] = float(usage(grids, size))
            out[f"perplexity_{level}"] = float(perplexity(grids, size))
        return out


@keras.saving.register_keras_serializable(package="keras_ae")
class VQVAE2Prior(_FrozenCodesPrior):
    """The second stage of a VQ-VAE-2: a Gated PixelCNN prior per level over its frozen codes.

    Objective per example (minimised), the exact negative log-likelihood of the two code grids
    ``(t, b) = encode(x)`` of a trained, frozen :class:`VQVAE2` (Razavi et al. 2019, section 3.2)::

        prior_nll(x) = top_nll + bottom_nll = -sum_ij log p(t_ij | t_<ij) - sum_ij log p(b_ij | b_<ij, t)

    Both are :class:`~keras_ae.layers.pixelcnn.GatedPixelCNN` s in raster order (first mask A).
    The bottom one is conditioned on the whole top grid: a map ``c(t)`` of the bottom grid's size
    (the one-hot top codes through a 3x3 convolution and stride-2 transposed convolutions, cropped)
    enters every gate, so ``p(b | t)`` stays exactly normalized. The autoencoder's weights do not
    change; its ``reconstruction`` is logged for reference. ``sample(n, seed)`` draws the top grid
    cell by cell, then the bottom grid given it, both under ``tf.while_loop``, and decodes them
    (also in the exported ``sample``/``sample_seeded``).

    Two-stage training in the zoo: ``python -m zoo train vqvae2-digits``, then
    ``python -m zoo train vqvae2-prior-digits --from RUN_DIR``.

    Args:
        input_shape: ``(H, W, C)``, the autoencoder's.
        autoencoder: the trained ``VQVAE2``, its Keras config, or a dict of ``VQVAE2`` arguments
            for a new one (default ``{}``).
        num_layers, filters, kernel_size, first_kernel_size, hidden: of the bottom prior (defaults
            5, 32, 3, 3, 64).
        top_num_layers, top_filters: of the top prior (defaults ``num_layers`` and ``filters``;
            its other settings are the bottom prior's).
        condition_filters: channels of the conditioning network, default ``filters``.
        activation, kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`
            (``latent_dim``, ``architecture``, ``hidden_units``, ``encoder`` and ``decoder`` are
            refused: ``UNUSED_ARGUMENTS`` says why).

    Example::

        vq = VQVAE2((28, 28, 1), ema=True); vq.compile(); vq.fit(x, epochs=20)
        model = VQVAE2Prior((28, 28, 1), autoencoder=vq); model.compile(); model.fit(x, epochs=20)
        images = model.sample(16, seed=0)
    """

    TERMS = ("prior_nll", "top_nll", "bottom_nll", "reconstruction")

    def __init__(self, input_shape, autoencoder=None, num_layers=5, filters=32, kernel_size=3, first_kernel_size=3,
                 hidden=64, top_num_layers=None, top_filters=None, condition_filters=None, **kwargs):
        if isinstance(input_shape, int) or len(tuple(input_shape)) != 3:
            raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
        super().__init__(input_shape, **kwargs)
        self._freeze(_vq_autoencoder(autoencoder, self.data_shape, VQVAE2))
        num_layers = _checks.check_positive_int(num_layers, "num_layers")
        filters = _checks.check_positive_int(filters, "filters")
        self.top_num_layers = num_layers if top_num_layers is None else _checks.check_positive_int(
            top_num_layers, "top_num_layers")
        self.top_prior_filters = filters if top_filters is None else _checks.check_positive_int(top_filters,
                                                                                                 "top_filters")
        self.condition_filters = filters if condition_filters is None else _checks.check_positive_int(
            condition_filters, "condition_filters")
        ae, init = self.autoencoder, self.kernel_initializer
        self.top_prior = GatedPixelCNN(self.top_num_layers, self.top_prior_filters, kernel_size, first_kernel_size,
                                       "A", ae.num_top_codes, hidden, kernel_initializer=init, name="top_prior")
        self.bottom_prior = GatedPixelCNN(num_layers, filters, kernel_size, first_kernel_size, "A", ae.num_codes,
                                          hidden, kernel_initializer=init, name="bottom_prior")
        # One-hot top codes [ht, wt, Kt] -> a map [hb, wb, condition_filters]: the bottom prior's condition.
        self.condition_network = GridDecoderBody(ae.bottom_grid + (ae.num_top_codes,),
                                                 (self.condition_filters,) * len(ae.top_filters), self.activation,
                                                 init, name="condition_network")

    def get_config(self):
        n = self.bottom_prior
        return {**super().get_config(), "num_layers": n.num_layers, "filters": n.filters,
                "kernel_size": n.kernel_size, "first_kernel_size": n.first_kernel_size, "hidden": n.hidden,
                "top_num_layers": self.top_num_layers, "top_filters": self.top_prior_filters,
                "condition_filters": self.condition_filters}

    def _condition(self, top):
        """The bottom prior's condition map ``[B, hb, wb, condition_filters]`` of top grids ``[B, ht, wt]``."""
        one_hot = tf.one_hot(tf.cast(top, tf.int32), self.autoencoder.num_top_codes, dtype=tf.float32)
        return tf.cast(self.condition_network(one_hot), tf.float32)

    def _level_log_probs(self, codes):
        top, bottom = codes["top"], codes["bottom"]
        return {"top": self.top_prior.log_prob(top), "bottom": self.bottom_prior.log_prob(bottom, self._condition(top))}

    def prior_log_prob(self, codes):
        """Exact ``log p(t) + log p(b | t)`` of ``{"top": [B, ht, wt], "bottom": [B, hb, wb]}``, per example (nats)."""
        parts = self._level_log_probs(self.check_codes(codes))
        return parts["top"] + parts["bottom"]

    def _loss_terms(self, x, training=False):
        ae = self.autoencoder
        _, z_q_top, top, z_e_bottom = ae.encoder_outputs(x)
        bottom = ae.bottom_quantizer.indices(z_e_bottom)
        codes = {"top": tf.stop_gradient(top), "bottom": tf.stop_gradient(bottom)}
        output = ae.decoder_output(ae.top_quantizer.lookup(codes["top"]), ae.bottom_quantizer.lookup(codes["bottom"]))
        parts = self._level_log_probs(codes)
        return {"prior_nll": -(parts["top"] + parts["bottom"]), "top_nll": -parts["top"],
                "bottom_nll": -parts["bottom"],
                "reconstruction": tf.stop_gradient(ae._reconstruction_error(x, output))}

    def loss_weights(self):
        return {"top_nll": 1.0, "bottom_nll": 1.0}

    def _prior_codes(self, n, seed, temperature=1.0):
        """Ancestral draws: the top grid, then the bottom grid given it (two ``tf.while_loop`` s); every
        cell's logits divided by ``temperature``."""
        ae = self.autoencoder
        top = self.top_prior.sample(n, ae.top_grid, samplers.fold_seed(seed, 0), temperature=temperature)
        bottom = self.bottom_prior.sample(n, ae.bottom_grid, samplers.fold_seed(seed, 1),
                                          condition=self._condition(top), temperature=temperature)
        return {"top": top, "bottom": bottom}
