"""Deterministic autoencoders: plain, linear (PCA-like), sparse, denoising and contractive.

All share one encoder ``x -> z = f(x)`` and decoder ``z -> x_hat = g(z)`` and differ in the
penalty added to the reconstruction term, so the variants are constructor arguments of one
network and small subclasses that add a term (never a copy of the loss).
"""

import keras
import tensorflow as tf

from keras_ae import _checks, objectives
from keras_ae.layers.bodies import fan_in_bias_initializer, new_kernel_initializer
from keras_ae.layers.heads import ParamProjection
from keras_ae.models.base import BaseAutoencoder

RECONSTRUCTIONS = ("mse", "bernoulli")
OUTPUT_ACTIVATIONS = ("linear", "sigmoid")
CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper")
SPARSITY_PENALTIES = ("l1", "kl")


@keras.saving.register_keras_serializable(package="keras_ae")
class Autoencoder(BaseAutoencoder):
    """Deterministic autoencoder ``x_hat = g(f(x))`` (Hinton & Salakhutdinov 2006).

    Objective per example: ``||x - g(f(x))||^2`` (``reconstruction="mse"``) or the Bernoulli
    cross-entropy ``-sum[x log x_hat + (1 - x) log(1 - x_hat)]`` with ``x_hat = sigmoid(logits)``
    (``reconstruction="bernoulli"``, data in [0, 1]). Undercomplete when ``latent_dim`` is below
    the data size, overcomplete above it (then pair it with a penalty: sparse, denoising,
    contractive).

    With ``hidden_units=()`` and ``activation="linear"`` it is the linear autoencoder, whose
    optimum under squared error spans the principal subspace (Baldi & Hornik 1989).

    Args:
        input_shape, latent_dim, architecture, hidden_units, filters, activation, seed: see
            :class:`~keras_ae.models.base.BaseAutoencoder`.
        reconstruction: ``"mse"`` (default) or ``"bernoulli"``.
        code_activation: activation of the code layer, default ``"linear"``.
        output_activation: the squared error's output non-linearity: ``"linear"`` (default) or
            ``"sigmoid"``, which bounds the reconstruction to (0, 1) and makes the model refuse data
            outside [0, 1] (the Bernoulli reconstruction has its own sigmoid, so only ``"linear"`` goes
            with it). Measured with ``benchmarks/peer_parity.py`` (MNIST subset, statically binarized,
            784-512-16, batch 100, Adam 1e-3, 30 epochs, seeds 0 and 1): the RAE-L2's summed test
            squared error was 29.76 with the linear output and 27.51 / 27.11 with the sigmoid, against
            pythae's 26.90 (whose MLP decoder ends in a sigmoid).

    Example::

        model = Autoencoder(input_shape=(8, 8, 1), latent_dim=16)
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10)
        z = model.encode(x_test)
    """

    #: the kernel initializer of ``reconstruction="bernoulli"`` when none is given: Keras's Glorot
    #: uniform. On ``ae-bce-digits`` (60 epochs, seeds 0, 1, 2) its test cross-entropy was 15.69 /
    #: 15.73 / 15.80 nats, against 15.94 / 15.96 / 15.97 with the library default (PyTorch's),
    #: which is better for the squared error (``ae-digits`` 0.00848 against 0.00874 MSE).
    BERNOULLI_KERNEL_INITIALIZER = "glorot_uniform"

    def __init__(self, input_shape, latent_dim, reconstruction="mse", code_activation="linear",
                 output_activation="linear", **kwargs):
        if kwargs.get("kernel_initializer") is None and reconstruction == "bernoulli":
            kwargs["kernel_initializer"] = self.BERNOULLI_KERNEL_INITIALIZER
        super().__init__(input_shape, latent_dim, **kwargs)
        _checks.check_choice(reconstruction, "reconstruction", RECONSTRUCTIONS)
        _checks.check_choice(output_activation, "output_activation", OUTPUT_ACTIVATIONS)
        if reconstruction == "bernoulli" and output_activation != "linear":
            raise ValueError(f"output_activation={output_activation!r} goes with reconstruction='mse': the Bernoulli "
                             f"reconstruction maps its logits through its own sigmoid")
        self.reconstruction = reconstruction
        self.output_activation = output_activation
        self.data_likelihood = reconstruction
        self.unit_interval_data = reconstruction == "bernoulli" or output_activation == "sigmoid"
        self.code_activation = code_activation
        self.encoder_body = self.make_encoder_body()
        self.code_layer = keras.layers.Dense(self.latent_dim, activation=code_activation, name="code",
                                             kernel_initializer=new_kernel_initializer(self.kernel_initializer))
        features = self.encoder_body.compute_output_shape((None,) + tuple(self.data_shape))
        self.code_layer.bias_initializer = fan_in_bias_initializer(self.code_layer, features)
        self.decoder_body = self.make_decoder_body()
        self.output_layer = ParamProjection(self.data_shape, name="output", kernel_initializer=self.kernel_initializer)

    def get_config(self):
        config = super().get_config()
        config.update(reconstruction=self.reconstruction, code_activation=self.code_activation,
                      output_activation=self.output_activation)
        return config

    def _encode(self, x):
        return self.code_layer(self.encoder_body(x))

    def decoder_output(self, z):
        """Code -> decoder output before the output non-linearity (logits for Bernoulli)."""
        return tf.cast(self.output_layer(self.decoder_body(z)), tf.float32)

    def to_data_space(self, output):
        return tf.sigmoid(output) if self.reconstruction == "bernoulli" or self.output_activation == "sigmoid" \
            else output

    def _decode(self, z, seed=None):
        return self.to_data_space(self.decoder_output(z))

    def reconstruction_error(self, x, output):
        if self.reconstruction == "bernoulli":
            return objectives.bernoulli_cross_entropy(x, output)
        return objectives.squared_error(x, self.to_data_space(output))

    def code_and_reconstruction_error(self, x, x_in=None, training=False):
        """Encode ``x_in`` (default ``x``) and measure the reconstruction against ``x``."""
        z = self._encode(x if x_in is None else x_in)
        return z, self.reconstruction_error(x, self.decoder_output(z))

    def _loss_terms(self, x, training=False):
        _, reconstruction = self.code_and_reconstruction_error(x, training=training)
        return {"reconstruction": reconstruction}


@keras.saving.register_keras_serializable(package="keras_ae")
class SparseAutoencoder(Autoencoder):
    """Autoencoder with a sparsity penalty on the code (Ng 2011; Makhzani & Frey 2013).

    Objective per example: ``reconstruction + weight * sparsity`` with

    - ``penalty="l1"``: ``sparsity = sum_j |z_j|``;
    - ``penalty="kl"``: sigmoid codes and ``sparsity = sum_j KL(rho || rho_hat_j)``, where
      ``rho_hat_j`` is the mean activation of unit j over the batch (the target-activation
      penalty of Ng's lecture notes).

    Args:
        penalty: ``"l1"`` (default) or ``"kl"``.
        sparsity_weight: weight of the penalty, >= 0, default 1e-3 (l1) — use ~0.1-3 for kl.
        target_activation: ``rho`` for ``penalty="kl"``, in (0, 1), default 0.05.
        other arguments: see :class:`Autoencoder`.
    """

    TERMS = ("reconstruction", "sparsity")
    #: Keras's Glorot uniform, not the library default (PyTorch's): on the digits recipes (60
    #: epochs, test objective, seeds 0, 1, 2) PyTorch's initializer gave 0.139 / 0.139 / 0.138
    #: against Glorot's 0.110 / 0.104 / 0.124 for the L1 penalty (``sparse-l1-digits``), and
    #: 0.771 / 0.753 / 0.796 against 0.591 / 0.546 / 0.602 for the KL penalty (``sparse-kl-digits``):
    #: the smaller initial codes settle into a sparser but worse reconstruction.
    default_kernel_initializer = "glorot_uniform"

    def __init__(self, input_shape, latent_dim, penalty="l1", sparsity_weight=1e-3, target_activation=0.05,
                 **kwargs):
        _checks.check_choice(penalty, "penalty", SPARSITY_PENALTIES)
        _checks.check_number(sparsity_weight, "sparsity_weight", minimum=0)
        _checks.check_number(target_activation, "target_activation", minimum=0, maximum=1,
                             exclusive_minimum=True, exclusive_maximum=True)
        if penalty != "kl" and target_activation != 0.05:
            raise ValueError(f"SparseAutoencoder does not use target_activation (got {target_activation!r}) with "
                             f"penalty={penalty!r}: it is the rho of penalty='kl'")
        if penalty == "kl":
            if kwargs.get("code_activation", "sigmoid") != "sigmoid":
                raise ValueError(f"penalty='kl' needs sigmoid codes (activations in (0, 1)), got code_activation="
                                 f"{kwargs['code_activation']!r}")
            kwargs["code_activation"] = "sigmoid"
        super().__init__(input_shape, latent_dim, **kwargs)
        self.penalty = penalty
        self.sparsity_weight = float(sparsity_weight)
        self.target_activation = float(target_activation)

    def get_config(self):
        config = super().get_config()
        config.update(penalty=self.penalty, sparsity_weight=self.sparsity_weight,
                      target_activation=self.target_activation)
        if self.penalty == "kl":
            config.pop("code_activation")
        return config

    def loss_weights(self):
        return {"reconstruction": 1.0, "sparsity": self.sparsity_weight}

    def _loss_terms(self, x, training=False):
        z, reconstruction = self.code_and_reconstruction_error(x, training=training)
        if self.penalty == "l1":
            sparsity = objectives.l1_penalty(z)
        else:
            sparsity = objectives.target_activation_penalty(z, self.target_activation)
        return {"reconstruction": reconstruction, "sparsity": sparsity}


@keras.saving.register_keras_serializable(package="keras_ae")
class DenoisingAutoencoder(Autoencoder):
    """Denoising autoencoder (Vincent et al. 2008, 2010): reconstruct clean ``x`` from ``c(x)``.

    Objective per example: ``reconstruction(x, g(f(c(x))))`` with the corruption ``c`` applied
    in training only (evaluation, ``encode`` and ``reconstruct`` see the input as given):

    - ``"gaussian"``: ``c(x) = x + noise_level * eps``, ``eps ~ N(0, I)``;
    - ``"masking"``: each value set to 0 with probability ``noise_level``;
    - ``"salt_and_pepper"``: each value set to 0 or 1 (equally likely) with probability ``noise_level``.

    Args:
        corruption: one of the above, default ``"gaussian"``.
        noise_level: standard deviation or probability, default 0.3; a probability must be < 1.
        other arguments: see :class:`Autoencoder`.
    """

    def __init__(self, input_shape, latent_dim, corruption="gaussian", noise_level=0.3, **kwargs):
        _checks.check_choice(corruption, "corruption", CORRUPTIONS)
        _checks.check_number(noise_level, "noise_level", minimum=0, maximum=None if corruption == "gaussian" else 1,
                             exclusive_maximum=True)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.corruption = corruption
        self.noise_level = float(noise_level)

    def get_config(self):
        config = super().get_config()
        config.update(corruption=self.corruption, noise_level=self.noise_level)
        return config

    def corrupt(self, x, seed):
        """Apply the corruption to ``x`` with a stateless ``seed`` (shape ``[2]``)."""
        return corrupt(x, self.corruption, self.noise_level, seed)

    def _loss_terms(self, x, training=False):
        x_in = self.corrupt(x, self.noise_seed(stream=1)) if training else x
        _, reconstruction = self.code_and_reconstruction_error(x, x_in, training=training)
        return {"reconstruction": reconstruction}


def corrupt(x, corruption, noise_level, seed):
    """Corrupt a batch (see :class:`DenoisingAutoencoder`); ``seed`` is a stateless ``[2]`` seed."""
    x = tf.cast(x, tf.float32)
    if corruption == "gaussian":
        return x + noise_level * tf.random.stateless_normal(tf.shape(x), seed)
    u = tf.random.stateless_uniform(tf.shape(x), seed)
    hit = u < noise_level
    if corruption == "masking":
        return tf.where(hit, tf.zeros_like(x), x)
    # salt_and_pepper: u / noise_level is uniform on [0, 1) given a hit; below 1/2 is pepper.
    salt = tf.cast(u >= 0.5 * noise_level, tf.float32)
    return tf.where(hit, salt, x)


@keras.saving.register_keras_serializable(package="keras_ae")
class ContractiveAutoencoder(Autoencoder):
    """Contractive autoencoder (Rifai et al. 2011).

    Objective per example: ``reconstruction + weight * ||J_f(x)||_F^2``, where ``J_f(x)`` is the
    Jacobian of the encoder ``f`` (data -> code) at ``x``, computed exactly with a batch
    Jacobian (no closed form assumed, so any encoder depth or architecture works).

    Args:
        contractive_weight: weight of the penalty, >= 0, default 0.1.
        other arguments: see :class:`Autoencoder`.
    """

    TERMS = ("reconstruction", "contractive")
    supports_xla = False  # the batch Jacobian differentiates inside the step

    def __init__(self, input_shape, latent_dim, contractive_weight=0.1, **kwargs):
        _checks.check_number(contractive_weight, "contractive_weight", minimum=0)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.contractive_weight = float(contractive_weight)

    def get_config(self):
        config = super().get_config()
        config.update(contractive_weight=self.contractive_weight)
        return config

    def loss_weights(self):
        return {"reconstruction": 1.0, "contractive": self.contractive_weight}

    def contractive_penalty(self, x):
        """Per-example ``||J_f(x)||_F^2``."""
        return objectives.jacobian_frobenius_sq(self._encode, x)

    def _loss_terms(self, x, training=False):
        _, reconstruction = self.code_and_reconstruction_error(x, training=training)
        return {"reconstruction": reconstruction, "contractive": self.contractive_penalty(x)}
