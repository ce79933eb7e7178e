"""Export for serving: SavedModel signatures for TF Serving, builtin-only TFLite, parity checks.

A SavedModel written here loads in a process that never imports ``keras_ae`` (as TF Serving
does) and has these signatures, each with named inputs, dict outputs and a dynamic batch axis:

=============== ============================ ===============================================
signature       inputs                       outputs
=============== ============================ ===============================================
encode          ``x`` [B, *data_shape]       ``code`` [B, latent] (+ ``mean``, ``scale``, ...
                                             for probabilistic encoders)
decode          ``z`` [B, latent]            ``reconstruction`` [B, *data_shape]
reconstruct     ``x`` [B, *data_shape]       ``reconstruction`` [B, *data_shape]
score           ``x`` [B, *data_shape]       ``score`` [B] (anomaly score, larger = worse)
sample          ``n`` scalar int32           ``x`` [n, *data_shape], fresh noise every call
                                             (generative models only)
=============== ============================ ===============================================

``serving_default`` is ``reconstruct``. Inputs with NaN or infinite values make the SavedModel
signature fail (``CheckNumerics``) instead of answering NaN. The TFLite file has the same
signatures (its graph has no such check: TFLite has no builtin for it, validate on the device).

Example::

    from keras_ae import serving
    path = serving.export_saved_model(model, "/models", "ae")          # /models/ae/1
    info = serving.export_tflite(model, "ae.tflite", quantization="float16")
    print(info["parity"])
"""

import json
import math
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from keras_ae.training import atomic_directory, atomic_write_bytes, atomic_write_json

#: Signature names every model has; generative models add ``"sample"``.
BASE_SIGNATURES = ("encode", "decode", "reconstruct", "score")
#: Accepted ``quantization`` values of :func:`export_tflite`.
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
#: Output name of each signature that has a single output.
OUTPUT_NAMES = {"decode": "reconstruction", "reconstruct": "reconstruction", "score": "score", "sample": "x"}
#: Input name of each signature.
INPUT_NAMES = {"encode": "x", "decode": "z", "reconstruct": "x", "score": "x", "sample": "n"}


class ExportError(ValueError):
    """An export that cannot be done as asked (bad version, quantization, calibration data)."""


# -- the export graph ------------------------------------------------------------------------
def signature_names(model):
    """Names of the signatures ``model`` exports: the base four, plus ``sample`` if generative."""
    return BASE_SIGNATURES + (("sample",) if getattr(model, "is_generative", False) else ())


def _check_exportable(model):
    for attr in ("encode_outputs", "decode", "reconstruct", "score", "data_shape", "latent_dim"):
        if not hasattr(model, attr):
            raise ExportError(f"{type(model).__name__} does not follow the keras_ae model contract: no {attr}")
    if not model.built:
        model.build()


def _finite(t, name, check):
    # CheckNumerics turns a NaN request into an InvalidArgument error (HTTP 400 in TF Serving).
    t = tf.cast(t, tf.float32)
    if check:
        t = tf.debugging.assert_all_finite(t, f"{name} contains NaN or infinite values")
    return t


def export_functions(model, check_finite=True):
    """The export endpoints of ``model``: ``{signature: (fn, [input TensorSpec])}``.

    Args:
        model: a built keras_ae model.
        check_finite: put a NaN/inf check on every float input (SavedModel); TFLite graphs are
            built without it, default True.
    Returns:
        an ordered dict; ``reconstruct`` comes first (it becomes ``serving_default``).

    Example: ``fn, spec = export_functions(model)["encode"]``.
    """
    _check_exportable(model)
    x_spec = tf.TensorSpec((None,) + tuple(model.data_shape), tf.float32, name="x")
    z_spec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")

    def reconstruct(x):
        return {"reconstruction": tf.cast(model.reconstruct(_finite(x, "x", check_finite)), tf.float32)}

    def encode(x):
        outputs = model.encode_outputs(_finite(x, "x", check_finite))
        return {k: tf.cast(v, tf.float32) for k, v in outputs.items()}

    def decode(z):
        return {"reconstruction": tf.cast(model.decode(_finite(z, "z", check_finite)), tf.float32)}

    def score(x):
        return {"score": tf.cast(model.score(_finite(x, "x", check_finite)), tf.float32)}

    functions = {
        "reconstruct": (reconstruct, [x_spec]),
        "encode": (encode, [x_spec]),
        "decode": (decode, [z_spec]),
        "score": (score, [x_spec]),
    }
    if getattr(model, "is_generative", False):
        def sample(n):
            if check_finite:
                # An explicit dependency: automatic control dependencies do not order the
                # assertion before the random ops, which would then fail first with a vaguer error.
                with tf.control_dependencies([tf.debugging.assert_non_negative(n, message="n must be >= 0")]):
                    n = tf.identity(n)
            return {"x": tf.cast(model.sample_for_export(n), tf.float32)}

        functions["sample"] = (sample, [tf.TensorSpec((), tf.int32, name="n")])
    return functions


def build_export_archive(model, check_finite=True):
    """A ``keras.export.ExportArchive`` tracking ``model`` with every export signature.

    Example: ``build_export_archive(model).write_out("/tmp/sm", verbose=False)``.
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, spec) in export_functions(model, check_finite).items():
        archive.add_endpoint(name, fn, input_signature=spec)
    return archive


def _write_saved_model(model, path, check_finite=True):
    build_export_archive(model, check_finite).write_out(path, verbose=False)


# -- SavedModel ------------------------------------------------------------------------------
def _version_numbers(model_dir):
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir) if re.fullmatch(r"\d+", d))


def next_version(base_dir, name):
    """The next free integer version under ``base_dir/name`` (1 for a new model)."""
    versions = _version_numbers(os.path.join(base_dir, name))
    return versions[-1] + 1 if versions else 1


def check_version(base_dir, name, version):
    """Validate a requested version: a positive integer that is not exported yet. Returns it."""
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or int(version) < 1:
        raise ExportError(f"version must be a positive integer, got {version!r}")
    path = os.path.join(base_dir, name, str(int(version)))
    if os.path.exists(path):
        raise ExportError(f"{path} already exists; an exported version is never overwritten")
    return int(version)


def check_model_name(name):
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(name)):
        raise ExportError(f"model name must be letters, digits, '.', '_' or '-', got {name!r}")
    return str(name)


def export_saved_model(model, base_dir, name, version=None):
    """Write ``model`` as a SavedModel to ``base_dir/name/version/`` (the TF Serving layout).

    The SavedModel is written to a temporary sibling folder (its name starts with a dot, which
    TF Serving ignores) and renamed when complete, so a running server never sees half a model.

    Args:
        model: a keras_ae model (built, or buildable from its config).
        base_dir: the model base folder (what TF Serving's ``base_path`` points at, minus ``name``).
        name: the model name, e.g. ``"ae-digits"``.
        version: a positive integer; default: the next free version (1 for a new model). An
            existing version raises :class:`ExportError` and is left untouched.
    Returns:
        the path of the version folder.

    Example::

        path = export_saved_model(model, "/tmp/models", "ae")
        served = tf.saved_model.load(path)
        served.signatures["reconstruct"](x=tf.zeros([1, 8, 8, 1]))["reconstruction"]
    """
    name = check_model_name(name)
    _check_exportable(model)
    version = next_version(base_dir, name) if version is None else check_version(base_dir, name, version)
    final = os.path.join(base_dir, name, str(version))
    try:
        with atomic_directory(final) as tmp:
            _write_saved_model(model, tmp)
    except FileExistsError as e:
        raise ExportError(str(e)) from None
    return final


# -- TFLite ----------------------------------------------------------------------------------
def check_quantization(quantization):
    if quantization not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}")
    return quantization


def check_representative_data(model, data, min_examples=1):
    """Validate calibration data for ``model``: ``[N, *data_shape]``, finite. Returns float32 numpy.

    Example: ``x = check_representative_data(model, x_train[:200])``.
    """
    if isinstance(data, tuple) and len(data) == 2:  # (x, y) as keras_ae.data.load_arrays returns
        data = data[0]
    try:
        arr = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ExportError(f"representative data must be a numeric array: {e}") from None
    shape = tuple(model.data_shape)
    if arr.ndim != len(shape) + 1 or tuple(arr.shape[1:]) != shape:
        raise ExportError(
            f"representative data must have shape (N,) + {shape} to match the model, got {tuple(arr.shape)}"
        )
    if len(arr) < min_examples:
        raise ExportError(f"representative data needs at least {min_examples} examples, got {len(arr)}")
    if not np.all(np.isfinite(arr)):
        raise ExportError("representative data contains NaN or infinite values")
    return arr


def data_range(model, data=None):
    """``[low, high]`` of the model's data: [0, 1] for Bernoulli-type models, else from ``data``."""
    if getattr(model, "unit_interval_data", False):
        return [0.0, 1.0]
    if data is not None and len(data):
        return [float(np.min(data)), float(np.max(data))]
    return None


def probe_batch(model, data, size=32, seed=0):
    """Inputs for parity checks: the first ``size`` examples of ``data``, else uniform in [0, 1]."""
    if data is not None:
        return np.asarray(data[:size], np.float32)
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (size,) + tuple(model.data_shape)).astype(np.float32)


def _calibration_examples(model, data, num_calibration):
    """``(signature, {input: batch-of-1})`` pairs covering every signature, for int8 calibration."""
    x = data[:num_calibration]
    z = np.asarray(model.encode(x), np.float32)
    names = signature_names(model)
    for i in range(len(x)):
        for sig in names:
            if sig == "decode":
                yield sig, {"z": z[i:i + 1]}
            elif sig == "sample":
                yield sig, {"n": np.array(1, np.int32)}
            else:
                yield sig, {"x": x[i:i + 1]}


def convert_tflite(model, quantization="none", representative_data=None, num_calibration=200):
    """Convert ``model`` to TFLite flatbuffer bytes with every signature, builtin ops only.

    Args:
        model: a keras_ae model.
        quantization: ``"none"`` (float32), ``"float16"`` (float16 weights), ``"dynamic"`` (int8
            weights, float activations) or ``"int8"`` (int8 weights and activations, calibrated
            on ``representative_data``; the interface stays float32: inputs are quantized and
            outputs dequantized inside the model).
        representative_data: ``[N, *data_shape]`` training examples, required for ``"int8"``.
        num_calibration: examples used for calibration, default 200.
    Returns:
        ``(flatbuffer bytes, ops note)``: the note says which op sets the converter was allowed.

    Example: ``blob, _ = convert_tflite(model, "dynamic")``.
    """
    check_quantization(quantization)
    _check_exportable(model)
    if quantization == "int8":
        if representative_data is None:
            raise ExportError("int8 quantization needs representative_data (training examples)")
        representative_data = check_representative_data(model, representative_data)
    names = list(signature_names(model))
    with tempfile.TemporaryDirectory(prefix="keras_ae_tflite_") as tmp:
        _write_saved_model(model, tmp, check_finite=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=names)
        if quantization == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantization == "int8":
            calibration = list(_calibration_examples(model, representative_data, num_calibration))
            return _convert_int8_in_child(tmp, names, calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return converter.convert(), "builtins"


# The int8 quantizer runs in a child process: on some graphs (e.g. the continuous Bernoulli
# likelihood, with TF 2.21's converter) it dies with a segmentation fault, which would take the
# whole export down with it; in a child it becomes an ExportError and nothing is written.
_INT8_CONVERTER_SCRIPT = r"""
import pickle, sys
import tensorflow as tf
saved_model, names_and_calibration, out = sys.argv[1:4]
with open(names_and_calibration, "rb") as f:
    names, calibration = pickle.load(f)
def convert(ops):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=names)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(calibration)
    converter.target_spec.supported_ops = ops
    return converter.convert()
note = "builtins-int8"
try:
    blob = convert([tf.lite.OpsSet.TFLITE_BUILTINS_INT8])
except Exception as e:
    # The sampler's random ops have float kernels only: let them (and nothing but builtins)
    # stay float while every quantizable op runs in int8.
    note = f"builtins-int8 with float builtins where int8 has no kernel ({type(e).__name__} with int8 only)"
    blob = convert([tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS])
with open(out, "wb") as f:
    f.write(blob)
with open(out + ".note", "w") as f:
    f.write(note)
"""


def _convert_int8_in_child(saved_model_dir, names, calibration):
    """Run the int8 conversion of ``saved_model_dir`` in a child process; ``(blob, note)``."""
    with tempfile.TemporaryDirectory(prefix="keras_ae_int8_") as folder:
        inputs = os.path.join(folder, "calibration.pkl")
        out = os.path.join(folder, "model.int8.tflite")
        with open(inputs, "wb") as f:
            pickle.dump((names, calibration), f)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run([sys.executable, "-c", _INT8_CONVERTER_SCRIPT, saved_model_dir, inputs, out],
                                capture_output=True, text=True, env=env)
        if result.returncode != 0:
            cause = (f"crashed with signal {-result.returncode}" if result.returncode < 0
                     else "failed: " + (result.stderr.strip().splitlines() or ["no message"])[-1])
            raise ExportError(f"the TFLite int8 converter {cause}; this model exports with the other "
                              "quantizations (none, float16, dynamic)")
        with open(out, "rb") as f:
            blob = f.read()
        with open(out + ".note") as f:
            return blob, f.read()


def litert_interpreter(model_path=None, model_content=None, num_threads=1):
    """An ``ai_edge_litert`` interpreter (``tf.lite.Interpreter`` is deprecated)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("running TFLite models needs ai-edge-litert: pip install ai-edge-litert") from e
    return Interpreter(model_path=model_path, model_content=model_content, num_threads=num_threads)


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


def tflite_runner(interpreter):
    """``run(signature, inputs)`` over an ai_edge_litert interpreter (dynamic batch via resize)."""
    runners = {}

    def run(sig, inputs):
        if sig not in runners:
            runners[sig] = interpreter.get_signature_runner(sig)
        return runners[sig](**inputs)

    return run


def tflite_parity(model, tflite_path, x):
    """Errors of a TFLite file against the Keras model on the probe batch ``x``.

    Returns ``{"max_abs_error": {signature: {output: err}}, "sample": check_samples(...)}``.

    Example: ``tflite_parity(model, "ae.tflite", x_test[:32])["max_abs_error"]["reconstruct"]``.
    """
    run = tflite_runner(litert_interpreter(model_path=tflite_path))
    errors, scales = compare_outputs(model, run, x)
    result = {"max_abs_error": errors, "keras_max_abs_value": scales}
    if getattr(model, "is_generative", False):
        result["sample"] = check_samples(model, lambda n: run("sample", {"n": np.array(n, np.int32)})["x"])
    return result


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


def sidecar_path(tflite_path):
    """``model.tflite`` -> ``model.json``: where :func:`export_tflite` writes the metadata."""
    root, _ = os.path.splitext(tflite_path)
    return root + ".json"


def export_tflite(model, path, quantization="none", representative_data=None, num_calibration=200,
                  probe_data=None, measure_parity=True):
    """Write a builtin-ops-only ``.tflite`` with every signature, and a JSON sidecar next to it.

    The batch axis is dynamic (``-1`` in the shape signature); a runtime resizes the input, which
    ``get_signature_runner`` does by itself. ``sample`` draws with the builtin
    ``RANDOM_STANDARD_NORMAL`` / ``RANDOM_UNIFORM`` kernels, fresh numbers at every invocation.

    Args:
        model: a keras_ae model.
        path: the ``.tflite`` file to write (atomically); the sidecar goes to ``sidecar_path(path)``.
        quantization: one of :data:`QUANTIZATIONS`, default ``"none"``.
        representative_data: ``[N, *data_shape]`` training examples: the int8 calibration set
            (required for ``"int8"``) and the parity probe batch when ``probe_data`` is None.
        num_calibration: calibration examples for int8, default 200.
        probe_data: inputs for the parity check, default: ``representative_data`` or uniform [0, 1].
        measure_parity: run the file with ai-edge-litert and record errors vs Keras, default True.
    Returns:
        the sidecar dict: input shape/dtype/value range, signatures, quantization, parity, size.

    Example::

        info = export_tflite(model, "out/ae_int8.tflite", "int8", representative_data=x_train[:500])
        info["parity"]["max_abs_error"]["reconstruct"]["reconstruction"]
    """
    check_quantization(quantization)
    if representative_data is not None:
        representative_data = check_representative_data(model, representative_data)
    blob, ops_note = convert_tflite(model, quantization, representative_data, num_calibration)
    atomic_write_bytes(path, blob)
    interpreter = litert_interpreter(model_content=blob)
    details = {sig: {"inputs": sorted(r["inputs"]), "outputs": sorted(r["outputs"])}
               for sig, r in interpreter.get_signature_list().items()}
    info = {
        "file": os.path.basename(path),
        "size_bytes": len(blob),
        "quantization": quantization,
        "ops": ops_note,
        "model_class": type(model).__name__,
        "input": {
            "name": "x",
            "shape": [-1] + list(model.data_shape),
            "dtype": "float32",
            "value_range": data_range(model, representative_data),
        },
        "code": {"name": "z", "shape": [-1, model.latent_dim], "dtype": "float32"},
        "batch": "dynamic: resize the input tensor (get_signature_runner does it)",
        "signatures": details,
        "nan_check": "none in the TFLite graph: check inputs for NaN before invoking",
        "tensorflow": tf.__version__,
    }
    if measure_parity:
        x = probe_batch(model, probe_data if probe_data is not None else representative_data)
        parity = tflite_parity(model, path, x)
        parity["probe"] = "representative data" if (probe_data is not None or representative_data is not None) \
            else "uniform [0, 1] noise"
        parity["probe_examples"] = int(len(x))
        info["parity"] = parity
    atomic_write_json(sidecar_path(path), info)
    return info


def max_parity_error(parity, signatures=("decode", "reconstruct")):
    """The largest error over ``signatures`` in a parity dict (from :func:`tflite_parity`)."""
    errors = parity["max_abs_error"]
    return max(max(errors[s].values()) for s in signatures if s in errors)


# -- SavedModel parity and TF Serving REST emulation -----------------------------------------
def saved_model_runner(path):
    """``run(signature, inputs)`` over ``tf.saved_model.load(path).signatures`` (numpy out)."""
    loaded = tf.saved_model.load(path)

    def run(sig, inputs):
        fn = loaded.signatures[sig]
        out = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in out.items()}

    run.loaded = loaded
    return run


def saved_model_parity(model, path, x):
    """Errors of a SavedModel version folder against the Keras model on the probe batch ``x``."""
    run = saved_model_runner(path)
    errors, scales = compare_outputs(model, run, x)
    result = {"max_abs_error": errors, "keras_max_abs_value": scales}
    if getattr(model, "is_generative", False):
        result["sample"] = check_samples(model, lambda n: run("sample", {"n": np.array(n, np.int32)})["x"])
    return result


def rest_request(signature, inputs):
    """A TF Serving REST ``:predict`` body for one signature, as a dict (``json.dumps`` it).

    Batched inputs use the row format (``instances``: one entry per example); the scalar ``n``
    of ``sample`` has no batch axis, so that request uses the columnar format (``inputs``).

    Example: ``rest_request("reconstruct", {"x": x[:2]})``
    -> ``{"signature_name": "reconstruct", "instances": [{"x": [...]}, {"x": [...]}]}``.
    """
    if signature == "sample":
        return {"signature_name": "sample", "inputs": {"n": int(np.asarray(inputs["n"]))}}
    names = sorted(inputs)
    batch = len(np.asarray(inputs[names[0]]))
    instances = [{k: np.asarray(inputs[k])[i].tolist() for k in names} for i in range(batch)]
    return {"signature_name": signature, "instances": instances}


def predict_rest(signature_fns, body):
    """Answer a REST ``:predict`` body the way TF Serving does, from loaded SavedModel signatures.

    TF Serving's row format stacks the ``instances`` (objects keyed by input name, or bare values
    when the signature has one input) into one batch per input and answers ``{"predictions": ...}``
    (a list of per-example objects, or bare values for a single output); the columnar format
    (``inputs``) answers ``{"outputs": ...}``. This reproduces that mapping offline, so request
    bodies can be checked without a server.

    Args:
        signature_fns: ``tf.saved_model.load(path).signatures``.
        body: the request dict (or JSON string).
    Returns:
        the response dict TF Serving would send.

    Example: ``predict_rest(tf.saved_model.load(p).signatures, rest_request("score", {"x": x}))``.
    """
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    sig = body.get("signature_name", "serving_default")
    if sig not in signature_fns:
        raise ExportError(f"no signature {sig!r}; the model has {', '.join(sorted(signature_fns))}")
    fn = signature_fns[sig]
    specs = fn.structured_input_signature[1]
    if ("instances" in body) == ("inputs" in body):
        raise ExportError("a :predict body needs exactly one of 'instances' or 'inputs'")
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise ExportError("'instances' must be a non-empty list")
        if isinstance(rows[0], dict):
            columns = {k: [row[k] for row in rows] for k in rows[0]}
        elif len(specs) == 1:
            columns = {next(iter(specs)): rows}
        else:
            raise ExportError(f"signature {sig!r} has several inputs: instances must be objects")
    else:
        columns = body["inputs"] if isinstance(body["inputs"], dict) else {next(iter(specs)): body["inputs"]}
    if set(columns) != set(specs):
        raise ExportError(f"signature {sig!r} takes inputs {sorted(specs)}, got {sorted(columns)}")
    tensors = {k: tf.constant(np.asarray(v), dtype=specs[k].dtype) for k, v in columns.items()}
    outputs = {k: v.numpy() for k, v in fn(**tensors).items()}
    if "inputs" in body:
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values())).tolist()}
    n = len(next(iter(outputs.values())))
    return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(n)]}


def models_config(models):
    """TF Serving ``model_config_list`` text for ``{name: base_path}`` (base path as the server sees it).

    Example: ``models_config({"ae": "/models/ae"})``.
    """
    entries = []
    for name in sorted(models):
        entries.append(
            "  config {\n"
            f"    name: \"{name}\"\n"
            f"    base_path: \"{models[name]}\"\n"
            "    model_platform: \"tensorflow\"\n"
            "  }"
        )
    return "model_config_list {\n" + "\n".join(entries) + "\n}\n"


def file_size(path):
    """Bytes of a file, or of every file under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def human_size(num_bytes):
    if num_bytes < 1024:
        return f"{num_bytes} B"
    exponent = min(int(math.log(num_bytes, 1024)), 3)
    return f"{num_bytes / 1024 ** exponent:.1f} {['B', 'KiB', 'MiB', 'GiB'][exponent]}"


__all__ = [
    "BASE_SIGNATURES", "QUANTIZATIONS", "ExportError", "signature_names", "export_functions",
    "build_export_archive", "next_version", "check_version", "export_saved_model", "check_quantization",
    "check_representative_data", "data_range", "convert_tflite", "export_tflite", "sidecar_path",
    "litert_interpreter", "tflite_parity", "saved_model_parity", "compare_outputs", "check_samples",
    "measure_latency", "probe_batch", "rest_request", "predict_rest", "models_config", "max_parity_error",
    "file_size", "human_size",
]
