"""A VAE's coding network in exact integer arithmetic, and its export: bits-back coding that any runtime reproduces.

Bits-back ANS (:mod:`keras_ae.evaluation.compression`, Townsend et al. 2019) codes with the
posterior ``q(z|x)`` and the likelihood ``p(x|z)``; the receiver must compute every probability
exactly as the sender did, or the ANS stack desynchronizes. The SavedModel (TF kernels) and the
TFLite file (LiteRT/XNNPack) differ by float round-off, so rounding their float outputs to
integers still straddles rounding boundaries now and then. Here the networks are *integer
networks* (Ballé, Johnston & Minnen 2019, "Integer networks for data compression with
latent-variable models"): every layer is a :class:`~keras_ae.layers.integer_dense.IntegerDense`,
exact in float32 in any summation order (its docstring derives the bit budget), so the Keras
layers, the SavedModel and the TFLite file return the same integers. The coder's probabilities
are integer tables indexed by those integers, built once here and shipped inside the exported
files: the receiver computes no transcendental function at all.

The discretization (integers everywhere)::

    latent bucket      i in [-K, K], centre z = i * delta, delta = 2^-latent_step_bits
    posterior          mean index m = round(mu(x) / delta) in [-M, M];  scale index r:
                       raw = r * 2^-scale_step_bits (clipped), sigma_r = softplus(raw) + min_scale
                       Q(i = m + k) = Phi((k + 1/2) delta / sigma_r) - Phi((k - 1/2) delta / sigma_r),
                       |k| <= W_r = ceil(width_sigmas * sigma_r / delta)
    prior              P(i) = N(0, 1) mass of [(i - 1/2) delta, (i + 1/2) delta] (tails in the end buckets)
    likelihood         logit index l in [-L, L], p(x_d = 1 | z) = sigmoid(l * 2^-logit_step_bits)

each as integer counts out of ``2^24`` (at least 1). The net cost of an image is
``-log2 p(x|z) - log2 P(i) + log2 Q(i|x)`` bits, whose mean is the negative ELBO of the
quantized networks; the post-hoc quantization of a trained VAE's weights costs what
:func:`quantize_vae`'s measurement says.

The networks are read from an MLP VAE (``architecture="mlp"``, ReLU hidden layers) with the
Gaussian posterior, the standard normal prior and the Bernoulli likelihood, as the ``vae-digits``
and ``vae-mnist`` recipes; another model is a ``ValueError`` naming what differs.

Example::

    coder = quantize_vae(model, x_train)             # calibrates the activation grids on x_train
    write_coder(coder, "exports/vae-digits-coder")   # saved_model/ and coder.tflite
"""

import hashlib
import os
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from scipy import special

from keras_ae import _checks
from keras_ae.layers.integer_dense import IntegerDense, integer_dense_numpy
from keras_ae.training.atomic import atomic_directory

#: counts of every probability table sum to about 2^24 (constriction's default ANS precision).
TABLE_BITS = 24
#: Defaults, measured on a trained ``vae-digits`` run (150 epochs; full statically binarized test
#: split, 360 images; ``python benchmarks/integer_coder_bits.py RUN_DIR``, docs/families/analysis.md):
#: the expected rate with 10-bit activations and 12-bit weights is 0.5241 bits/dim against the
#: float model's 0.5239 (standard error 0.0002); 8/8 bits 0.5239, 6/8 bits 0.5242, 16/16 bits
#: 0.5410 (the sum budget below 2^24 then leaves each weight channel too few bits).
ACTIVATION_BITS = 10
WEIGHT_BITS = 12
#: latent buckets of width 2^-7 (0.0078), far below the posterior scales of the trained digits VAE
#: (0.26 .. 0.92); widths 2^-5 and 2^-8 measured the same rate (0.5241).
LATENT_STEP_BITS = 7
#: posterior means clipped to +-4 prior standard deviations; posterior widths to 6 scales.
MEAN_LIMIT = 4.0
WIDTH_SIGMAS = 6.0
#: the posterior's raw scale (before softplus) on a grid of 2^-4, clipped to [-8, 2] (scales
#: 3.4e-4 .. 2.13): a step changes sigma by at most 6%.
SCALE_STEP_BITS = 4
RAW_SCALE_RANGE = (-8.0, 2.0)
#: Bernoulli logits on a grid of 2^-5, clipped to +-16 (p in [1.1e-7, 1 - 1.1e-7]).
LOGIT_STEP_BITS = 5
LOGIT_LIMIT = 16.0


class IntegerCoder(NamedTuple):
    """The integer networks and the integer tables: everything both ends of the coder need."""

    encoder: tuple          # IntegerDense layers: binary x (flat) -> [B, 2 D] interleaved (mean index, raw index)
    decoder: tuple          # IntegerDense layers: latent index [B, D] -> logit index [B, prod(data_shape)]
    data_shape: tuple
    tables: dict            # name -> int32 array (see :func:`coder_tables`)

    @property
    def latent_dim(self):
        return int(self.tables["latent_dim"])

    def posterior_indices(self, x):
        """``(mean index, scale index)`` ``[B, D]`` int64 of binary images ``x``: the exact reference."""
        h = np.asarray(x, np.int64).reshape(len(x), -1)
        for layer in self.encoder:
            h = layer.numpy(h)
        h = h.reshape(len(x), self.latent_dim, 2)
        return h[..., 0], h[..., 1] - int(self.tables["raw_lo"])

    def logit_indices(self, latent_index):
        """Logit indices ``[B, *data_shape]`` int64 of latent bucket indices ``[B, D]``: the exact reference."""
        h = np.asarray(latent_index, np.int64)
        for layer in self.decoder:
            h = layer.numpy(h)
        return h.reshape((len(h),) + tuple(self.data_shape))


# -- reading the VAE ---------------------------------------------------------------------------
def _dense_chain(model):
    """``(encoder denses, decoder denses)`` of an MLP VAE with the parts this coder supports."""
    from keras_ae import parts

    from keras_ae.evaluation.compression import check_bits_back_model

    check_bits_back_model(model, "integer bits-back coding")
    kinds = model.parts
    wanted = {"posterior": parts.GaussianPosterior, "prior": parts.StandardNormal, "likelihood": parts.Bernoulli}
    for kind, cls in wanted.items():
        if type(kinds[kind]) is not cls:
            raise ValueError(f"the integer coder needs the {cls.__name__} {kind}, {type(model).__name__} has "
                             f"{type(kinds[kind]).__name__}")
    if kinds["posterior"].head.scale_mode != "learned":
        raise ValueError("the integer coder needs the posterior's learned scale")
    chains = []
    for body, head in ((model.encoder_body, kinds["posterior"].head), (model.decoder_body, kinds["likelihood"].head)):
        if body.architecture != "mlp" or body.activation != "relu":
            raise ValueError(f"the integer coder needs an MLP body with ReLU activations, got "
                             f"architecture={body.architecture!r}, activation={body.activation!r}")
        denses = [layer for layer in body.stack if isinstance(layer, keras.layers.Dense)]
        chains.append(denses + [head.projection.proj])
    return chains


def _float_forward(denses, h):
    """Float64 activations of every hidden layer (ReLU) for calibration."""
    outs = []
    for layer in denses[:-1]:
        w, b = (np.asarray(v, np.float64) for v in layer.get_weights())
        h = np.maximum(h @ w + b, 0.0)
        outs.append(h)
    return outs


def _quantize_layer(layer, in_bits, in_max, out_bits, lo, hi, weight_bits, name):
    """One :class:`IntegerDense` from a float ``Dense``.

    Inputs are integers ``h`` for ``h * 2^-in_bits`` of magnitude <= ``in_max``; output ``j`` is
    the integer nearest ``value_j * 2^out_bits[j]``. Weights of channel ``j`` are
    ``round(w_ij * 2^e_j)`` with the largest ``e_j`` that keeps them below ``2^(weight_bits-1)``
    and the channel's partial sums below 2^23 (half the exact range: room for the bias).
    """
    w, b = (np.asarray(v, np.float64) for v in layer.get_weights())
    units = w.shape[1]
    out_bits = np.broadcast_to(np.asarray(out_bits, np.int64), (units,))
    kernel, bias, shifts = np.zeros(w.shape, np.int64), np.zeros(units, np.int64), np.zeros(units, np.int64)
    cap = 2 ** (weight_bits - 1) - 1
    for j in range(units):
        peak = max(np.max(np.abs(w[:, j])), 1e-30)
        e = int(np.floor(np.log2(cap / peak)))
        while True:
            wj = np.round(w[:, j] * 2.0 ** e).astype(np.int64)
            if np.abs(wj).max() <= cap and np.abs(wj).sum() * in_max < 2 ** 23:
                break
            e -= 1
        s = e + in_bits - int(out_bits[j])
        kernel[:, j] = wj
        bias[j] = int(np.round(b[j] * 2.0 ** (e + in_bits))) + (2 ** (s - 1) if s > 0 else 0)
        shifts[j] = s
    return IntegerDense(kernel, bias, shifts, lo, hi, in_max, name=name)


def quantize_vae(model, calibration_x, activation_bits=ACTIVATION_BITS, weight_bits=WEIGHT_BITS,
                 latent_step_bits=LATENT_STEP_BITS, scale_step_bits=SCALE_STEP_BITS, logit_step_bits=LOGIT_STEP_BITS):
    """The :class:`IntegerCoder` of a trained MLP VAE (see the module for the supported parts).

    Each hidden layer's activations live on the grid ``2^-a`` with the largest ``a`` that keeps the
    largest activation of ``calibration_x`` (binary images, e.g. the training split) at or below
    ``2^activation_bits - 1``; larger ones are clipped there.

    Args:
        model: the trained VAE.
        calibration_x: binary images ``[N, *data_shape]`` that set the activation grids.
        activation_bits: bits of a hidden activation (unsigned), default 10.
        weight_bits: bits of a weight (signed), default 12.
        latent_step_bits: latent buckets of width ``2^-latent_step_bits``, default 7.
        scale_step_bits, logit_step_bits: grids of the raw posterior scale (4) and of the logits (5).
    """
    encoder, decoder = _dense_chain(model)
    data_shape = tuple(model.data_shape)
    x = np.asarray(calibration_x)
    if x.ndim != len(data_shape) + 1 or x.shape[1:] != data_shape or not np.all((x == 0) | (x == 1)):
        raise ValueError(f"calibration_x must be binary images [N, {', '.join(map(str, data_shape))}], got shape "
                         f"{x.shape}")
    for name, value, top in (("activation_bits", activation_bits, 16), ("weight_bits", weight_bits, 16),
                             ("latent_step_bits", latent_step_bits, 10), ("scale_step_bits", scale_step_bits, 8),
                             ("logit_step_bits", logit_step_bits, 10)):
        _checks.check_integer(value, name, minimum=2, maximum=top)
    latent_dim = int(model.latent_dim)
    hidden_max = 2 ** activation_bits - 1
    tables = coder_tables(latent_dim, latent_step_bits, scale_step_bits, logit_step_bits,
                          float(model.posterior_min_scale))
    raw_lo, raw_hi = int(tables["raw_lo"]), int(tables["raw_hi"])
    mean_max, logit_max = int(tables["mean_limit"]), int(tables["logit_limit"])

    def chain(denses, h0, in_bits, in_max, head_bits, head_lo, head_hi, prefix):
        layers = []
        grids = [in_bits]
        for act in _float_forward(denses, h0):
            peak = max(float(act.max()), 1e-30)
            grids.append(int(np.floor(np.log2(hidden_max / peak))))
        for n, dense in enumerate(denses):
            last = n == len(denses) - 1
            layers.append(_quantize_layer(dense, grids[n], in_max if n == 0 else hidden_max,
                                          head_bits if last else grids[n + 1], head_lo if last else 0,
                                          head_hi if last else hidden_max, weight_bits, f"{prefix}_{n}"))
        return tuple(layers)

    flat = x.reshape(len(x), -1).astype(np.float64)
    interleave = lambda a, b: np.stack([np.full(latent_dim, a), np.full(latent_dim, b)], -1).reshape(-1)  # noqa: E731
    enc = chain(encoder, flat, 0, 1, interleave(latent_step_bits, scale_step_bits), interleave(-mean_max, raw_lo),
                interleave(mean_max, raw_hi), "encoder")
    # The decoder's inputs: bucket indices i for z = i * 2^-latent_step_bits; calibrated on the
    # posterior means of the calibration images.
    means = np.asarray(model.encode(x.astype(np.float32)), np.float64)
    dec = chain(decoder, means, latent_step_bits, int(tables["latent_limit"]), logit_step_bits, -logit_max,
                logit_max, "decoder")
    tables["fingerprint"] = _fingerprint(enc + dec, tables)
    return IntegerCoder(enc, dec, data_shape, tables)


# -- the integer tables --------------------------------------------------------------------------
def _counts(probs):
    """Integer counts out of ``2^TABLE_BITS``, each at least 1 (every symbol stays codable)."""
    return np.maximum(np.round(np.asarray(probs, np.float64) * 2.0 ** TABLE_BITS), 1).astype(np.int32)


def coder_tables(latent_dim, latent_step_bits, scale_step_bits, logit_step_bits, min_scale):
    """The integer tables of the coder (int32 arrays; the module docstring gives the math).

    ``prior`` over ``i + K``; ``posterior`` the rows of every scale index, flattened, row ``r``
    at ``posterior_start[r]`` with half-width ``posterior_width[r]`` (offset ``k + W_r``);
    ``bernoulli`` the counts of ``x = 1`` for ``l + L``; and the grid's integers.
    """
    delta = 2.0 ** -latent_step_bits
    raw_lo, raw_hi = (int(np.round(v * 2 ** scale_step_bits)) for v in RAW_SCALE_RANGE)
    raw = np.arange(raw_lo, raw_hi + 1) * 2.0 ** -scale_step_bits
    sigma = np.logaddexp(0.0, raw) + min_scale
    widths = np.ceil(WIDTH_SIGMAS * sigma / delta).astype(np.int64)
    rows = []
    for s, w in zip(sigma, widths):
        edges = (np.arange(-w, w + 2) - 0.5) * delta / s
        rows.append(_counts(np.diff(special.ndtr(edges))))
    mean_limit = int(np.round(MEAN_LIMIT / delta))
    latent_limit = mean_limit + int(widths.max())
    edges = (np.arange(-latent_limit, latent_limit + 2) - 0.5) * delta
    edges[0], edges[-1] = -np.inf, np.inf
    logit_limit = int(np.round(LOGIT_LIMIT * 2 ** logit_step_bits))
    p1 = special.expit(np.arange(-logit_limit, logit_limit + 1) * 2.0 ** -logit_step_bits)
    scalar = lambda v: np.asarray(v, np.int32)  # noqa: E731
    return {
        "prior": _counts(np.diff(special.ndtr(edges))),
        "posterior": np.concatenate(rows),
        "posterior_start": np.concatenate([[0], np.cumsum([len(r) for r in rows])[:-1]]).astype(np.int32),
        "posterior_width": widths.astype(np.int32),
        "bernoulli": np.minimum(_counts(p1), 2 ** TABLE_BITS - 1).astype(np.int32),
        "latent_dim": scalar(latent_dim), "latent_limit": scalar(latent_limit), "mean_limit": scalar(mean_limit),
        "raw_lo": scalar(raw_lo), "raw_hi": scalar(raw_hi), "logit_limit": scalar(logit_limit),
        "table_bits": scalar(TABLE_BITS),
    }


def _fingerprint(layers, tables):
    """Eight int32 of the SHA-256 of every integer weight and table: a message names the coder it needs."""
    digest = hashlib.sha256()
    for layer in layers:
        for a in (layer.int_weights, layer.int_bias, layer.shifts, layer.lo, layer.hi):
            digest.update(np.ascontiguousarray(a, np.int64).tobytes())
    for name in sorted(tables):
        digest.update(name.encode() + np.ascontiguousarray(tables[name], np.int64).tobytes())
    return np.frombuffer(digest.digest(), np.int32).copy()


# -- Keras, SavedModel and TFLite ------------------------------------------------------------------
class CodingModule(tf.Module):
    """The coder's three signatures: ``posterior_indices``, ``logit_indices`` and ``tables``.

    - ``posterior_indices(x float32 [B, *data_shape], binary)`` -> ``mean_index``, ``scale_index`` int32 ``[B, D]``;
    - ``logit_indices(latent_index int32 [B, D])`` -> ``logit_index`` int32 ``[B, *data_shape]``;
    - ``tables(x)`` -> the integer tables (constants; ``x`` is ignored: a signature needs an input).
    """

    def __init__(self, coder: IntegerCoder):
        super().__init__()
        self.encoder_layers = list(coder.encoder)
        self.decoder_layers = list(coder.decoder)
        self.data_shape = tuple(coder.data_shape)
        self.latent_dim = coder.latent_dim
        self.raw_lo = float(coder.tables["raw_lo"])
        self.table_values = {k: np.atleast_1d(v).astype(np.int32) for k, v in coder.tables.items()}
        d = self.latent_dim
        self.posterior_indices = tf.function(
            self._posterior_indices, input_signature=[tf.TensorSpec((None,) + self.data_shape, tf.float32, "x")])
        self.logit_indices = tf.function(
            self._logit_indices, input_signature=[tf.TensorSpec((None, d), tf.int32, "latent_index")])
        self.tables = tf.function(self._tables, input_signature=[tf.TensorSpec((1,), tf.int32, "x")])

    def _posterior_indices(self, x):
        h = tf.reshape(x, [-1, int(np.prod(self.data_shape))])
        for layer in self.encoder_layers:
            h = layer(h)
        h = tf.reshape(h, [-1, self.latent_dim, 2])
        return {"mean_index": tf.cast(h[..., 0], tf.int32), "scale_index": tf.cast(h[..., 1] - self.raw_lo, tf.int32)}

    def _logit_indices(self, latent_index):
        h = tf.cast(latent_index, tf.float32)
        for layer in self.decoder_layers:
            h = layer(h)
        return {"logit_index": tf.cast(tf.reshape(h, (-1,) + self.data_shape), tf.int32)}

    def _tables(self, x):
        return {k: tf.constant(v) for k, v in self.table_values.items()}

    def signatures(self):
        return {"posterior_indices": self.posterior_indices, "logit_indices": self.logit_indices,
                "tables": self.tables}


SIGNATURES = ("posterior_indices", "logit_indices", "tables")
TFLITE_NAME = "coder.tflite"


def write_coder(coder: IntegerCoder, directory):
    """Write ``directory/saved_model/`` (the three signatures) and ``directory/coder.tflite`` (builtin ops only).

    The folder appears whole or not at all, and is never overwritten. Returns ``directory``.
    """
    with atomic_directory(directory) as tmp:
        module = CodingModule(coder)
        saved = os.path.join(tmp, "saved_model")
        tf.saved_model.save(module, saved, signatures=module.signatures())
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=list(SIGNATURES))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # a custom op fails here
        with open(os.path.join(tmp, TFLITE_NAME), "wb") as f:
            f.write(converter.convert())
    return directory


# -- the expected rate -----------------------------------------------------------------------------
def expected_bits(coder: IntegerCoder, x, num_samples=100, seed=0):
    """Expected net bits per image of the integer coder (its negative ELBO in bits, from the tables).

    The coder's cost of image ``x`` with the latent ``i ~ Q(i|x)`` popped off the stack is
    ``c(i) = -log2 p(x|i) - log2 P(i) + log2 Q(i|x)``; its mean is ``KL(Q || P)`` (exact: sums over
    the table rows) plus ``E_Q[-log2 p(x|i)]`` (``num_samples`` draws of ``Q``). The tables'
    probabilities are used as they are (``constriction`` rounds them once more, to 24-bit fixed
    point, which moves a rate far less than its sampling noise).

    Returns ``(mean [N], std [N])``: the expected cost and the standard deviation of ``c(i)`` over
    ``Q`` (the noise of one coded image).
    """
    t = coder.tables
    x = np.asarray(x)
    prior = t["prior"] / t["prior"].sum()
    means, scales = coder.posterior_indices(x)
    K, L = int(t["latent_limit"]), int(t["logit_limit"])
    n, d = means.shape
    kl = np.zeros(n)
    rng = np.random.default_rng(seed)
    draws = np.zeros((num_samples, n, d), np.int64)
    log_ratio = np.zeros((num_samples, n))      # log2 Q(i|x) - log2 P(i) at the draws
    for row in np.unique(scales):
        start, width = int(t["posterior_start"][row]), int(t["posterior_width"][row])
        q = t["posterior"][start:start + 2 * width + 1].astype(np.float64)
        q /= q.sum()
        where = np.nonzero(scales == row)
        p = prior[means[where][:, None] + np.arange(-width, width + 1)[None] + K]
        np.add.at(kl, where[0], np.sum(q * np.log2(q / p), axis=1))
        k = np.minimum(np.searchsorted(np.cumsum(q), rng.uniform(size=(num_samples, len(where[0])))), 2 * width)
        draws[:, where[0], where[1]] = means[where][None] + k - width
        ratio = np.log2(q[k]) - np.log2(np.take_along_axis(p, k.T, axis=1).T)
        for s in range(num_samples):
            np.add.at(log_ratio[s], where[0], ratio[s])
    p1 = t["bernoulli"] / 2.0 ** int(t["table_bits"])
    flat = x.reshape(n, -1).astype(bool)
    nll = np.zeros((num_samples, n))
    for s in range(num_samples):
        probs = p1[coder.logit_indices(draws[s]).reshape(n, -1) + L]
        nll[s] = -np.sum(np.where(flat, np.log2(probs), np.log2(1 - probs)), axis=1)
    return kl + nll.mean(0), (nll + log_ratio).std(0, ddof=1)
