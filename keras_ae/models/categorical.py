"""The categorical VAE: a discrete latent of N one-hot variables, relaxed with Gumbel-softmax in training."""

import keras
import tensorflow as tf

from keras_ae import _checks
from keras_ae.layers.heads import RelaxedCategoricalHead, categorical, check_temperature, gumbel_noise, \
    gumbel_softmax, one_hot_argmax
from keras_ae.models.base import BaseAutoencoder
from keras_ae.models.vae import VAE


@keras.saving.register_keras_serializable(package="keras_ae")
class CategoricalVAE(VAE):
    """VAE with ``num_variables`` categorical latents of ``num_classes`` classes (Jang et al. 2017).

    Objective per example (minimised)::

        E_q[-log p(x | y~)] + beta * kl_weight * sum_n KL(Cat(pi_n(x)) || Cat(1/K))

    where in training ``y~_n = softmax((log pi_n + g_n) / tau)``, ``g_n`` Gumbel noise, is the
    Gumbel-softmax relaxation of the one-hot ``y_n`` (straight-through one-hot values with
    ``straight_through=True``), ``tau`` is the ``temperature`` variable that
    :class:`keras_ae.callbacks.TemperatureAnnealing` anneals, and the KL to the uniform prior is
    exact. At evaluation the codes are exact one-hot samples (Gumbel-max), so the reported
    ``elbo`` and ``log_likelihood`` are those of the discrete model; ``encode`` gives the one-hot
    argmax of each variable and ``sample`` decodes one-hot prior samples. Codes are the
    concatenated one-hot vectors: ``latent_dim = num_variables * num_classes``.

    Args:
        input_shape, architecture, hidden_units, filters, activation, seed: see
            :class:`~keras_ae.models.base.BaseAutoencoder`.
        num_variables: N >= 1, default 20.
        num_classes: K >= 2, default 10.
        temperature: initial Gumbel-softmax temperature, > 0, default 1.0.
        straight_through: one-hot forward values with relaxed gradients in training, default False.
        likelihood, beta, free_bits, num_samples: see :class:`~keras_ae.models.vae.VAE`
            (``free_bits`` floors the KL of each categorical variable).

    Example::

        model = CategoricalVAE(input_shape=(784,), num_variables=30, num_classes=10, hidden_units=(512, 256))
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=20, callbacks=[keras_ae.callbacks.TemperatureAnnealing(rate=1e-4)])
    """

    def __init__(self, input_shape, num_variables=20, num_classes=10, temperature=1.0, straight_through=False,
                 **kwargs):
        _checks.check_positive_int(num_variables, "num_variables")
        _checks.check_integer(num_classes, "num_classes", minimum=2)
        check_temperature(temperature)
        kwargs.pop("latent_dim", None)
        # Plain attributes before the base constructor: it calls build_latent, which needs them.
        self.num_variables = int(num_variables)
        self.num_classes = int(num_classes)
        self.initial_temperature = float(temperature)
        self.straight_through = bool(straight_through)
        super().__init__(input_shape, self.num_variables * self.num_classes, **kwargs)

    #: one-hot codes: Hamiltonian Monte Carlo cannot move them, so no ``log_likelihood(method="ais")``
    _ais_log_likelihood = BaseAutoencoder._ais_log_likelihood

    def build_latent(self):
        """The encoder: body, relaxed one-hot head, and the temperature a callback anneals."""
        self.temperature = self.add_weight(name="temperature", shape=(), trainable=False,
                                           initializer=keras.initializers.Constant(self.initial_temperature),
                                           aggregation="only_first_replica")
        self.encoder_body = self.make_encoder_body()
        self.encoder_head = RelaxedCategoricalHead(self.num_variables, self.num_classes,
                                                   self.initial_temperature, name="encoder_head",
                                                   kernel_initializer=self.kernel_initializer)

    def get_config(self):
        config = super().get_config()
        config.pop("latent_dim")
        config.update(num_variables=self.num_variables, num_classes=self.num_classes,
                      temperature=self.initial_temperature, straight_through=self.straight_through)
        return config

    def _grouped(self, z):
        # [..., N * K] -> [..., N, K]
        return tf.reshape(z, tf.concat([tf.shape(z)[:-1], [self.num_variables, self.num_classes]], 0))

    def _flat(self, y):
        # [..., N, K] -> [..., N * K]
        return tf.reshape(y, tf.concat([tf.shape(y)[:-2], [self.latent_dim]], 0))

    def _posterior(self, x):
        """``q(y|x)``: independent one-hot categoricals, batch ``[B]``, event ``[N, K]``."""
        return categorical(self.encoder_head.logits(self.encoder_body(x)))

    def _prior(self):
        """Uniform one-hot categoricals, event ``[N, K]``."""
        return categorical(tf.zeros([self.num_variables, self.num_classes]))

    def _logits(self, q):
        return q.distribution.logits_parameter()

    def posterior_code(self, q):
        """The one-hot argmax of each variable, flattened ``[B, N * K]``."""
        return self._flat(one_hot_argmax(self._logits(q)))

    def draw_codes(self, q, n, seed, training=False):
        """``[n, B, N * K]``: relaxed (training) or exact one-hot (Gumbel-max) samples."""
        logits = self._logits(q)
        logits = tf.broadcast_to(logits[None], tf.concat([[n], tf.shape(logits)], 0))  # [n, B, N, K]
        if training:
            y = gumbel_softmax(logits, self.temperature, seed=seed, hard=self.straight_through)
        else:
            y = one_hot_argmax(logits + gumbel_noise(tf.shape(logits), seed))
        return self._flat(y)

    def latent_log_probs(self, q, z):
        y = self._grouped(z)
        return q.log_prob(y), self._prior().log_prob(y)

    def _prior_codes(self, n, seed):
        return self._flat(self._prior().sample(n, seed=seed))

    def _sample_for_export(self, n):
        """One-hot argmax of ``tf.random.uniform`` Gumbel noise (the uniform prior), decoded."""
        noise = gumbel_noise(tf.stack([tf.cast(n, tf.int32), self.num_variables, self.num_classes]))
        return self._decode(self._flat(one_hot_argmax(noise)))

    def _encode_outputs(self, x):
        """``{"code", "probabilities"}``: one-hot argmax codes and the posterior class probabilities."""
        q = self._posterior(x)
        return {"code": self.posterior_code(q), "probabilities": self._flat(tf.nn.softmax(self._logits(q)))}
