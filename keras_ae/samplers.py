"""Randomness written once: stateless seeds, noise that exports, and step-by-step sampling loops.

Every random draw in keras-ae is one of three kinds:

- *training noise* (reparameterized codes, corruption, importance samples): a stateless ``[2]``
  int32 seed and TF's stateless kernels: the same seed, the same numbers, in eager mode,
  ``tf.function`` and XLA;
- *sampling noise* (``sample``, ``decode(z, seed)``, the exported ``sample``/``sample_seeded``):
  a :class:`CounterSeed` and the counter-based generator of :mod:`keras_ae.counter_noise`, which
  TF and TFLite compute identically, so a seed gives the same samples in Keras, in a SavedModel
  and in a ``.tflite`` file. :func:`sampling_seed` makes one from an integer seed,
  :func:`fresh_sampling_seed` from the runtime's own ``RandomUniform`` (a TFLite builtin): an
  exported ``sample`` draws a new key at every call and then the same generator;
- *fresh noise* (``seed=None``): the stateful ``tf.random.uniform``/``tf.random.normal`` kernels.

``uniform``, ``normal``, ``bernoulli``, ``gumbel``, ``categorical``, ``fold_seed`` and
``split_seed`` take any of the three and dispatch on it, so a sampler is written once.

**Temperature** (``sample(n, seed, temperature)``): continuous priors scale their standard
noise by ``T`` (``z = T e`` for ``N(0, I)``: the density ``p(z)^(1/T^2)`` renormalized);
categorical and autoregressive draws divide their logits by ``T`` (``p_k^(1/T)``
renormalized). ``T = 1`` is the model's distribution; ``T < 1`` concentrates it.

:func:`sequential_sample` runs an autoregressive loop (one pixel, one code or one time step at a
time) under ``tf.while_loop``, so a model that samples step by step exports as one graph.
"""

import numpy as np
import tensorflow as tf

from keras_ae import _checks, counter_noise


class CounterSeed:
    """A seed of the counter-based generator (:mod:`keras_ae.counter_noise`): its key, ``[2]`` int32.

    A Python object, not a tensor, so the samplers tell it from a stateless seed; it passes
    through ``tf.while_loop`` bodies as a captured value.
    """

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return f"CounterSeed({self.key!r})"


def sampling_seed(seed):
    """The :class:`CounterSeed` of an integer seed (a Python int or an int32 scalar tensor; None: :func:`fresh_seed`)."""
    if isinstance(seed, CounterSeed):
        return seed
    if seed is None:
        seed = fresh_seed()
    if isinstance(seed, np.integer):
        seed = int(seed)
    return CounterSeed(counter_noise.key(seed))


def fresh_sampling_seed():
    """A new :class:`CounterSeed` in a graph from the runtime's ``RandomUniform`` (a TFLite builtin): an
    exported ``sample`` draws its key at every call, then the same generator as ``sample_seeded``."""
    return CounterSeed(counter_noise.from_uniforms(uniform([2])))


def check_temperature(temperature):
    """A sampling temperature: a finite number > 0 (``ValueError`` naming ``temperature`` and the value)."""
    return _checks.check_number(temperature, "temperature", minimum=0, exclusive_minimum=True)


def _temperature(temperature):
    return tf.cast(temperature, tf.float32)


def fresh_seed():
    """A new integer seed in [0, 2^31 - 1) from NumPy's global generator.

    ``keras.utils.set_random_seed(s)`` seeds that generator, so after it a model's default seed and
    every unseeded ``sample``/``decode`` draw repeat from run to run, as Keras users expect;
    without it NumPy starts from OS entropy and every process differs.
    """
    return int(np.random.randint(0, 2**31 - 1))


def stateless_seed(seed):
    """An integer seed (or None: :func:`fresh_seed`) -> a stateless ``[2]`` int32 seed tensor; a tensor passes through."""
    if seed is None:
        seed = fresh_seed()
    if isinstance(seed, CounterSeed):
        return seed
    if isinstance(seed, (int, np.integer)):
        return tf.constant([int(seed) % (2**31 - 1), 0], tf.int32)
    seed = tf.cast(seed, tf.int32)
    if seed.shape.rank == 0:  # an integer seed as a tensor (an exported signature's input): as above
        return tf.stack([tf.math.floormod(seed, 2**31 - 1), tf.constant(0, tf.int32)])
    return seed


def split_seed(seed, num):
    """``num`` independent stateless seeds from one (``None`` stays ``None``: fresh noise)."""
    if seed is None:
        return [None] * num
    if isinstance(seed, CounterSeed):
        return [CounterSeed(counter_noise.fold(seed.key, i)) for i in range(num)]
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num))


def fold_seed(seed, value):
    """A stateless seed made distinct by ``value`` (a step, a replica); ``None`` stays ``None``."""
    if seed is None:
        return None
    if isinstance(seed, CounterSeed):
        return CounterSeed(counter_noise.fold(seed.key, value))
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int32), tf.cast(value, tf.int32))


def uniform(shape, seed=None, dtype=tf.float32):
    """Uniform on [0, 1): counter-based (:class:`CounterSeed`), stateless, or fresh (``seed=None``: the TFLite
    builtin kernel)."""
    if isinstance(seed, CounterSeed):
        return tf.cast(counter_noise.uniform(seed.key, shape), dtype)
    if seed is None:
        # seed = seed2 = 0 explicitly: fresh numbers at every call even after tf.random.set_seed
        # (keras.utils.set_random_seed), which would otherwise fix the op's seeds, and which
        # made an exported TFLite sampler repeat its draws.
        return tf.raw_ops.RandomUniform(shape=tf.cast(shape, tf.int32), dtype=dtype, seed=0, seed2=0)
    return tf.random.stateless_uniform(shape, seed, dtype=dtype)


def normal(shape, seed=None, dtype=tf.float32):
    """Standard normal: counter-based (:class:`CounterSeed`), stateless, or fresh (``seed=None``: the TFLite
    builtin kernel)."""
    if isinstance(seed, CounterSeed):
        return tf.cast(counter_noise.normal(seed.key, shape), dtype)
    if seed is None:  # fresh whatever the global seed (see ``uniform``)
        return tf.raw_ops.RandomStandardNormal(shape=tf.cast(shape, tf.int32), dtype=dtype, seed=0, seed2=0)
    return tf.random.stateless_normal(shape, seed, dtype=dtype)


def bernoulli(logits, seed=None, temperature=1.0):
    """0/1 float samples of ``Bernoulli(sigmoid(logits / T))`` by comparing a uniform with the probability."""
    logits = tf.cast(logits, tf.float32) / _temperature(temperature)
    return tf.cast(uniform(tf.shape(logits), seed) < tf.sigmoid(logits), tf.float32)


def gumbel(shape, seed=None):
    """Standard Gumbel noise ``-log(-log u)`` of any seed kind (the uniform kept inside (0, 1))."""
    if isinstance(seed, CounterSeed):
        return counter_noise.gumbel(seed.key, shape)
    tiny = 1e-7
    if seed is None:
        u = tiny + (1.0 - 2.0 * tiny) * uniform(shape)
    else:
        u = tf.random.stateless_uniform(shape, seed, minval=tiny, maxval=1.0 - tiny)
    return -tf.math.log(-tf.math.log(u))


def categorical(logits, seed=None, temperature=1.0):
    """Class indices int32 ``[...]`` of ``Categorical(softmax(logits / T))`` over the last axis, by Gumbel-max:
    ``argmax_k (logits_k / T + g_k)`` (``ARG_MAX``, a TFLite builtin, unlike TF's multinomial kernels)."""
    logits = tf.cast(logits, tf.float32) / _temperature(temperature)
    return tf.argmax(logits + gumbel(tf.shape(logits), seed), axis=-1, output_type=tf.int32)


def sequential_sample(step_fn, initial_state, num_steps, seed=None):
    """Run ``state = step_fn(i, state, seed_i)`` for ``i = 0 .. num_steps - 1`` in a ``tf.while_loop``.

    The loop is a graph op, so it traces once, compiles under XLA and exports to a SavedModel;
    its body must keep the state's shapes and dtypes. Step ``i`` receives its own seed
    ``fold_seed(seed, i)`` (of the same kind), or ``None`` for fresh noise.

    Args:
        step_fn: ``(i, state, seed_i) -> state`` (state: any nest of tensors).
        initial_state: the state before step 0.
        num_steps: number of steps (Python int or scalar tensor).
        seed: a :class:`CounterSeed`, a stateless ``[2]`` seed, or ``None``.
    Returns:
        the state after the last step.

    Example (pixel by pixel)::

        def step(i, canvas, s):
            logits = decoder_logits(z, canvas)[:, i]                         # [B]
            pixel = samplers.bernoulli(logits, s)
            return tf.tensor_scatter_nd_update(...)                         # canvas with pixel i set
        canvas = samplers.sequential_sample(step, tf.zeros([B, D]), D, seed)
    """
    def body(i, state):
        return i + 1, step_fn(i, state, fold_seed(seed, i))

    _, state = tf.while_loop(lambda i, state: i < num_steps, body, (tf.constant(0), initial_state))
    return state
