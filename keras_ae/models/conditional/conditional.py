"""Conditional VAE: encoder and decoder conditioned on a class label or any conditioning vector.

One family member here, :class:`ConditionalVAE` (Sohn et al. 2015); the semi-supervised models
(M2, ADGM, SDGM in :mod:`keras_ae.models.conditional.semisupervised`) build on it, since their generative
model ``p(x | y, z)`` and inference network ``q(z | x, y)`` are exactly this one's.

The condition ``y`` is a batch entry (``batch_extras_spec``): an int label in ``[0, num_classes)``
(turned into a one-hot vector) or a float vector of ``condition_dim`` values. It enters the
encoder with the data (concatenated to the flat input of an MLP, or as constant extra channels of
a convolutional encoder) and the decoder with the code (concatenated to ``z``). Every bound is the
VAE's, written once in :mod:`keras_ae.objectives` and :class:`~keras_ae.models.VAE`.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.bodies import EncoderBody
from keras_ae.models.base import SEED_SPEC, TEMPERATURE_SPEC, Endpoint
from keras_ae.models.vae.vae import VAE


@keras.saving.register_keras_serializable(package="keras_ae")
class ConditionalVAE(VAE):
    """Conditional variational autoencoder (Sohn, Lee & Yan 2015): ``p(x | y)`` with a latent ``z``.

    Objective per example (minimised), for data ``x`` with its condition ``y``::

        -ELBO(x | y) = E_q(z|x,y)[-log p(x | y, z)] + beta * KL(q(z | x, y) || p(z))

    with ``q(z|x,y) = N(mu(x, y), diag(sigma(x, y)^2))``, ``p(z) = N(0, I)`` and the decoder
    ``p(x | y, z)`` a likelihood head on ``[z, y]``; the terms, ``beta``, ``free_bits``,
    ``num_samples`` and the likelihoods are the :class:`~keras_ae.models.VAE`'s, and so are the
    parts: the prior ``p(z)`` does not depend on ``y`` (Sohn et al.'s CVAE as written here), so any
    prior part whose density is its own works (a learned mixture, a MAF); the VampPrior, which
    averages the posterior over pseudo-inputs without a condition, is refused. Sampling draws
    ``z ~ p(z)`` with the prior part's own sampler (also the exported ``sample``) and decodes it
    with the given condition, so one ``z`` across conditions keeps its "style" while the class changes.

    Every method that touches the encoder or the decoder takes the condition ``y``: a batch
    ``[B]`` of int labels (``num_classes``) or ``[B, condition_dim]`` floats. ``sample(n, seed,
    y=None)`` cycles through the classes (label ``i % num_classes``; basis vectors for vector
    conditions) when ``y`` is not given. ``log_likelihood(x)`` without ``y`` estimates
    ``log p(x) = log sum_y p(y) p(x | y)`` with a uniform ``p(y)`` by importance sampling the
    label along with ``z``; with ``y`` it is ``log p(x | y)``.

    Exported signatures: ``reconstruct(x, y)``, ``encode(x, y)``, ``decode(z, y)``,
    ``score(x, y)`` (the deterministic negative ELBO of the VAE), ``sample(y)`` (one fresh draw
    per condition; SavedModel and TFLite) and ``sample_seeded(y, seed)`` (equal to
    ``model.sample(len(y), seed, y=y)``; SavedModel only: TFLite has no stateless random kernel).

    Args:
        input_shape, latent_dim, architecture, hidden_units, filters, activation, seed and the
            VAE's arguments (likelihood, beta, free_bits, num_samples, ...): see
            :class:`~keras_ae.models.VAE`.
        num_classes: the condition is an int label in ``[0, num_classes)``, one-hot encoded.
        condition_dim: the condition is a float vector of this size (instead of ``num_classes``).
            Exactly one of the two is given.

    Example::

        model = ConditionalVAE(input_shape=(28, 28, 1), latent_dim=16, num_classes=10, hidden_units=(512,))
        model.compile(optimizer="adam")
        model.fit(tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(128), epochs=10)
        sevens = model.sample(8, seed=0, y=np.full(8, 7))

    Paper: K. Sohn, H. Lee, X. Yan, "Learning structured output representation using deep
    conditional generative models", NeurIPS 2015; the class-conditional generator of Kingma et
    al. 2014 (M2 without the classifier).
    """

    #: the condition is needed by encode/reconstruct/score/posterior as well as decode/likelihood
    #: (the semi-supervised models infer a label from x and need it only for decode and likelihood).
    condition_required = True

    def __init__(self, input_shape, latent_dim, num_classes=None, condition_dim=None, **kwargs):
        if (num_classes is None) == (condition_dim is None):
            raise ValueError(f"give exactly one of num_classes (labels) and condition_dim (vectors), got "
                             f"num_classes={num_classes!r}, condition_dim={condition_dim!r}")
        self.num_classes = None if num_classes is None else _checks.check_integer(num_classes, "num_classes", 2)
        self.condition_dim = None if condition_dim is None else _checks.check_positive_int(condition_dim,
                                                                                           "condition_dim")
        super().__init__(input_shape, latent_dim, **kwargs)

    @property
    def condition_size(self):
        """Size ``C`` of the conditioning vector (``num_classes`` for labels)."""
        return self.num_classes or self.condition_dim

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "condition_dim": self.condition_dim}

    # -- the condition ----------------------------------------------------------------------------
    @property
    def condition_spec(self):
        """``{"y": tf.TensorSpec}`` of one condition: an int32 label or a float32 vector."""
        if self.num_classes is not None:
            return {"y": tf.TensorSpec((), tf.int32, name="y")}
        return {"y": tf.TensorSpec((self.condition_dim,), tf.float32, name="y")}

    @property
    def marginalizes_condition(self):
        """Labels have a uniform prior ``p(y)`` to marginalise (``log_likelihood(x)``); vector conditions have none."""
        return self.num_classes is not None

    def batch_extras_spec(self):
        return dict(self.condition_spec)

    def describe_condition(self):
        if self.num_classes is not None:
            return f"y: int labels in [0, {self.num_classes})"
        return f"y: float vectors of size {self.condition_dim}"

    def condition_range(self, name):
        if self.num_classes is None:
            return None
        return 0, self.num_classes - 1, f"a model with {self.num_classes} classes"

    def condition_vector(self, y, batch_like):
        """The conditioning vector ``[B, C]``: one-hot labels or the float vectors.

        ``y=None`` gives zeros: the pass of ``build()``, which runs ``_reconstruct(x)`` without
        extras (the public methods refuse a missing condition).
        """
        if y is None:
            return tf.zeros([tf.shape(batch_like)[0], self.condition_size])
        if self.num_classes is not None:
            return tf.one_hot(tf.cast(y, tf.int32), self.num_classes)
        return tf.cast(y, tf.float32)

    def default_conditions(self, n):
        """``n`` conditions cycling through the classes: labels ``i % K`` (basis vectors ``e_{i % C}``)."""
        labels = tf.math.floormod(tf.range(n), self.condition_size)
        return labels if self.num_classes is not None else tf.one_hot(labels, self.condition_dim)

    def probe_conditions(self, n):
        """Conditions for a parity probe of ``n`` examples (numpy)."""
        return np.asarray(self.default_conditions(n))

    # -- networks ----------------------------------------------------------------------------------
    def encoder_input(self, x, *conditions):
        """Data and conditioning vectors ``[B, C_i]`` -> the encoder's input.

        MLP (or a user's encoder): ``[flatten(x), c_1, ...]`` ``[B, D + sum C_i]``; conv: the
        vectors as constant extra channels of the image ``[B, H, W, channels + sum C_i]``.
        """
        c = tf.concat([tf.cast(v, tf.float32) for v in conditions], axis=-1)
        x = tf.cast(x, tf.float32)
        if self.architecture == "conv" and self._given_networks["encoder"] is None:
            shape = tf.shape(x)
            grid = tf.broadcast_to(c[:, None, None, :], tf.concat([shape[:3], tf.shape(c)[1:]], 0))
            return tf.concat([x, grid], axis=-1)
        return tf.concat([tf.reshape(x, [tf.shape(x)[0], -1]), c], axis=-1)

    def encoder_input_shape(self, extra_size):
        """Shape of one encoder input with ``extra_size`` conditioning values."""
        if self.architecture == "conv":
            return self.data_shape[:2] + (self.data_shape[2] + extra_size,)
        return (math.prod(self.data_shape) + extra_size,)

    def make_conditioned_body(self, extra_size, name):
        """A built-in encoder body taking ``encoder_input`` with ``extra_size`` conditioning values."""
        return EncoderBody(self.encoder_input_shape(extra_size), self.architecture, self.hidden_units, self.filters,
                           activation=self.activation, kernel_initializer=self.kernel_initializer, name=name)

    def build_latent(self):
        super().build_latent()
        if self._given_networks["encoder"] is None:
            self.encoder_body = self.make_conditioned_body(self.condition_size, "encoder_body")

    def _check_parts(self):
        """The VAE's checks; a prior that reads the posterior (the VampPrior) is refused: ``q(z|x, y)`` needs a condition."""
        super()._check_parts()
        if self.prior_part.reads_posterior:
            raise ValueError(f"{type(self).__name__} cannot use the prior {self.prior_part!r}: it averages the "
                             f"posterior over pseudo-inputs, and this model's posterior q(z | x, y) also takes the "
                             f"condition y, which pseudo-inputs do not have (p(z) does not depend on y here)")

    # -- hooks: the VAE's, with the condition ------------------------------------------------------
    def _posterior(self, x, y=None):
        """``q(z | x, y)``."""
        return self.encoder_head(self.encoder_body(self.encoder_input(x, self.condition_vector(y, x))))

    def _likelihood(self, z, y=None):
        """``p(x | y, z)``: the likelihood head on ``[z, c]``."""
        z = tf.cast(z, tf.float32)
        return self.decoder_head(self.decoder_body(tf.concat([z, self.condition_vector(y, z)], axis=-1)))

    def _reconstruct(self, x, y=None):
        return self._decode(self._encode(x, y=y), y=y)

    def _sample(self, n, seed, temperature=1.0, y=None):
        """``n`` decoded draws ``z ~ p(z)`` at ``temperature`` under the conditions ``y`` (default: cycling classes)."""
        y = self.default_conditions(n) if y is None else y
        return self._decode(self._prior_codes(n, seed, temperature), y=y)

    def label_proposal_logits(self, x):
        """Logits ``[B, K]`` of the proposal over labels for ``log_likelihood`` without ``y``: uniform."""
        return tf.zeros([tf.shape(x)[0], self.num_classes])

    def _importance_samples_given(self, x, num_samples, seed, training, y):
        """The importance-weight record of ``k`` draws ``z ~ q(z | x, y)`` given the conditions (the VAE's)."""
        return super()._importance_samples(x, num_samples, seed, training, y=y)

    def _importance_samples(self, x, num_samples, seed, training=False, y=None):
        """The VAE's record given ``y``; without it, labels are drawn with ``z`` (``log p(x)``).

        Without ``y``: ``y_s ~ r(y | x)`` (``label_proposal_logits``; uniform here, ``q(y|x)`` for
        M2), ``z_s ~ q(z | x, y_s)``, and the record holds ``log p(z_s) + log p(y_s)`` and
        ``log q(z_s | x, y_s) + log r(y_s | x)``, the weights of the joint proposal.
        """
        if y is not None:
            return self._importance_samples_given(x, num_samples, seed, training, y)
        label_seed, code_seed = samplers.split_seed(seed, 2)
        log_r = tf.nn.log_softmax(self.label_proposal_logits(x))  # [B, K]
        labels = tf.transpose(tf.random.stateless_categorical(log_r, num_samples, label_seed, dtype=tf.int32))
        batch = tf.shape(x)[0]
        x_rep = tf.reshape(tf.broadcast_to(x[None], tf.concat([[num_samples], tf.shape(x)], 0)),
                           tf.concat([[-1], tf.shape(x)[1:]], 0))  # [k * B, ...], sample-major
        record = self._importance_samples_given(x_rep, 1, code_seed, training, tf.reshape(labels, [-1]))

        def per_sample(t):  # [1, k * B, ...] -> [k, B, ...]
            return tf.reshape(t, tf.concat([[num_samples, batch], tf.shape(t)[2:]], 0))

        log_py = -tf.math.log(float(self.num_classes))
        log_ry = tf.transpose(tf.gather(log_r, tf.transpose(labels), batch_dims=1))  # [B, k] -> [k, B]
        return objectives.ImportanceSamples(per_sample(record.log_px_given_z), per_sample(record.log_pz) + log_py,
                                            per_sample(record.log_qz) + log_ry, None, per_sample(record.codes))

    # -- export -------------------------------------------------------------------------------------
    def export_endpoints(self):
        """``reconstruct``, ``encode``, ``decode``, ``score`` with the condition ``y``; ``sample(y)``; ``sample_seeded(y, seed)``."""
        return self.with_part_tflite_skips(conditional_endpoints(self))


def conditional_endpoints(model):
    """The signatures of a conditional model on its hooks: ``reconstruct(x, y)``, ``encode(x, y)``,
    ``decode(z, y)``, ``score(x, y)``, ``sample(y)``, ``sample_seeded(y, seed)``."""
    x = tf.TensorSpec((None,) + tuple(model.data_spec.shape), model.data_spec.dtype, name="x")
    z = tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")
    spec = model.condition_spec["y"]
    y = tf.TensorSpec((None,) + tuple(spec.shape), spec.dtype, name="y")

    def with_y(model, data):
        return {"x": data, "y": model.probe_conditions(len(data))}

    def code_probe(model, data):
        labels = model.probe_conditions(len(data))
        return {"z": np.asarray(model._encode(tf.constant(data), y=tf.constant(labels))), "y": labels}

    return {
        "reconstruct": Endpoint(lambda x, y: {"reconstruction": model._reconstruct(x, y=y)}, (x, y), probe=with_y),
        "encode": Endpoint(lambda x, y: model._encode_outputs(x, y=y), (x, y), probe=with_y),
        "decode": Endpoint(lambda z, y: {"reconstruction": model._decode(z, y=y)}, (z, y), probe=code_probe),
        "score": Endpoint(lambda x, y: {"score": model._score(x, y=y)}, (x, y), probe=with_y),
        "sample": Endpoint(
            lambda y, temperature: {"x": model._sample(tf.shape(y)[0], samplers.fresh_sampling_seed(), temperature,
                                                       y=y)},
            (y, TEMPERATURE_SPEC), stochastic=True,
            probe=lambda model, data: {"y": model.probe_conditions(len(data)), "temperature": np.array(1.0, np.float32)}),
        "sample_seeded": Endpoint(
            lambda y, seed, temperature: {"x": model._sample(tf.shape(y)[0], samplers.sampling_seed(seed), temperature,
                                                             y=y)},
            (y, SEED_SPEC, TEMPERATURE_SPEC),
            probe=lambda model, data: {"y": model.probe_conditions(4), "seed": np.array(7, np.int32),
                                       "temperature": np.array(1.0, np.float32)}),
    }
