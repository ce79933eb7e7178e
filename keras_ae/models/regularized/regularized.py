"""Regularized autoencoders with ex-post density estimation (Ghosh et al. 2020).

Ghosh, Sajjadi, Vergari, Black & Schoelkopf, "From variational to deterministic autoencoders"
(ICLR 2020): a VAE whose encoder variance is held constant (the CV-VAE) is a deterministic
autoencoder trained with Gaussian noise on its code and an L2 penalty on the code; the RAE
replaces the noise by an explicit decoder regularizer. Neither has a prior worth sampling, so
after training a Gaussian mixture is fitted on the training codes (ex-post density estimation)
and ``sample`` draws codes from it.

The mixture lives in non-trainable weights, so it is saved with the model, and is sampled by
hand (inverse CDF of a uniform over the mixture weights, then ``mean + L @ eps``) so that the
export sampler uses ``tf.random.uniform``/``tf.random.normal`` and TFLite builtins only.
"""

import numpy as np
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.heads import gaussian
from keras_ae.models.deterministic.deterministic import Autoencoder
from keras_ae.models.steps import unpack_x

tfd = tfp.distributions

DECODER_REGULARIZERS = ("none", "l2", "gradient_penalty")
_ENCODE_BATCH = 1024


class DensityNotFittedError(RuntimeError, ValueError):
    """``sample`` was called before ``fit_density``: there is no code density to sample yet."""


class ExPostDensityAutoencoder(Autoencoder):
    """Autoencoder whose generative model is a Gaussian mixture fitted on its training codes.

    Shared by :class:`RAE` and :class:`ConstantVarianceVAE`: after ``fit``, ``fit_density(x_train)``
    fits ``p(z) = sum_k pi_k N(z; mu_k, Sigma_k)`` (scikit-learn ``GaussianMixture``, full
    covariances) on ``encode(x_train)`` and stores ``pi``, ``mu`` and ``chol(Sigma)`` in
    non-trainable weights; ``sample(n, seed)`` decodes draws from it.

    Args:
        density_components: the largest number of mixture components ``fit_density`` may fit
            (it fixes the shape of the stored weights), >= 1, default 10.
        other arguments: see :class:`~keras_ae.models.Autoencoder`.
    """

    is_generative = True

    def __init__(self, input_shape, latent_dim, density_components=10, **kwargs):
        density_components = _checks.check_positive_int(density_components, "density_components")
        super().__init__(input_shape, latent_dim, **kwargs)
        self.density_components = density_components
        k, d = self.density_components, self.latent_dim
        self.density_weights = self.add_weight(name="density_weights", shape=(k,), initializer="zeros",
                                               trainable=False, dtype="float32")
        self.density_means = self.add_weight(name="density_means", shape=(k, d), initializer="zeros",
                                             trainable=False, dtype="float32")
        self.density_cholesky = self.add_weight(name="density_cholesky", shape=(k, d, d), initializer="zeros",
                                                trainable=False, dtype="float32")
        # A weight rather than a Python flag, so a loaded model knows whether it was fitted.
        self.density_fitted = self.add_weight(name="density_fitted", shape=(), initializer="zeros",
                                              trainable=False, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(density_components=self.density_components)
        return config

    # -- ex-post density ------------------------------------------------------------------
    def training_codes(self, x_train):
        """``encode`` an array or a ``tf.data.Dataset`` of batches -> numpy ``[N, latent_dim]``."""
        if isinstance(x_train, tf.data.Dataset):
            batches = (unpack_x(batch) for batch in x_train)
        else:
            x_train = self.check_inputs(x_train, "x_train")
            batches = (x_train[i:i + _ENCODE_BATCH] for i in range(0, int(x_train.shape[0]), _ENCODE_BATCH))
        return np.concatenate([self.encode(batch).numpy() for batch in batches], axis=0)

    def fit_density(self, x_train, num_components=None, seed=0):
        """Fit the Gaussian mixture on the codes of ``x_train`` and store it in the model's weights.

        Args:
            x_train: training data ``[N, *input_shape]`` (array or ``tf.data.Dataset``).
            num_components: number of components, 1..``density_components``; default
                ``density_components``. Unused slots get weight 0 and are never drawn.
            seed: seed of the mixture's initialization (k-means), default 0.
        Returns:
            the fitted ``sklearn.mixture.GaussianMixture``.
        """
        from sklearn.mixture import GaussianMixture

        k = self.density_components if num_components is None else num_components
        if isinstance(k, bool) or int(k) != k or not 1 <= k <= self.density_components:
            raise ValueError(
                f"num_components must be an integer in [1, density_components={self.density_components}], got {k}"
            )
        k = int(k)
        codes = self.training_codes(x_train).astype(np.float64)
        if len(codes) < k:
            raise ValueError(f"fit_density needs at least num_components={k} examples, got {len(codes)}")
        gmm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed).fit(codes)
        weights = np.zeros(self.density_components)
        means = np.zeros((self.density_components, self.latent_dim))
        cholesky = np.zeros((self.density_components, self.latent_dim, self.latent_dim))
        # Unused slots go first: their cumulative weight is 0, so the inverse CDF skips them.
        pad = self.density_components - k
        weights[pad:] = gmm.weights_ / gmm.weights_.sum()
        means[pad:] = gmm.means_
        cholesky[pad:] = np.linalg.cholesky(gmm.covariances_)
        self.density_weights.assign(weights.astype(np.float32))
        self.density_means.assign(means.astype(np.float32))
        self.density_cholesky.assign(cholesky.astype(np.float32))
        self.density_fitted.assign(1.0)
        return gmm

    def _prior(self):
        """The fitted mixture as a ``tfd.MixtureSameFamily`` of full-covariance Gaussians (log_prob works).

        Unused slots (weight 0) get an identity Cholesky factor, so their log-density is finite
        and the mixture's is exactly that of the fitted components. Called eagerly (``prior()``)
        before ``fit_density``: :class:`DensityNotFittedError`.
        """
        self.check_density_fitted()
        unused = tf.equal(self.density_weights, 0.0)[:, None, None]
        cholesky = tf.where(unused, tf.eye(self.latent_dim, batch_shape=[self.density_components]),
                            self.density_cholesky)
        return tfd.MixtureSameFamily(tfd.Categorical(probs=self.density_weights),
                                     tfd.MultivariateNormalTriL(loc=self.density_means, scale_tril=cholesky))

    def post_fit(self, x_train, seed=0):
        """After training: fit the ex-post code density (:meth:`fit_density`) on ``x_train``."""
        return self.fit_density(x_train, seed=seed)

    def check_density_fitted(self):
        if not tf.executing_eagerly():
            return
        if float(self.density_fitted.numpy()) != 1.0:
            raise DensityNotFittedError(
                f"{type(self).__name__} has no code density yet: call model.fit_density(x_train) after "
                f"training, then sample"
            )

    def density_codes(self, uniform, normal):
        """Mixture codes ``[n, latent_dim]`` from noise: ``uniform`` ``[n]`` on [0, 1), ``normal`` ``[n, d]``.

        Component ``k = #{j < K - 1 : u >= cdf_j}`` (inverse CDF of the mixture weights; the last
        threshold is left out so rounding in ``cdf_{K-1}`` can never pick past the end), then
        ``z = mu_k + L_k eps``. Elementwise products and sums only: TFLite builtins.
        """
        cdf = tf.cumsum(self.density_weights)[:-1]  # [K - 1]
        component = tf.reduce_sum(tf.cast(uniform[:, None] >= cdf[None, :], tf.int32), axis=1)  # [n]
        means = tf.gather(self.density_means, component)  # [n, d]
        cholesky = tf.gather(self.density_cholesky, component)  # [n, d, d]
        return means + tf.reduce_sum(cholesky * normal[:, None, :], axis=-1)

    def sample_codes(self, n, seed=None):
        """``n`` codes from the fitted mixture; the same integer ``seed``, the same codes."""
        self.check_density_fitted()
        n = _checks.check_integer(n, "n", minimum=0)
        return self._sample_codes(n, samplers.stateless_seed(seed))

    def _sample_codes(self, n, seed, temperature=1.0):
        """``sample_codes`` unchecked: ``n`` may be a tensor (an export graph's input), ``seed`` any seed kind.

        At ``temperature`` ``T`` the component is drawn by its weight and its Gaussian noise is
        scaled: ``z = mu_k + T L_k e``, i.e. ``sum_k w_k N(mu_k, T^2 Sigma_k)``.
        """
        seeds = samplers.split_seed(seed, 2)
        n = tf.cast(n, tf.int32)
        uniform = samplers.uniform(tf.reshape(n, [1]), seeds[0])
        normal = samplers.normal(tf.stack([n, self.latent_dim]), seeds[1])
        return self.density_codes(uniform, tf.cast(temperature, tf.float32) * normal)

    def _sample(self, n, seed, temperature=1.0):
        """``n`` decoded draws from the ex-post code density ``[n, *input_shape]``."""
        self.check_density_fitted()
        return self._decode(self._sample_codes(n, seed, temperature))


@keras.saving.register_keras_serializable(package="keras_ae")
class RAE(ExPostDensityAutoencoder):
    """Regularized autoencoder (Ghosh et al. 2020): deterministic, with code and decoder penalties.

    Objective per example::

        reconstruction(x, D(E(x))) + beta * 0.5 * ||E(x)||^2 + decoder_weight * R(D)

    where ``R`` is chosen by ``decoder_regularizer``:

    - ``"l2"`` (RAE-L2): weight decay ``sum ||theta_D||^2`` over every decoder weight (kernels and
      biases of the decoder body and output layer);
    - ``"gradient_penalty"`` (RAE-GP): ``||J_D(z)||_F^2`` at ``z = E(x)``, the squared Frobenius
      norm of the Jacobian of the decoder's data-space output with respect to the code (the
      paper's ``||grad D(E(x))||^2`` for a vector-valued decoder), computed exactly in forward
      mode (one decoder pass over ``latent_dim`` copies of the batch);
    - ``"none"`` (the paper's plain "RAE": code penalty only).

    The paper's spectrally normalized decoder (RAE-SN) is not offered: Keras's
    ``SpectralNormalization`` updates its power iteration only when called with
    ``training=True``, which the shared bodies do not pass down.

    After training, ``fit_density(x_train)`` fits the Gaussian mixture that ``sample`` draws from
    (see :class:`ExPostDensityAutoencoder`).

    Args:
        beta: weight of the L2 code penalty, >= 0, default 1e-2.
        decoder_regularizer: ``"l2"`` (default), ``"gradient_penalty"`` or ``"none"``.
        decoder_weight: weight ``lambda`` of the decoder regularizer, >= 0, default 1e-4 (``"l2"``:
            per unit of ``sum ||theta||^2``; try ~1e-2 for ``"gradient_penalty"``).
        density_components: see :class:`ExPostDensityAutoencoder`, default 10.
        other arguments: see :class:`~keras_ae.models.Autoencoder` (``reconstruction``
            ``"mse"`` or ``"bernoulli"``, bodies, ``seed``).

    Example::

        model = RAE(input_shape=(8, 8, 1), latent_dim=16, decoder_regularizer="gradient_penalty",
                    decoder_weight=1e-2)
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=50)
        model.fit_density(x_train, num_components=10)
        images = model.sample(64, seed=0)
    """

    TERMS = ("reconstruction", "code_penalty", "decoder_penalty")
    supports_xla = False  # the gradient penalty differentiates inside the step

    def __init__(self, input_shape, latent_dim, beta=1e-2, decoder_regularizer="l2", decoder_weight=1e-4,
                 **kwargs):
        _checks.check_number(beta, "beta", minimum=0)
        if decoder_regularizer not in DECODER_REGULARIZERS:
            raise ValueError(f"decoder_regularizer must be one of {DECODER_REGULARIZERS}, got {decoder_regularizer!r}")
        _checks.check_number(decoder_weight, "decoder_weight", minimum=0)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.beta = float(beta)
        self.decoder_regularizer = decoder_regularizer
        self.decoder_weight = float(decoder_weight)

    def get_config(self):
        config = super().get_config()
        config.update(beta=self.beta, decoder_regularizer=self.decoder_regularizer,
                      decoder_weight=self.decoder_weight)
        return config

    def loss_weights(self):
        weights = {"reconstruction": 1.0, "code_penalty": self.beta}
        if self.decoder_regularizer != "none":
            weights["decoder_penalty"] = self.decoder_weight
        return weights

    def decoder_variables(self):
        return self.decoder_body.trainable_weights + self.output_layer.trainable_weights

    def gradient_penalty(self, z):
        """Per-example ``||J_D(z)||_F^2`` of the data-space decoder at codes ``z`` ``[B, latent_dim]``."""
        return objectives.jacobian_frobenius_sq_forward(lambda c: self.to_data_space(self.decoder_output(c)), z)

    def decoder_penalty(self, z):
        if self.decoder_regularizer == "l2":
            return objectives.squared_weight_norm(self.decoder_variables(), z)
        if self.decoder_regularizer == "gradient_penalty":
            return self.gradient_penalty(z)
        return tf.zeros([tf.shape(z)[0]], tf.float32)

    def _loss_terms(self, x, training=False):
        z, reconstruction = self.code_and_reconstruction_error(x, training=training)
        return {
            "reconstruction": reconstruction,
            "code_penalty": objectives.l2_code_penalty(z),
            "decoder_penalty": self.decoder_penalty(z),
        }


@keras.saving.register_keras_serializable(package="keras_ae")
class ConstantVarianceVAE(ExPostDensityAutoencoder):
    """Constant-variance VAE (CV-VAE, Ghosh et al. 2020): Gaussian noise on a deterministic code.

    The encoder gives the mean ``mu = E(x)``; in training the decoder sees
    ``z = mu + noise_scale * eps``, ``eps ~ N(0, I)``. Objective per example::

        reconstruction(x, D(z)) + beta * KL(N(mu, noise_scale^2 I) || N(0, I))

    with ``KL = 0.5 ||mu||^2 + (d / 2)(s^2 - 1 - log s^2)``, ``s = noise_scale``: the RAE code
    penalty plus a constant, so the noise alone regularizes the decoder. Evaluation, ``encode``,
    ``reconstruct`` and ``score`` use ``mu`` (no noise), so they are deterministic. Sampling
    uses the ex-post mixture (see :class:`ExPostDensityAutoencoder`), as in the paper.

    Args:
        noise_scale: standard deviation ``s`` of the code noise, > 0, default 0.1.
        beta: weight of the KL term, >= 0, default 1.0 (with ``reconstruction="bernoulli"``: the
            ELBO of a VAE whose encoder variance is fixed).
        density_components: see :class:`ExPostDensityAutoencoder`, default 10.
        other arguments: see :class:`~keras_ae.models.Autoencoder`.

    Example::

        model = ConstantVarianceVAE(input_shape=(784,), latent_dim=16, reconstruction="bernoulli")
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=20)
        model.fit_density(x_train)
        images = model.sample(16, seed=1)
    """

    TERMS = ("reconstruction", "kl")

    def __init__(self, input_shape, latent_dim, noise_scale=0.1, beta=1.0, **kwargs):
        _checks.check_number(noise_scale, "noise_scale", minimum=0, exclusive_minimum=True)
        _checks.check_number(beta, "beta", minimum=0)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.noise_scale = float(noise_scale)
        self.beta = float(beta)

    def get_config(self):
        config = super().get_config()
        config.update(noise_scale=self.noise_scale, beta=self.beta)
        return config

    def loss_weights(self):
        return {"reconstruction": 1.0, "kl": self.beta}

    def noisy_code_distribution(self, x):
        """``q(z|x) = N(E(x), noise_scale^2 I)``."""
        mean = self._encode(x)
        return gaussian(mean, tf.fill(tf.shape(mean), self.noise_scale))

    def _loss_terms(self, x, training=False):
        q = self.noisy_code_distribution(x)
        mean = q.mean()
        z = q.sample(seed=self.noise_seed(stream=1)) if training else mean
        # Batch shape [B] like q, so the KL is one number per example.
        prior = gaussian(tf.zeros_like(mean), tf.ones_like(mean))
        return {
            "reconstruction": self.reconstruction_error(x, self.decoder_output(z)),
            "kl": objectives.kl_divergence(q, prior, analytic=True),
        }
