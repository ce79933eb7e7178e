"""Randomness written once: stateless seeds, noise that exports, and step-by-step sampling loops.

Every random draw in keras-ae is either *seeded* (a stateless ``[2]`` int32 seed: the same seed,
the same numbers, in eager mode, ``tf.function`` and XLA) or *fresh* (``seed=None``: the
stateful ``tf.random.uniform``/``tf.random.normal`` kernels, which TFLite has as builtins, so an
exported ``sample`` signature draws new numbers at every call).

:func:`sequential_sample` runs an autoregressive loop (one pixel, one code or one time step at a
time) under ``tf.while_loop``, so a model that samples step by step exports as one graph.
"""

import numpy as np
import tensorflow as tf


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
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num))


def fold_seed(seed, value):
    """A stateless seed made distinct by ``value`` (a step, a replica); ``None`` stays ``None``."""
    if seed is None:
        return None
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int32), tf.cast(value, tf.int32))


def uniform(shape, seed=None, dtype=tf.float32):
    """Uniform on [0, 1): seeded (stateless) or fresh (``seed=None``: the TFLite builtin kernel)."""
    if seed is None:
        # seed = seed2 = 0 explicitly: fresh numbers at every call even after tf.random.set_seed
        # (keras.utils.set_random_seed), which would otherwise fix the op's seeds, and which
        # made an exported TFLite sampler repeat its draws.
        return tf.raw_ops.RandomUniform(shape=tf.cast(shape, tf.int32), dtype=dtype, seed=0, seed2=0)
    return tf.random.stateless_uniform(shape, seed, dtype=dtype)


def normal(shape, seed=None, dtype=tf.float32):
    """Standard normal: seeded (stateless) or fresh (``seed=None``: the TFLite builtin kernel)."""
    if seed is None:  # fresh whatever the global seed (see ``uniform``)
        return tf.raw_ops.RandomStandardNormal(shape=tf.cast(shape, tf.int32), dtype=dtype, seed=0, seed2=0)
    return tf.random.stateless_normal(shape, seed, dtype=dtype)


def bernoulli(logits, seed=None):
    """0/1 float samples of ``Bernoulli(sigmoid(logits))`` by comparing a uniform with the probability."""
    logits = tf.cast(logits, tf.float32)
    return tf.cast(uniform(tf.shape(logits), seed) < tf.sigmoid(logits), tf.float32)


def sequential_sample(step_fn, initial_state, num_steps, seed=None):
    """Run ``state = step_fn(i, state, seed_i)`` for ``i = 0 .. num_steps - 1`` in a ``tf.while_loop``.

    The loop is a graph op, so it traces once, compiles under XLA and exports to a SavedModel;
    its body must keep the state's shapes and dtypes. Step ``i`` receives its own stateless seed
    ``fold_seed(seed, i)``, or ``None`` for fresh noise.

    Args:
        step_fn: ``(i, state, seed_i) -> state`` (state: any nest of tensors).
        initial_state: the state before step 0.
        num_steps: number of steps (Python int or scalar tensor).
        seed: stateless ``[2]`` seed, or ``None``.
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
