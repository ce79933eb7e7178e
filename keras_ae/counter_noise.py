"""Counter-based noise that TensorFlow and TFLite (LiteRT) compute identically from ``(key, counter)``.

Seeded sampling must give the same numbers in Keras, in a SavedModel and in a ``.tflite`` file.
The runtimes' own random kernels cannot: TF's stateless kernels (Philox) have no TFLite builtin,
and the stateful ``RandomUniform`` kernels differ between runtimes. Here every random number is
a pure function of a key and its position, computed with integer ops that both runtimes have as
builtins and compute exactly:

- ``bits(key, c) = H(H(c XOR k0) XOR k1)``: a two-round keyed hash of the counter ``c`` (the
  element's flat index), with ``H`` a 31-bit variant of Wellons' "lowbias32" integer hash::

      H(x) = s16(m2 * s15(m1 * s16(x) mod 2^31) mod 2^31),    s_r(x) = x XOR (x >> r)

  on ``x`` in ``[0, 2^31)``, ``m1 = 0x7feb352d``, ``m2 = 0x046ca68b`` (odd, so each step is a
  bijection of ``[0, 2^31)``). The values are never negative, so ``>>`` (TFLite ``RIGHT_SHIFT``)
  is a logical shift, and XOR (``BITWISE_XOR``) keeps them below ``2^31``. The products are taken
  in int64 (``x * m < 2^62``: no overflow in any runtime) and reduced by ``FLOOR_MOD``: this does
  not rely on int32 wraparound, which C++ leaves undefined (LiteRT's int32 ``MUL`` did wrap in
  this version, measured, but a phone's build need not). TFLite has no int64 XOR or shift and
  no ``BITWISE_AND``/``LEFT_SHIFT`` builtins (measured by converting): hence int32 for those.
- ``uniform``: the top 23 of the 31 bits, ``u = (2m + 1) / 2^24`` in ``(0, 1)``: exact in float32
  (``2m + 1 < 2^24``), never 0 or 1, so ``log u`` is finite;
- ``normal``: Box-Muller, ``sqrt(-2 log u1) cos(2 pi u2)`` (``-log`` by :func:`neg_log`) with ``u1``, ``u2`` from counters
  ``[0, n)`` and ``[n, 2n)``: the runtimes' ``LOG``/``SQRT``/``COS`` differ by a few ulps, far
  inside the 1e-5 tolerance of the parity tests;
- ``gumbel``: ``-log(-log u)`` (the inner one by :func:`neg_log`).

A key is a ``[2]`` int32 tensor in ``[0, 2^31)``; :func:`key` makes one from an integer seed,
:func:`fold` one per stream (a step, a layer). Statistics and independence are tested in
``tests/test_counter_noise.py`` (Kolmogorov-Smirnov and chi-square at a stated false-alarm rate).
"""

import math

import tensorflow as tf

#: every hashed value lies in ``[0, 2^31)``.
MODULUS = 2**31
_M1, _M2 = 0x7FEB352D, 0x046CA68B
#: constants that make the two key words (and the folds) differ from one another.
_K0, _K1, _F0, _F1 = 0x2545F491, 0x5BD1E995, 0x1B873593, 0x68E31DA4


def _mulmod(x, m):
    """``x * m mod 2^31`` for int32 ``x`` in ``[0, 2^31)``, exactly (int64 product, ``FLOOR_MOD``)."""
    product = tf.cast(x, tf.int64) * tf.constant(m, tf.int64)
    return tf.cast(tf.math.floormod(product, tf.constant(MODULUS, tf.int64)), tf.int32)


def _xorshift(x, r):
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(r, tf.int32)))


def hash31(x):
    """``H(x)`` (see the module docstring): a bijection of int32 values in ``[0, 2^31)``."""
    x = _xorshift(tf.cast(x, tf.int32), 16)
    x = _xorshift(_mulmod(x, _M1), 15)
    return _xorshift(_mulmod(x, _M2), 16)


def _xor(x, constant):
    return tf.bitwise.bitwise_xor(x, tf.constant(constant, tf.int32))


def key(seed):
    """The key ``[2]`` int32 of an integer seed (a Python int, or an int32/int64 scalar tensor; any sign)."""
    if isinstance(seed, int):
        s = tf.constant(seed % MODULUS, tf.int32)
    else:  # an exported signature's int32 input: reduced in int64, where 2^31 fits
        s = tf.cast(tf.math.floormod(tf.cast(seed, tf.int64), tf.constant(MODULUS, tf.int64)), tf.int32)
    return tf.stack([hash31(_xor(hash31(s), _K0)), hash31(_xor(hash31(_xor(s, _K1)), _F0))])


def fold(key_, value):
    """A key for stream ``value`` (an int >= 0 or an int32 scalar tensor) of ``key_``: distinct per value."""
    v = tf.cast(value, tf.int32)
    return tf.stack([hash31(tf.bitwise.bitwise_xor(key_[0], hash31(_xor(v, _F0)))),
                     hash31(tf.bitwise.bitwise_xor(key_[1], hash31(_xor(v, _F1))))])


def from_uniforms(u):
    """A key from two uniforms in ``[0, 1)`` ``[2]`` (a runtime's fresh ``RandomUniform``): 23 bits of each."""
    words = tf.cast(tf.floor(tf.cast(u, tf.float32) * float(2**23)), tf.int32)
    return tf.stack([hash31(_xor(words[0], _K0)), hash31(_xor(words[1], _K1))])


def bits(key_, counters):
    """``H(H(c XOR k0) XOR k1)`` for int32 counters ``c`` in ``[0, 2^31)``: int32 in ``[0, 2^31)``."""
    first = hash31(tf.bitwise.bitwise_xor(tf.cast(counters, tf.int32), key_[0]))
    return hash31(tf.bitwise.bitwise_xor(first, key_[1]))


def _size(shape):
    return tf.reduce_prod(tf.cast(shape, tf.int32))


def _uniform_flat(key_, start, count):
    top = tf.bitwise.right_shift(bits(key_, tf.range(count) + start), tf.constant(8, tf.int32))  # [0, 2^23)
    return (tf.cast(top, tf.float32) * 2.0 + 1.0) * (1.0 / 2**24)


def neg_log(u):
    """``-log u`` for ``u`` in ``(0, 1)`` with a small relative error also near 1.

    A runtime's ``LOG`` near 1 has an absolute error of about ``ulp(1)``: relative to
    ``-log u ~ 1 - u`` that is large, and Box-Muller's square root and the Gumbel's outer log
    magnify it (1e-4 between TF and LiteRT, measured, on 1,000 Gumbel draws). For ``u > 1/2``:
    ``-log u = -2 atanh(t)``, ``t = (u - 1) / (u + 1)`` in ``(-1/3, 0)``, by its series
    ``2 sum_k t^(2k+1) / (2k+1)`` to ``k = 10`` (remainder below ``9^-11``, relative); ``u - 1`` is
    exact in float32. Below 1/2 the ``LOG`` itself is accurate relative to ``-log u >= log 2``.
    """
    t = (u - 1.0) / (u + 1.0)
    t2 = t * t
    series = tf.zeros_like(t)
    for k in range(10, -1, -1):  # Horner: sum_k t2^k / (2k + 1)
        series = series * t2 + 1.0 / (2 * k + 1)
    return tf.where(u > 0.5, -2.0 * t * series, -tf.math.log(u))


def uniform(key_, shape):
    """Uniform on ``(0, 1)``, float32 ``shape``, on a grid of step ``2^-23`` (midpoints)."""
    return tf.reshape(_uniform_flat(key_, 0, _size(shape)), shape)


def normal(key_, shape):
    """Standard normal float32 ``shape`` by Box-Muller (cosine branch)."""
    count = _size(shape)
    u1 = _uniform_flat(key_, 0, count)
    u2 = _uniform_flat(key_, count, count)
    radius = tf.sqrt(2.0 * neg_log(u1))
    return tf.reshape(radius * tf.cos((2.0 * math.pi) * u2), shape)


def gumbel(key_, shape):
    """Standard Gumbel ``-log(-log u)``, float32 ``shape``."""
    return -tf.math.log(neg_log(uniform(key_, shape)))
