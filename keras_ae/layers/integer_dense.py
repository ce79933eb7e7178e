"""A dense layer in exact integer arithmetic: the same integers from any runtime (Ballé, Johnston & Minnen 2019).

An entropy coder desynchronizes when sender and receiver compute one probability differently, and
two runtimes (TF's kernels, LiteRT/XNNPack) sum float products in different orders. This layer's
arithmetic is exact in float32 by construction, so every runtime returns the same integers::

    acc_j = sum_i w_ij h_i + b_j                 (integers: w, h, b)
    out_j = clip(floor(acc_j * 2^-s_j), lo_j, hi_j)

with the integer weights ``w``, the integer bias ``b`` (which holds the rounding offset
``2^(s_j - 1)``, so the floor rounds half up: ``floor(a / 2^s + 1/2)``), per-output shifts
``s_j`` (a power of two is an exact float scale, in either sign) and the clip bounds.

**Bit budget.** float32 holds every integer of magnitude up to ``2^24`` exactly. The layer is exact
in any summation order (and with fused multiply-adds) when every product and every partial sum
is such an integer; a partial sum of output ``j`` is at most ``sum_i |w_ij| max|h_i| + |b_j|``, so
the condition checked at construction is::

    max_j ( sum_i |w_ij| * max|h| + |b_j| ) < 2^24

(implied by the cruder ``fan_in * max|w| * max|h| + max|b| < 2^24``). Scaling by ``2^-s_j``
is exact (no underflow at these sizes) and the floor of an exactly represented number is exact, so a
converter that folds the scale into the weights or the bias into the sum changes nothing.

**Rounding.** ``floor`` only: TF's ``tf.round`` and TFLite's ``ROUND`` round half to even, and a
round-half-up through ``floor(x + 0.5)`` would need one more bit of mantissa; folding the ``0.5``
into the integer bias keeps the sum an integer.

Example::

    layer = IntegerDense(weights_int, bias_int, shifts, lo=0, hi=255)   # a ReLU layer, 8-bit activations
    h = layer(tf.constant(x_int, tf.float32))                             # float32 holding integers
"""

import keras
import numpy as np

#: float32 represents every integer of magnitude < 2^24 exactly.
EXACT_FLOAT32_INTEGERS = 2 ** 24


def accumulator_bound(weights, bias, max_input):
    """``max_j sum_i |w_ij| * max_input + |b_j|``: the largest partial sum of any output (see the module)."""
    weights, bias = np.asarray(weights, np.int64), np.asarray(bias, np.int64)
    return int(np.max(np.abs(weights).sum(axis=0) * int(max_input) + np.abs(bias)))


def check_exact(weights, bias, max_input, name="layer"):
    """Raise ``ValueError`` unless the layer's every partial sum is an integer below 2^24 in magnitude."""
    bound = accumulator_bound(weights, bias, max_input)
    if bound >= EXACT_FLOAT32_INTEGERS:
        raise ValueError(f"{name}: partial sums reach {bound} >= 2^24 for inputs up to {max_input}: float32 would "
                         f"round them; use fewer weight or activation bits")
    return bound


def integer_dense_numpy(h, weights, bias, shifts, lo, hi):
    """The reference in int64: ``clip(floor((h @ w + b) / 2^s), lo, hi)``; arrays of integers in, int64 out."""
    acc = np.asarray(h, np.int64) @ np.asarray(weights, np.int64) + np.asarray(bias, np.int64)
    shifts = np.asarray(shifts, np.int64)
    down = np.right_shift(acc, np.maximum(shifts, 0))           # floor division by 2^s (s >= 0)
    out = np.where(shifts >= 0, down, np.left_shift(acc, np.maximum(-shifts, 0)))
    return np.clip(out, lo, hi)


class IntegerDense(keras.layers.Layer):
    """``clip(floor((h @ w + b) * 2^-s), lo, hi)`` in float32 with integer ``w``, ``b`` (see the module).

    Args:
        kernel: integer weights ``[fan_in, units]``.
        bias: integer bias ``[units]`` (rounding offsets included).
        shifts: integer ``[units]``: the output is the sum divided by ``2^shift`` (a negative shift multiplies).
        lo, hi: integer clip bounds (``lo = 0``: a ReLU), scalars or ``[units]``.
        max_input: the largest input magnitude; the bit budget is checked against it.
    """

    def __init__(self, kernel, bias, shifts, lo, hi, max_input, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.int_weights = np.asarray(kernel, np.int64)
        self.int_bias = np.asarray(bias, np.int64)
        self.shifts = np.asarray(shifts, np.int64)
        self.lo = np.broadcast_to(np.asarray(lo, np.int64), self.int_bias.shape).copy()
        self.hi = np.broadcast_to(np.asarray(hi, np.int64), self.int_bias.shape).copy()
        self.max_input = int(max_input)
        units = self.int_weights.shape[1]
        if self.int_weights.ndim != 2 or self.int_bias.shape != (units,) or self.shifts.shape != (units,):
            raise ValueError(f"kernel must be [fan_in, units] with bias and shifts [units], got "
                             f"{self.int_weights.shape}, {self.int_bias.shape}, {self.shifts.shape}")
        check_exact(self.int_weights, self.int_bias, self.max_input, self.name)
        # Constants, not variables: a converter freezes nothing it could leave as READ_VARIABLE.
        self.kernel = self.int_weights.astype(np.float32)
        self.bias = self.int_bias.astype(np.float32)
        self.scale = np.ldexp(1.0, -self.shifts).astype(np.float32)

    def call(self, h):
        acc = keras.ops.matmul(h, self.kernel) + self.bias
        out = keras.ops.floor(acc * self.scale)
        return keras.ops.minimum(keras.ops.maximum(out, self.lo.astype(np.float32)), self.hi.astype(np.float32))

    def numpy(self, h):
        """The same layer in exact int64 arithmetic (the reference the float32 runtimes must equal)."""
        return integer_dense_numpy(h, self.int_weights, self.int_bias, self.shifts, self.lo, self.hi)
