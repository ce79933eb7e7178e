"""Optimisation in latent space: the code whose decoding maximises an objective, kept likely under the prior.

For a trained generative model with a differentiable decoder ``g(z)`` (the mean of ``p(x|z)``)
and prior ``p(z)``, find::

    z* = argmax_z  J(g(z)) + prior_weight * log p(z)

by gradient ascent (Adam) from a starting code, recording the path. The prior term keeps ``z``
where the decoder was trained: without it, maximising a classifier's output drives ``z`` off to
regions that decode to adversarial noise (Gómez-Bombarelli et al. 2018 optimise molecules in a
VAE's latent space under the same kind of constraint; Engel et al. 2018 condition samples with a
latent-space objective and a prior term). With ``prior_weight = 1`` and
``J = log p(target | g(z))`` this is the MAP code of a target.

Objectives (``J`` maps decoded images ``[B, *shape]`` to ``[B]``):

- :func:`target_objective`: ``-||g(z) - target||^2 / (2 s^2)``, closeness to a target image;
- :func:`class_objective`: ``log softmax(classifier(g(z)))[label]``, a classifier's log-probability
  of a class (any Keras model or callable returning logits).
"""

from typing import Callable, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_ae import _checks


class LatentPath(NamedTuple):
    """The path of a latent search, recorded every ``record_every`` steps and at the end.

    ``steps`` ``[T]``; ``codes`` ``[T, B, d]``; ``objective`` and ``log_prior`` ``[T, B]`` (the
    objective ``J`` and ``log p(z)`` at each recorded code); ``decoded`` ``[T, B, *shape]``.
    """

    steps: np.ndarray
    codes: np.ndarray
    objective: np.ndarray
    log_prior: np.ndarray
    decoded: np.ndarray


def target_objective(target, noise_scale: float = 0.1) -> Callable:
    """``J(x) = -sum (x - target)^2 / (2 noise_scale^2)``: the Gaussian log-likelihood of ``target`` up to a constant.

    ``target`` is one image ``[*shape]`` or a batch ``[B, *shape]`` (one per searched code).
    """
    target = tf.constant(np.asarray(target, np.float32))
    noise_scale = _checks.check_number(noise_scale, "noise_scale", minimum=0.0, exclusive_minimum=True)

    def objective(x):
        squared = tf.math.squared_difference(x, tf.broadcast_to(target, tf.shape(x)))
        return -tf.reduce_sum(tf.reshape(squared, [tf.shape(x)[0], -1]), axis=1) / (2.0 * noise_scale ** 2)

    return objective


def class_objective(classifier: Callable, label: int) -> Callable:
    """``J(x) = log softmax(classifier(x))[label]``: the classifier's log-probability of ``label``."""
    label = _checks.check_integer(label, "label", minimum=0)

    def objective(x):
        logits = tf.convert_to_tensor(classifier(x))
        if label >= logits.shape[-1]:
            raise ValueError(f"label {label} is out of range: the classifier has {logits.shape[-1]} classes")
        return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)[:, label]

    return objective


def search(decode: Callable, log_prior: Callable, objective: Callable, z0, steps: int = 300,
           learning_rate: float = 0.05, prior_weight: float = 1.0, record_every: int = 30) -> LatentPath:
    """Adam ascent on ``objective(decode(z)) + prior_weight * log_prior(z)`` from ``z0`` ``[B, d]``.

    The sum over the batch is ascended, so every code follows its own objective (Adam scales each
    coordinate separately). Args: ``decode`` codes ``[B, d]`` -> images; ``log_prior`` codes ->
    ``[B]``; ``steps`` (default 300); ``learning_rate`` (default 0.05); ``prior_weight`` >= 0
    (default 1); ``record_every`` (default 30).
    """
    steps = _checks.check_positive_int(steps, "steps")
    record_every = _checks.check_positive_int(record_every, "record_every")
    learning_rate = _checks.check_number(learning_rate, "learning_rate", minimum=0.0, exclusive_minimum=True)
    prior_weight = _checks.check_number(prior_weight, "prior_weight", minimum=0.0)
    z0 = np.asarray(z0, np.float32)
    if z0.ndim != 2:
        raise ValueError(f"z0 must be [batch, latent_dim], got shape {z0.shape}")
    if not np.all(np.isfinite(z0)):
        raise ValueError("z0 holds NaN or infinite values")
    z = tf.Variable(z0, name="searched_code")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([z])

    def evaluate(z):
        x = decode(z)
        return x, tf.cast(objective(x), tf.float32), tf.cast(log_prior(z), tf.float32)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            _, value, log_pz = evaluate(z)
            loss = -tf.reduce_sum(value + prior_weight * log_pz)
        optimizer.apply_gradients([(tape.gradient(loss, z), z)])

    recorded = {"steps": [], "codes": [], "objective": [], "log_prior": [], "decoded": []}

    def record(t):
        x, value, log_pz = evaluate(tf.convert_to_tensor(z))
        for key, item in zip(recorded, (t, z.numpy(), value.numpy(), log_pz.numpy(), x.numpy())):
            recorded[key].append(item)

    record(0)
    for t in range(1, steps + 1):
        step()
        if t % record_every == 0 or t == steps:
            record(t)
    return LatentPath(**{key: np.stack(values) for key, values in recorded.items()})


def search_model(model, objective: Callable, z0=None, num_codes: int = 1, seed: int = 0, **kwargs) -> LatentPath:
    """:func:`search` through a trained model's decoder mean and prior, from ``z0`` or prior draws.

    ``model`` needs a flat float code and a prior (a VAE-family model); ``z0`` defaults to
    ``num_codes`` draws from the prior with ``seed``. Keyword arguments go to :func:`search`.
    """
    model.require("is_generative", "latent search")
    model.require("is_probabilistic", "latent search")
    if model.capabilities()["is_conditional"]:
        raise ValueError(f"{type(model).__name__} declares is_conditional (condition "
                         f"{sorted(model.capabilities()['condition_spec'])}): latent search moves codes under "
                         "p(z) through an unconditional decoder; a conditional model is not searched")
    spec = model.code_spec
    if spec.dtype != tf.float32 or len(spec.shape) != 1:
        raise ValueError(f"{type(model).__name__} has codes {spec}: latent search needs a flat float latent vector")
    prior = model._prior()
    if z0 is None:
        num_codes = _checks.check_positive_int(num_codes, "num_codes")
        z0 = prior.sample(num_codes, seed=tf.constant([int(seed), 7])).numpy()
    else:
        z0 = np.asarray(z0, np.float32)
        if z0.ndim != 2 or z0.shape[1:] != tuple(spec.shape):
            raise ValueError(f"z0 must be [batch, {spec.shape[0]}] codes of this model, got shape {z0.shape}")

    def decode(z):
        return tf.cast(model._likelihood(z).mean(), tf.float32)

    return search(decode, lambda z: prior.log_prob(z), objective, z0, **kwargs)
