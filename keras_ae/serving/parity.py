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
from keras_ae.serving.signatures import export_functions, probe_inputs


def probe_batch(model, data, size=32, seed=0):
    """Inputs for parity checks: the first ``size`` examples of ``data``, else uniform in [0, 1]."""
    if data is not None:
        return np.asarray(data[:size], np.float32)
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (size,) + tuple(model.data_shape)).astype(np.float32)


def _max_abs(a, b):
    """Largest absolute difference of two arrays of the same shape (0 for empty arrays)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def compare_outputs(model, run, x, signatures=None):
    """Max abs difference to Keras of every deterministic signature, with ``run(sig, inputs)``.

    Args:
        model: the Keras model.
        run: ``run(signature, {input_name: array}) -> {output_name: array}``.
        x: a probe batch ``[B, *data_shape]``; each signature's inputs come from its probe
            (``decode`` is fed the Keras codes of ``x``).
    Returns:
        ``({signature: {output: max abs error}}, {signature: {output: max abs Keras value}})``;
        the second dict puts an error on a scale. Stochastic signatures are left out, and those
        not in ``signatures`` (default: every declared one).
    """
    errors, scales = {}, {}
    for sig, (fn, specs) in export_functions(model, check_finite=False).items():
        endpoint = model.export_endpoints()[sig]
        if endpoint.stochastic or (signatures is not None and sig not in signatures):
            continue
        inputs = probe_inputs(model, endpoint, x)
        reference = {k: np.asarray(v) for k, v in
                     fn(*[tf.constant(inputs[spec.name], spec.dtype) for spec in specs]).items()}
        got = run(sig, {spec.name: np.asarray(inputs[spec.name], spec.dtype.as_numpy_dtype) for spec in specs})
        errors[sig] = {k: _max_abs(got[k], v) for k, v in reference.items()}
        scales[sig] = {k: float(np.max(np.abs(v))) if v.size else 0.0 for k, v in reference.items()}
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


def runner_parity(model, run, x, signatures=None):
    """Errors of ``run(sig, inputs)`` against the Keras model on the probe batch ``x``.

    Returns ``{"max_abs_error": ..., "keras_max_abs_value": ...}`` (see :func:`compare_outputs`)
    and ``"stochastic"``: for each stochastic signature whose output is data-shaped (``sample``),
    :func:`check_samples` of two draws; ``"sample"`` repeats that of ``sample`` for readers of
    older sidecars.
    """
    errors, scales = compare_outputs(model, run, x, signatures)
    result = {"max_abs_error": errors, "keras_max_abs_value": scales, "stochastic": {}}
    for sig, endpoint in model.export_endpoints().items():
        if not endpoint.stochastic or (signatures is not None and sig not in signatures):
            continue
        inputs = probe_inputs(model, endpoint, x)
        n = int(np.asarray(inputs["n"])) if "n" in inputs else len(x)

        def draw(_, sig=sig, inputs=inputs):
            outputs = run(sig, inputs)
            return next(iter(outputs.values())) if len(outputs) == 1 else outputs.get("x", outputs.get("reconstruction"))

        result["stochastic"][sig] = check_samples(model, draw, n)
    if "sample" in result["stochastic"]:
        result["sample"] = result["stochastic"]["sample"]
    return result


def max_parity_error(parity, signatures=("decode", "reconstruct")):
    """The largest error over ``signatures`` in a parity dict (from :func:`runner_parity`).

    A file holding none of ``signatures`` (a TFLite file of other signatures) gives the largest
    error over those it holds, and ``None`` when it holds no deterministic signature.
    """
    errors = {sig: values for sig, values in parity["max_abs_error"].items() if values}
    chosen = [sig for sig in signatures if sig in errors] or list(errors)
    return max(max(errors[sig].values()) for sig in chosen) if chosen else None


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
