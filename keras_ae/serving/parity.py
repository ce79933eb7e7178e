"""Measure an export against its Keras model: output parity, samples, latency and size.

Every check takes a ``run(signature, {input: array}) -> {output: array}`` callable, so the
same code measures a SavedModel (:func:`keras_ae.serving.saved_model_runner`), a TFLite file
(:func:`keras_ae.serving.tflite_runner`) or anything else that answers by signature.
"""

import math
import os
import time

import numpy as np
import tensorflow as tf

from keras_ae.serving.sidecar import data_range


def probe_batch(model, data, size=32, seed=0):
    """Inputs for parity checks: the first ``size`` examples of ``data``, else uniform in [0, 1]."""
    if data is not None:
        return np.asarray(data[:size], np.float32)
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (size,) + tuple(model.data_shape)).astype(np.float32)


def _keras_outputs(model, x):
    """Reference outputs of every deterministic signature, computed with the Keras model."""
    enc = {k: np.asarray(v, np.float32) for k, v in model.encode_outputs(tf.constant(x)).items()}
    z = enc["code"]
    return {
        "encode": enc,
        "decode": {"reconstruction": np.asarray(model.decode(z), np.float32)},
        "reconstruct": {"reconstruction": np.asarray(model.reconstruct(x), np.float32)},
        "score": {"score": np.asarray(model.score(x), np.float32)},
    }, z


def _max_abs(a, b):
    """Largest absolute difference of two arrays of the same shape (0 for empty arrays)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def compare_outputs(model, run, x):
    """Max abs difference to Keras of every deterministic signature, with ``run(sig, inputs)``.

    Args:
        model: the Keras model.
        run: ``run(signature, {input_name: array}) -> {output_name: array}``.
        x: a probe batch ``[B, *data_shape]``.
    Returns:
        ``({signature: {output: max abs error}}, {signature: {output: max abs Keras value}})``;
        ``decode`` is fed the Keras codes. The second dict puts an error on a scale.
    """
    reference, z = _keras_outputs(model, x)
    errors, scales = {}, {}
    for sig, outputs in reference.items():
        got = run(sig, {"z": z} if sig == "decode" else {"x": x})
        errors[sig] = {k: _max_abs(got[k], v) for k, v in outputs.items()}
        scales[sig] = {k: float(np.max(np.abs(v))) if v.size else 0.0 for k, v in outputs.items()}
    return errors, scales


def check_samples(model, draw, n=4):
    """Draw twice with ``draw(n) -> array`` and check shape, range and freshness.

    Returns ``{"shape": [...], "min", "max", "in_range", "fresh"}``; ``in_range`` is the data
    range check (``None`` for models whose data range is not bounded).
    """
    a, b = np.asarray(draw(n)), np.asarray(draw(n))
    expected = (n,) + tuple(model.data_shape)
    lo_hi = data_range(model)
    in_range = None if lo_hi is None else bool(a.min() >= lo_hi[0] - 1e-6 and a.max() <= lo_hi[1] + 1e-6)
    return {
        "shape": list(a.shape),
        "shape_ok": a.shape == expected and b.shape == expected,
        "min": float(a.min()),
        "max": float(a.max()),
        "in_range": in_range,
        "fresh": bool(not np.array_equal(a, b)),
        "finite": bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b))),
    }


def runner_parity(model, run, x):
    """Errors of ``run(sig, inputs)`` against the Keras model on the probe batch ``x``.

    Returns ``{"max_abs_error": ..., "keras_max_abs_value": ...}`` (see :func:`compare_outputs`),
    plus ``"sample"``: :func:`check_samples` of the ``sample`` signature for generative models.
    """
    errors, scales = compare_outputs(model, run, x)
    result = {"max_abs_error": errors, "keras_max_abs_value": scales}
    if getattr(model, "is_generative", False):
        result["sample"] = check_samples(model, lambda n: run("sample", {"n": np.array(n, np.int32)})["x"])
    return result


def max_parity_error(parity, signatures=("decode", "reconstruct")):
    """The largest error over ``signatures`` in a parity dict (from :func:`runner_parity`)."""
    errors = parity["max_abs_error"]
    return max(max(errors[s].values()) for s in signatures if s in errors)


def measure_latency(fn, repeats=20, warmup=2):
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def file_size(path):
    """Bytes of a file, or of every file under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def human_size(num_bytes):
    """``num_bytes`` in B, KiB, MiB or GiB with one decimal, e.g. ``"1.5 KiB"``."""
    if num_bytes < 1024:
        return f"{num_bytes} B"
    exponent = min(int(math.log(num_bytes, 1024)), 3)
    return f"{num_bytes / 1024 ** exponent:.1f} {['B', 'KiB', 'MiB', 'GiB'][exponent]}"
