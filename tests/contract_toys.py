"""Toy models written only for tests: one per extension point of the model contract.

Each is a few lines on top of the contract, which is the point: a label-conditioned loss, a grid
of integer codes, a learned mixture prior (a prior part), a second optimizer on its own parameter group, and a
stochastic decoder that samples pixel by pixel. ``docs/adding-a-model.md`` walks through them.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import objectives, samplers
from keras_ae.models import VAE, Autoencoder, BaseAutoencoder
from keras_ae.models.base import Endpoint
from keras_ae.parts import Prior
from keras_ae.parts.priors import mixture_draw

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="keras_ae_tests")
class LabelledAutoencoder(Autoencoder):
    """Labels reach the loss: reconstruction + cross-entropy of a linear classifier on the code."""

    TERMS = ("reconstruction", "classification")

    def __init__(self, input_shape, latent_dim, num_classes=3, **kwargs):
        super().__init__(input_shape, latent_dim, **kwargs)
        self.num_classes = int(num_classes)
        self.classifier = keras.layers.Dense(self.num_classes, name="classifier")

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}

    def batch_extras_spec(self):
        return {"y": tf.TensorSpec((), tf.int32, name="y")}

    def _loss_terms(self, x, training=False, y=None):
        z, reconstruction = self.code_and_reconstruction_error(x, training=training)
        logits = self.classifier(z)
        if y is None:  # scoring without labels
            return {"reconstruction": reconstruction}
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32), logits=logits)
        return {"reconstruction": reconstruction, "classification": xent}

    def export_endpoints(self):
        endpoints = super().export_endpoints()
        x = endpoints["encode"].inputs
        endpoints["classify"] = Endpoint(lambda x: {"probabilities": tf.nn.softmax(self.classifier(self._encode(x)))}, x)
        return endpoints


@keras.saving.register_keras_serializable(package="keras_ae_tests")
class GridCodeAutoencoder(BaseAutoencoder):
    """A grid of integer codes: each of ``cells`` cells picks one of ``num_codes`` learned vectors.

    Training uses the softmax mixture of the vectors (differentiable); ``encode`` gives the
    argmax index of each cell, an ``int32 [cells]`` grid, and ``decode`` takes such a grid.
    """

    UNUSED_ARGUMENTS = {"latent_dim": "the code is a grid of cells indices (set cells)"}

    def __init__(self, input_shape, cells=4, num_codes=5, embedding_dim=3, **kwargs):
        super().__init__(input_shape, **kwargs)
        self.latent_dim = int(cells)
        self.cells, self.num_codes, self.embedding_dim = int(cells), int(num_codes), int(embedding_dim)
        self.encoder_body = self.make_encoder_body()
        self.to_logits = keras.layers.Dense(self.cells * self.num_codes, name="to_logits")
        self.codebook = self.add_weight(name="codebook", shape=(self.num_codes, self.embedding_dim),
                                        initializer="random_normal")
        self.decoder_body = self.make_decoder_body()
        self.output_layer = keras.layers.Dense(int(np.prod(self.data_shape)), name="output")

    def get_config(self):
        config = super().get_config()
        return {**config, "cells": self.cells, "num_codes": self.num_codes, "embedding_dim": self.embedding_dim}

    @property
    def code_spec(self):
        return tf.TensorSpec((self.cells,), tf.int32, name="z")

    def _logits(self, x):
        return tf.reshape(self.to_logits(self.encoder_body(x)), [-1, self.cells, self.num_codes])

    def _decode_vectors(self, vectors):  # [B, cells, embedding_dim] -> data
        flat = tf.reshape(vectors, [-1, self.cells * self.embedding_dim])
        return tf.reshape(self.output_layer(self.decoder_body(flat)), (-1,) + self.data_shape)

    def _encode(self, x):
        return tf.argmax(self._logits(x), axis=-1, output_type=tf.int32)

    def _decode(self, z, seed=None):
        return self._decode_vectors(tf.gather(self.codebook, z))

    def _loss_terms(self, x, training=False):
        soft = tf.nn.softmax(self._logits(x)) @ self.codebook
        return {"reconstruction": objectives.squared_error(x, self._decode_vectors(soft))}


@keras.saving.register_keras_serializable(package="keras_ae_tests")
class LearnedMixturePrior(Prior):
    """A learned prior is a part: a mixture of ``components`` diagonal Gaussians with trainable weights.

    Its weights are made in ``attach`` for the model's code size. No analytic KL exists for a
    mixture (it declares none), so the VAE's ``kl`` falls back to Monte Carlo by itself; ``draw``
    uses the library's builtin-op mixture sampler (``keras_ae.parts.priors.mixture_draw`` over
    :mod:`keras_ae.samplers` noise), so seeded samples agree in Keras, SavedModel and TFLite.
    """

    def __init__(self, components=3, **kwargs):
        super().__init__(**kwargs)
        self.components = int(components)

    def arguments(self):
        return {"components": self.components}

    def attach(self, model):
        super().attach(model)
        self.locs = self.add_weight(name="locs", shape=(self.components, self.latent_dim),
                                    initializer=keras.initializers.RandomNormal(stddev=1.0, seed=1))
        self.logits = self.add_weight(name="logits", shape=(self.components,), initializer="zeros")
        self.log_scales = self.add_weight(name="log_scales", shape=(self.components, self.latent_dim),
                                          initializer="zeros")

    def distribution(self, model):
        return tfd.MixtureSameFamily(
            tfd.Categorical(logits=self.logits),
            tfd.Independent(tfd.Normal(self.locs, tf.exp(self.log_scales)), reinterpreted_batch_ndims=1))

    def draw(self, model, n, seed=None, temperature=1.0):
        return mixture_draw(n, tf.nn.softmax(self.logits), self.locs, tf.exp(self.log_scales), seed, temperature)


def MixturePriorVAE(input_shape, latent_dim, components=3, **kwargs):
    """A VAE with the learned mixture prior above: no new model class, a configuration of parts."""
    return VAE(input_shape, latent_dim, prior=LearnedMixturePrior(components), **kwargs)


@keras.saving.register_keras_serializable(package="keras_ae_tests")
class CriticAutoencoder(Autoencoder):
    """A second optimizer on its own parameter group: a critic that learns ``||z||^2`` from the code.

    The critic's objective is its own (``critic_loss``); the main optimizer never updates it.
    """

    PARAMETER_GROUPS = {"critic": ("critic_loss",)}

    def __init__(self, input_shape, latent_dim, **kwargs):
        super().__init__(input_shape, latent_dim, **kwargs)
        self.critic = keras.layers.Dense(1, name="critic")

    def parameter_group_variables(self, group):
        return self.critic.trainable_variables

    def _group_loss_terms(self, group, x, training=False):
        z = tf.stop_gradient(self._encode(x))
        target = tf.reduce_sum(tf.square(z), axis=-1)
        return {"critic_loss": tf.square(self.critic(z)[:, 0] - target)}


@keras.saving.register_keras_serializable(package="keras_ae_tests")
class AutoregressiveDecoderAE(Autoencoder):
    """A stochastic, step-by-step decoder: p(x|z) = prod_i Bernoulli(x_i | z, x_<i) over flat binary data.

    Training is teacher-forced (one pass, a strictly lower-triangular mask); ``decode`` samples
    the pixels one at a time under ``tf.while_loop`` (:func:`keras_ae.samplers.sequential_sample`).
    """

    stochastic_decoder = True

    def __init__(self, input_shape, latent_dim, **kwargs):
        super().__init__(input_shape, latent_dim, reconstruction="bernoulli", **kwargs)
        self.size = int(np.prod(self.data_shape))
        self.autoregressive = self.add_weight(name="autoregressive", shape=(self.size, self.size),
                                              initializer="zeros")

    def get_config(self):
        config = super().get_config()
        config.pop("reconstruction")
        return config

    def _logits(self, z, x_flat):
        mask = tf.linalg.band_part(tf.ones([self.size, self.size]), -1, 0) - tf.eye(self.size)  # j < i
        base = tf.reshape(self.decoder_output(z), [-1, self.size])
        return base + x_flat @ tf.transpose(self.autoregressive * mask)

    def _loss_terms(self, x, training=False):
        z = self._encode(x)
        return {"reconstruction": objectives.bernoulli_cross_entropy(
            x, tf.reshape(self._logits(z, tf.reshape(x, [-1, self.size])), tf.shape(x)))}

    def _decode(self, z, seed=None):
        def step(i, canvas, step_seed):
            pixel = samplers.bernoulli(self._logits(z, canvas)[:, i], step_seed)  # [B]
            return canvas + pixel[:, None] * tf.one_hot(i, self.size)[None, :]

        canvas = samplers.sequential_sample(step, tf.zeros([tf.shape(z)[0], self.size]), self.size, seed)
        return tf.reshape(canvas, (-1,) + self.data_shape)
