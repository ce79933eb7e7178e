"""DRAW: the Deep Recurrent Attentive Writer (Gregor et al. 2015).

An LSTM encoder and an LSTM decoder run for ``T`` steps and build the image on a canvas, a little
at every step. With attention (the paper's model) the encoder reads an ``N x N`` glimpse of the
image and of the error image, and the decoder writes an ``N x N`` patch, each through a Gaussian
filterbank placed by a linear layer of the decoder state (:mod:`keras_ae.layers.attention`);
without attention it reads the whole images and writes a whole-image update.

For ``t = 1 .. T`` (``c_0 = 0`` and zero LSTM states)::

    x^_t      = x - sigmoid(c_{t-1})                       error image
    r_t       = read(x, x^_t, h^dec_{t-1})
    h^enc_t   = LSTM^enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])
    z_t       ~ q(z_t | h^enc_t) = N(mu_t, diag(sigma_t^2))
    h^dec_t   = LSTM^dec(h^dec_{t-1}, z_t)
    c_t       = c_{t-1} + write(h^dec_t)

and ``p(x | z_1..T) = Bernoulli(sigmoid(c_T))``, ``p(z_t) = N(0, I)``. Generation runs the decoder
alone on prior draws. The loss per example is ``-log p(x | z_1..T) + sum_t KL(q(z_t | .) || N(0, I))``
with one reparameterized trajectory and the per-step KLs in closed form (the paper's ``L^x + L^z``).

The code is flat: ``z = [z_1, ..., z_T]``, ``T * latent_dim`` numbers; ``decode`` takes such a
vector and runs the ``T`` decoder steps.
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.attention import FilterbankRead, FilterbankWrite, image_shape_of
from keras_ae.layers.bodies import new_kernel_initializer
from keras_ae.layers.heads import GaussianHead, bernoulli
from keras_ae.models.base import BaseAutoencoder, Endpoint
from keras_ae.models.vae.vae import ais_log_likelihood

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="keras_ae")
class DRAW(BaseAutoencoder):
    """DRAW (Gregor et al. 2015): recurrent variational autoencoder that draws on a canvas in ``T`` steps.

    Objective per example (minimised): ``-log p(x | z_1..T) + sum_t KL(q(z_t | x, z_<t) || N(0, I))``
    with one reparameterized trajectory ``z_t ~ q(z_t | x, z_<t)``, the per-step KLs analytic, and
    ``p(x | z) = Bernoulli(sigmoid(c_T))``. Logged: ``reconstruction``, ``kl`` (the sum of the
    per-step KLs) and ``elbo``. :meth:`kl_per_step` gives the per-step KLs.

    The code is the flat concatenation ``[z_1, ..., z_T]`` (``T * latent_dim`` numbers, step-major):
    ``encode(x)`` returns the per-step posterior means along the *mean path* (the inference pass
    with ``z_t = mu_t`` at every step, since each step's posterior depends on the earlier codes),
    and ``decode(z)`` runs the ``T`` decoder steps on a flat code and returns ``sigmoid(c_T)``; so
    ``decode(encode(x))`` is ``reconstruct(x)``. ``posterior(x)`` is the product of the per-step
    Gaussians along the mean path (its mean is ``encode(x)``): the true ``q(z_1..T | x)`` is
    autoregressive, so that product is its density only at the mean path itself; the importance
    weights (:meth:`log_importance_weights`, :meth:`log_likelihood`) use the exact
    ``log q(z_1..T | x) = sum_t log q(z_t | x, z_<t)`` of each sampled trajectory.

    Args:
        input_shape: an image ``(H, W, C)`` or ``(H, W)``, or a flat square ``(H * W,)``; data in [0, 1].
        latent_dim: size of each step's code ``z_t``, default 10 (the code has ``steps * latent_dim`` numbers).
        steps: ``T``, the number of glimpses / canvas updates, default 10.
        hidden_units: LSTM sizes: ``(units,)`` for both, or ``(encoder units, decoder units)``; default ``(256,)``.
        attention: True (default): Gaussian filterbank read and write; False: read the whole image
            and error image, write a whole-image update (the paper's "no attention" DRAW).
        read_size: ``N`` of the read glimpse, default 2 (the paper's MNIST model).
        write_size: ``N`` of the write patch, default 5 (the paper's MNIST model).
        posterior_min_scale: floor of each posterior scale, default 1e-4.
        kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder` (the dense
            layers; the LSTM cells keep Keras's defaults: Glorot kernels, orthogonal recurrent
            kernels, forget-gate bias 1). ``architecture``, ``filters``, ``activation``,
            ``encoder`` and ``decoder`` are refused (DRAW's networks are its LSTM cells).

    Example::

        model = DRAW(input_shape=(28, 28, 1), latent_dim=10, steps=16, hidden_units=(256,))
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10)
        canvases = model.sample_sequence(8, seed=0)        # [8, T, 28, 28, 1]: the canvas after each step
        log_px = model.log_likelihood(x_test[:100], num_samples=1000)
    """

    TERMS = ("reconstruction", "kl", "elbo")
    is_generative = True
    is_probabilistic = True
    unit_interval_data = True
    data_likelihood = "bernoulli"
    #: No XLA: the train step unrolls ``T`` LSTM steps, and its XLA compilation is slow and did not
    #: pay on the project's 2-core CPU (``draw-mnist``'s 16 steps: 204 s of compilation against
    #: 106 s of graph tracing without XLA, then 124 against 201 examples/s; on a loaded machine
    #: the fused 10-step XLA program had not compiled after 10 minutes).
    supports_xla = False
    UNUSED_ARGUMENTS = {name: "DRAW's networks are its LSTM cells (set hidden_units)"
                        for name in ("architecture", "filters", "activation", "encoder", "decoder")}
    has_step_outputs = True

    def __init__(self, input_shape, latent_dim=10, steps=10, hidden_units=(256,), attention=True, read_size=2,
                 write_size=5, posterior_min_scale=1e-4, **kwargs):
        steps = _checks.check_positive_int(steps, "steps")
        read_size = _checks.check_positive_int(read_size, "read_size")
        write_size = _checks.check_positive_int(write_size, "write_size")
        _checks.check_number(posterior_min_scale, "posterior_min_scale", minimum=0)
        if not isinstance(attention, (bool, np.bool_)):
            raise ValueError(f"attention must be True or False, got {attention!r}")
        super().__init__(input_shape, latent_dim, hidden_units=hidden_units, **kwargs)
        if len(self.hidden_units) not in (1, 2):
            raise ValueError(f"hidden_units must be (units,) or (encoder units, decoder units), got {self.hidden_units}")
        self.image_shape = image_shape_of(self.data_shape)
        if self.image_shape is None:
            raise ValueError(f"DRAW needs images: input_shape (H, W, C), (H, W) or a flat square (H * W,), "
                             f"got {self.data_shape}")
        self.num_steps = steps
        self.attention = bool(attention)
        self.read_size = read_size
        self.write_size = write_size
        self.posterior_min_scale = float(posterior_min_scale)
        self.encoder_units, self.decoder_units = int(self.hidden_units[0]), int(self.hidden_units[-1])
        self.encoder_cell = keras.layers.LSTMCell(self.encoder_units, name="encoder_cell")
        self.decoder_cell = keras.layers.LSTMCell(self.decoder_units, name="decoder_cell")
        self.posterior_head = GaussianHead((latent_dim,), scale="learned", min_scale=self.posterior_min_scale,
                                           kernel_initializer=self.kernel_initializer, name="posterior_head")
        if self.attention:
            self.reader = FilterbankRead(self.image_shape, read_size, self.kernel_initializer, name="read")
            self.writer = FilterbankWrite(self.image_shape, write_size, self.kernel_initializer, name="write")
        else:
            self.reader = None
            self.writer = keras.layers.Dense(math.prod(self.image_shape), name="write",
                                             kernel_initializer=new_kernel_initializer(self.kernel_initializer))

    def get_config(self):
        config = super().get_config()
        config.update(steps=self.num_steps, attention=self.attention, read_size=self.read_size,
                      write_size=self.write_size, posterior_min_scale=self.posterior_min_scale)
        return config

    # -- specs and the prior --------------------------------------------------------------------
    @property
    def code_size(self):
        """``T * latent_dim``: the numbers in one flat code."""
        return self.num_steps * self.latent_dim

    @property
    def code_spec(self):
        """The flat code ``[z_1, ..., z_T]``: ``(steps * latent_dim,)`` float32."""
        return tf.TensorSpec((self.code_size,), tf.float32, name="z")

    def _prior(self):
        """``p(z_1..T) = prod_t N(z_t; 0, I)``: a standard normal over the flat code."""
        return tfd.Independent(tfd.Normal(tf.zeros([self.code_size]), 1.0), reinterpreted_batch_ndims=1)

    def _code_distribution(self, loc, scale):
        """Per-step Gaussians ``[..., T, d]`` as one diagonal Gaussian over flat codes ``[..., T * d]``."""
        flat = tf.concat([tf.shape(loc)[:-2], [self.code_size]], 0)
        return tfd.Independent(tfd.Normal(tf.reshape(loc, flat), tf.reshape(scale, flat)), reinterpreted_batch_ndims=1)

    # -- the recurrence ---------------------------------------------------------------------------
    def _image(self, x):
        return tf.reshape(tf.cast(x, tf.float32), (-1,) + self.image_shape)

    def _zeros(self, batch, size):
        return tf.zeros(tf.stack([batch, size]))

    def _read(self, image, error, h_dec):
        if self.attention:
            return self.reader([image, error], h_dec)
        flat = math.prod(self.image_shape)
        return tf.concat([tf.reshape(image, [-1, flat]), tf.reshape(error, [-1, flat])], axis=-1)

    def _write(self, h_dec):
        return tf.reshape(tf.cast(self.writer(h_dec), tf.float32), (-1,) + self.image_shape)

    def _decoder_step(self, z_t, state, canvas):
        h_dec, state = self.decoder_cell(z_t, state)
        return h_dec, state, canvas + self._write(h_dec)

    def _infer(self, x, seed=None, keep_canvases=False):
        """The inference pass over a batch ``x``: ``{"loc", "scale", "z"}`` ``[b, T, d]``, ``"logits"`` (``c_T``).

        ``seed``: a stateless seed, step ``t`` drawing ``z_t = mu_t + sigma_t * eps`` with
        ``eps`` from ``fold_seed(seed, t)``; None: the mean path, ``z_t = mu_t``.
        ``keep_canvases``: also ``"canvases"`` ``[b, T, H, W, C]``, the logits ``c_t`` after each step.
        """
        image = self._image(x)
        batch = tf.shape(image)[0]
        canvas = tf.zeros_like(image)
        enc_state = [self._zeros(batch, self.encoder_units)] * 2
        dec_state = [self._zeros(batch, self.decoder_units)] * 2
        h_dec = dec_state[0]
        locs, scales, codes, canvases = [], [], [], []
        for t in range(self.num_steps):  # unrolled: T is fixed, and XLA fuses the small ops
            error = image - tf.sigmoid(canvas)
            glimpse = self._read(image, error, h_dec)
            h_enc, enc_state = self.encoder_cell(tf.concat([glimpse, h_dec], axis=-1), enc_state)
            loc, scale = self.posterior_head.parameters(h_enc)
            if seed is None:
                z = loc
            else:
                z = loc + scale * samplers.normal(tf.shape(loc), samplers.fold_seed(seed, t))
            h_dec, dec_state, canvas = self._decoder_step(z, dec_state, canvas)
            locs.append(loc)
            scales.append(scale)
            codes.append(z)
            canvases.append(canvas)
        out = {"loc": tf.stack(locs, axis=1), "scale": tf.stack(scales, axis=1), "z": tf.stack(codes, axis=1),
               "logits": canvas}
        if keep_canvases:
            out["canvases"] = tf.stack(canvases, axis=1)
        return out

    def _generate(self, z, keep_canvases=False):
        """The decoder alone on flat codes ``[b, T * d]``: ``c_T`` ``[b, H, W, C]`` (and every ``c_t`` ``[b, T, H, W, C]``)."""
        z = tf.reshape(tf.cast(z, tf.float32), [-1, self.num_steps, self.latent_dim])
        batch = tf.shape(z)[0]
        canvas = tf.zeros(tf.concat([[batch], self.image_shape], 0))
        state = [self._zeros(batch, self.decoder_units)] * 2
        canvases = []
        for t in range(self.num_steps):
            _, state, canvas = self._decoder_step(z[:, t], state, canvas)
            canvases.append(canvas)
        if keep_canvases:
            return canvas, tf.stack(canvases, axis=1)
        return canvas

    def _as_data(self, image):
        """``[b, H, W, C]`` -> ``[b, *input_shape]``."""
        return tf.reshape(image, (-1,) + self.data_shape)

    def _log_px(self, x, logits):
        """``log p(x | c_T)`` ``[b]``: Bernoulli of ``sigmoid(c_T)``."""
        return -objectives.bernoulli_cross_entropy(self._image(x), logits)

    # -- hooks of the contract ----------------------------------------------------------------------
    def _posterior(self, x):
        """The per-step Gaussians along the mean path, as one diagonal Gaussian over flat codes (see the class)."""
        out = self._infer(x)
        return self._code_distribution(out["loc"], out["scale"])

    def _likelihood(self, z):
        """``p(x | z_1..T) = Bernoulli(sigmoid(c_T))`` over the data shape."""
        return bernoulli(self._as_data(self._generate(z)))

    def _encode(self, x):
        """The per-step posterior means along the mean path, flat ``[B, T * latent_dim]`` (step-major)."""
        return tf.reshape(self._infer(x)["loc"], [-1, self.code_size])

    def _encode_outputs(self, x):
        """``{"code", "mean", "scale"}``: the mean-path means (twice) and the per-step posterior scales, flat."""
        out = self._infer(x)
        mean = tf.reshape(out["loc"], [-1, self.code_size])
        return {"code": mean, "mean": mean, "scale": tf.reshape(out["scale"], [-1, self.code_size])}

    def _decode(self, z, seed=None):
        """``sigmoid(c_T)`` after the ``T`` decoder steps on the flat code ``z``."""
        return self._as_data(tf.sigmoid(self._generate(z)))

    def _reconstruct(self, x):
        """``sigmoid(c_T)`` of the mean-path inference pass (equal to ``decode(encode(x))``)."""
        return self._as_data(tf.sigmoid(self._infer(x)["logits"]))

    def _score(self, x):
        """Deterministic negative ELBO along the mean path: ``-log p(x | z = mu) + sum_t KL_t`` (as the VAE's score)."""
        out = self._infer(x)
        return -self._log_px(x, out["logits"]) + self.kl(self._code_distribution(out["loc"], out["scale"]))

    def _prior_codes(self, n, seed, temperature=1.0):
        """Standard-normal flat codes scaled by ``temperature`` (``z = T e``)."""
        return tf.cast(temperature, tf.float32) * samplers.normal(tf.stack([tf.cast(n, tf.int32), self.code_size]),
                                                                  seed)

    def export_endpoints(self):
        """The contract's signatures plus ``canvases``: the flat code -> ``sigmoid(c_t)`` after every step."""
        endpoints = super().export_endpoints()
        decode = endpoints["decode"]
        endpoints["canvases"] = Endpoint(lambda z: {"canvases": self._canvas_sequence(z)}, decode.inputs,
                                         probe=decode.probe)
        return endpoints

    # -- per-step outputs ----------------------------------------------------------------------------
    def _canvas_sequence(self, z):
        """``sigmoid(c_t)`` after each decoder step for flat codes ``z``: ``[B, T, *input_shape]``
        (the public ``canvas_sequence`` and ``sample_sequence`` of the base class call it)."""
        _, canvases = self._generate(z, keep_canvases=True)
        return tf.reshape(tf.sigmoid(canvases), (-1, self.num_steps) + self.data_shape)

    def kl_per_step(self, x, num_samples: int = 1, seed=None) -> tf.Tensor:
        """``KL(q(z_t | x, z_<t) || N(0, I))`` per example and step ``[B, T]``, averaged over ``num_samples`` trajectories.

        Its sum over the steps is the ``kl`` loss term (for the same trajectories).
        """
        record = self.importance_samples(x, num_samples, seed)
        return tf.reduce_mean(self.step_kl(record.posterior), axis=0)

    def step_kl(self, q):
        """Analytic per-step KLs ``[..., T]`` of a posterior over flat codes (batch ``[...]``) against ``N(0, I)``."""
        normal = q.distribution
        kl = tfd.kl_divergence(tfd.Normal(normal.loc, normal.scale), tfd.Normal(0.0, 1.0))  # [..., T * d]
        shape = tf.concat([tf.shape(kl)[:-1], [self.num_steps, self.latent_dim]], 0)
        return tf.reduce_sum(tf.reshape(kl, shape), axis=-1)

    def kl(self, q, seed=None):
        """``sum_t KL_t`` ``[B]`` of a posterior from :meth:`posterior` (batch ``[B]``) or an importance record (``[k, B]``, averaged over ``k``)."""
        total = tf.reduce_sum(self.step_kl(q), axis=-1)
        while total.shape.rank > 1:
            total = tf.reduce_mean(total, axis=0)
        return total

    # -- importance weights ----------------------------------------------------------------------
    def _importance_samples(self, x, num_samples, seed, training=False):
        """``k`` trajectories ``z_t ~ q(z_t | x, z_<t)``: ``log p(x | z)``, ``log p(z)``, ``log q(z | x)`` each ``[k, B]``.

        ``log q`` is the exact ``sum_t log N(z_t; mu_t, sigma_t)`` of each trajectory; the record's
        ``posterior`` holds those per-step Gaussians (batch ``[k, B]``) and ``codes`` the flat draws.
        """
        x = tf.cast(x, tf.float32)
        batch = tf.shape(x)[0]
        x_rep = tf.reshape(tf.broadcast_to(x[None], tf.concat([[num_samples], tf.shape(x)], 0)),
                           (-1,) + self.data_shape)  # [k * B, ...], sample-major
        out = self._infer(x_rep, seed=seed)

        def per_sample(t):  # [k * B, ...] -> [k, B, ...]
            return tf.reshape(t, tf.concat([[num_samples, batch], tf.shape(t)[1:]], 0))

        q = self._code_distribution(per_sample(out["loc"]), per_sample(out["scale"]))
        z = per_sample(tf.reshape(out["z"], [-1, self.code_size]))
        log_px = per_sample(self._log_px(x_rep, out["logits"]))
        return objectives.ImportanceSamples(log_px, self._prior().log_prob(z), q.log_prob(z), q, z)

    def log_prob_of_codes(self, x, z):
        """``log p(x | z)`` ``[n, B]`` for flat codes ``z`` ``[n, B, T * d]`` of a batch ``x`` ``[B, ...]``."""
        n, batch = tf.shape(z)[0], tf.shape(z)[1]
        x_rep = tf.reshape(tf.broadcast_to(x[None], tf.concat([[n], tf.shape(x)], 0)), (-1,) + self.data_shape)
        log_px = self._log_px(x_rep, self._generate(tf.reshape(z, [-1, self.code_size])))
        return tf.reshape(log_px, [n, batch])

    def _ais_log_likelihood(self, x, num_chains, num_steps, start, seed):
        """AIS from the prior or from the mean-path Gaussians (:meth:`posterior`) to ``p(x, z) = p(z) p(x | z)``:
        the VAE's (:func:`keras_ae.models.vae.vae.ais_log_likelihood`, which reads only ``_prior``, ``_posterior``
        and ``log_prob_of_codes``)."""
        return ais_log_likelihood(self, x, num_chains, num_steps, start, seed)

    # -- training --------------------------------------------------------------------------------
    def loss_weights(self):
        return {"reconstruction": 1.0, "kl": 1.0}

    def _loss_terms(self, x, training=False):
        record = self._importance_samples(x, 1, self.noise_seed(stream=1), training)
        reconstruction = -record.log_px_given_z[0]
        kl = self.kl(record.posterior)
        return {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl)}
