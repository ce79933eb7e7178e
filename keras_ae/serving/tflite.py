"""TFLite export: builtin ops only, four quantizations, every signature (or a subset), a JSON sidecar, parity.

Files run with ``ai-edge-litert`` (``tf.lite.Interpreter`` is deprecated). The int8 converter
runs in a child process, so a converter crash is an :class:`ExportError`, not a dead export.
"""

import errno
import os
import pickle
import subprocess
import sys
import tempfile

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_ae._checks import check_positive_int
from keras_ae.serving.errors import ExportError
from keras_ae.serving.parity import probe_batch, runner_parity
from keras_ae.serving.quality import measure_quality, quality_inputs
from keras_ae.serving.saved_model import write_saved_model
from keras_ae.serving.sidecar import sidecar_path, tflite_sidecar
from keras_ae.serving.signatures import calibration_inputs, check_exportable, endpoints, signature_names
from keras_ae.training.atomic import PUBLIC_FILE_MODE, atomic_write_bytes, atomic_write_json, is_disk_full

#: Accepted ``quantization`` values of :func:`export_tflite`.
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def check_quantization(quantization):
    """Raise :class:`ExportError` unless ``quantization`` is one of :data:`QUANTIZATIONS`. Returns it."""
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


def check_signatures(model, signatures):
    """The signatures a TFLite file of ``model`` should hold: all (``None``) or the named subset, checked.

    ``signatures`` is a sequence of names (or ``"decode,sample"``); an unknown or repeated name
    is an :class:`ExportError` naming the model's signatures. Returns a tuple in the model's order.

    Example: ``check_signatures(vae, "decode,sample")`` -> ``("decode", "sample")``.
    """
    known = signature_names(model)
    if signatures is None:
        return known
    names = [n.strip() for n in signatures.split(",")] if isinstance(signatures, str) else list(signatures)
    names = [n for n in names if n]
    if not names:
        raise ExportError(f"signatures names no signature; {type(model).__name__} exports {', '.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ExportError(f"unknown signature {unknown[0]!r}; {type(model).__name__} exports {', '.join(known)}")
    if len(set(names)) != len(names):
        raise ExportError(f"signatures names a signature twice: {', '.join(names)}")
    return tuple(n for n in known if n in names)


#: Why a full-integer (int8) file holds no sampler: the converter quantizes the uniforms the
#: counter-based key is made from to 256 levels, and the fresh ``sample`` then repeated its draws
#: from call to call (the parity check's freshness test); float32, float16 and dynamic files sample.
INT8_SAMPLER_SKIP = ("int8 quantizes the counter-based sampler's noise key (its draws repeat); "
                     "sample with the float32, float16 or dynamic file")


def convert_tflite(model, quantization="none", representative_data=None, num_calibration=200, signatures=None,
                   saved_model=None):
    """Convert ``model`` to TFLite flatbuffer bytes with every signature (or ``signatures``), builtin ops only.

    The converter reads the model's SavedModel (:func:`keras_ae.serving.write_saved_model`, the
    graph TF Serving gets). Its input checks (NaN/inf and data-range assertions) have no TFLite
    kernel and the converter drops them; the guard that turns an overflowed score into ``+inf``
    stays, so both files answer alike. Tracing and writing that SavedModel costs as much as the
    conversion itself, so a caller that has just exported it passes it as ``saved_model``.

    Args:
        model: a keras_ae model.
        quantization: ``"none"`` (float32), ``"float16"`` (float16 weights), ``"dynamic"`` (int8
            weights, float activations) or ``"int8"`` (int8 weights and activations, calibrated
            on ``representative_data``; the interface stays float32: inputs are quantized and
            outputs dequantized inside the model).
        representative_data: ``[N, *data_shape]`` training examples, required for ``"int8"``.
        num_calibration: examples used for calibration, default 200.
        signatures: the signatures to put in the file (:func:`check_signatures`), default all;
            a phone app that only decodes and samples ships a smaller file with
            ``("decode", "sample")``.
        saved_model: the folder of a SavedModel of ``model`` written by
            :func:`keras_ae.serving.write_saved_model` or :func:`keras_ae.serving.export_saved_model`
            (every signature, the input checks in), default: one written to a temporary folder.
    Returns:
        a :class:`Conversion` ``(blob, ops, skipped)``: the flatbuffer bytes, which op sets the
        converter was allowed, and the signatures left out because their ops have no builtin
        kernel, each with the reason.

    Example: ``blob, _, skipped = convert_tflite(model, "dynamic")``.
    """
    check_quantization(quantization)
    check_exportable(model)
    num_calibration = check_positive_int(num_calibration, "num_calibration")
    wanted = check_signatures(model, signatures)
    if quantization == "int8":
        if representative_data is None:
            raise ExportError("int8 quantization needs representative_data (training examples)")
        representative_data = check_representative_data(model, representative_data)
    def convert(saved_model_dir, names):
        if quantization == "int8":
            calibration = list(calibration_inputs(model, representative_data, num_calibration, names))
            return _convert_int8_in_child(saved_model_dir, names, calibration)
        return _converter(saved_model_dir, names, quantization).convert(), "builtins"

    if saved_model is not None and not os.path.isfile(os.path.join(saved_model, "saved_model.pb")):
        raise ExportError(f"saved_model must be a SavedModel folder of the model, {saved_model!r} has no saved_model.pb")
    with tempfile.TemporaryDirectory(prefix="keras_ae_tflite_") as tmp:
        if saved_model is None:
            write_saved_model(model, tmp)
        source = saved_model if saved_model is not None else tmp
        # Signatures the model itself leaves out of TFLite (say, seeded sampling), with its reason.
        declared = {name: e.tflite_skip for name, e in endpoints(model).items() if e.tflite_skip and name in wanted}
        if quantization == "int8":  # full-integer files quantize the samplers' noise keys (measured: draws repeat)
            declared.update({name: INT8_SAMPLER_SKIP for name, e in endpoints(model).items()
                             if name in wanted and name not in declared and name in ("sample", "sample_seeded")})
        names = [name for name in wanted if name not in declared]
        if not names:
            raise ExportError(f"no signature of {', '.join(wanted)} converts to TFLite: {declared}")
        try:
            return Conversion(*convert(source, names), dict(declared))
        except Exception:  # the converter raises several types (ConverterError, ValueError, ...)
            # Only now find out which signatures lack builtin ops; if none does, the failure
            # is something else and is raised as it was.
            convertible, skipped = _convertible_signatures(source, names)
            if not skipped:
                raise
        return Conversion(*convert(source, convertible), {**declared, **skipped})


class Conversion(NamedTuple):
    """A TFLite conversion: the flatbuffer, the op sets allowed, and ``{signature: reason}`` left out."""

    blob: bytes
    ops: str
    skipped: dict


def _converter(saved_model_dir, names, quantization="none"):
    """A builtin-ops-only converter of the ``names`` signatures with the quantization's options."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=names)
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def _convertible_signatures(saved_model_dir, names):
    """``(names that convert with builtin ops, {name: why not})``, each signature tried alone.

    Called only when converting all signatures together failed, so a signature whose ops have
    no builtin kernel (a sampler of a learned prior, say) is left out with its reason instead of
    failing the whole file. Raises :class:`ExportError` when no signature converts.
    """
    ok, skipped = [], {}
    for name in names:
        try:
            _converter(saved_model_dir, [name]).convert()
            ok.append(name)
        except Exception as e:
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]
            reason = next((line for line in lines if "op" in line.lower()), lines[-1] if lines else type(e).__name__)
            skipped[name] = f"not convertible with TFLite builtin ops: {reason[:300]}"
    if not ok:
        raise ExportError(f"no signature converts to TFLite with builtin ops: {skipped}")
    return ok, skipped


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
            if is_disk_full(RuntimeError(result.stderr)):
                raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (the TFLite int8 converter's output)")
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

    Returns the dict of :func:`keras_ae.serving.runner_parity`.

    Example: ``tflite_parity(model, "ae.tflite", x_test[:32])["max_abs_error"]["reconstruct"]``.
    """
    interpreter = litert_interpreter(model_path=tflite_path)
    return runner_parity(model, tflite_runner(interpreter), x, signatures=set(interpreter.get_signature_list()))


def export_tflite(model, path, quantization="none", representative_data=None, num_calibration=200,
                  probe_data=None, measure_parity=True, signatures=None, quality_data=None, quality_condition=None,
                  saved_model=None):
    """Write a builtin-ops-only ``.tflite`` with every signature (or ``signatures``), and a JSON sidecar next to it.

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
        signatures: the signatures to put in the file, default all (:func:`convert_tflite`).
        quality_data: held-out examples ``[N, *data_shape]`` (the run's test split), or None: the
            file's test NLL or mean ``score`` on them beside Keras's is the sidecar's ``quality``
            (:func:`keras_ae.serving.measure_quality`), what this quantization costs.
        quality_condition: the held-out split's condition of a conditional model (``{"y": labels}``).
        saved_model: a SavedModel of ``model`` just written, to convert instead of writing another
            (:func:`convert_tflite`), default none.
    Returns:
        the sidecar dict: input shape/dtype/value range, signatures, quantization, parity,
        quality (with ``quality_data``), size.

    Example::

        info = export_tflite(model, "out/ae_int8.tflite", "int8", representative_data=x_train[:500])
        info["parity"]["max_abs_error"]["reconstruct"]["reconstruction"]
    """
    check_quantization(quantization)
    if representative_data is not None:
        representative_data = check_representative_data(model, representative_data)
    if quality_data is not None:  # a condition the score does not take is a ValueError before converting
        quality_data = check_representative_data(model, quality_data)
        quality_inputs(model, quality_data, quality_condition)
    try:
        blob, ops_note, skipped = convert_tflite(model, quantization, representative_data, num_calibration,
                                                 signatures, saved_model)
    except ExportError:
        raise
    except Exception as e:  # noqa: BLE001 - the converter raises many types (ConverterError, ValueError, ...)
        if is_disk_full(e):  # not a quantization that cannot be made: the whole export fails
            raise
        raise ExportError(f"the TFLite {quantization} converter failed: {_first_line(e)}") from None
    # The file is run before it is written: a file LiteRT cannot run (an op kernel failing to
    # prepare, e.g. an int8 DIV) is an ExportError and no file is left behind.
    try:
        interpreter = litert_interpreter(model_content=blob)
        signatures = interpreter.get_signature_list()
        if measure_parity:
            x = probe_batch(model, probe_data if probe_data is not None else representative_data)
            parity = runner_parity(model, tflite_runner(interpreter), x, signatures=set(signatures))
        if quality_data is not None:
            quality = (measure_quality(model, tflite_runner(interpreter), quality_data, quality_condition)
                       if "score" in signatures else {"skipped": "the file holds no score signature"})
    except ImportError:
        raise
    except Exception as e:  # noqa: BLE001 - LiteRT raises RuntimeError/ValueError from its kernels
        raise ExportError(f"the TFLite {quantization} file does not run in LiteRT: {_first_line(e)}") from None
    atomic_write_bytes(path, blob, mode=PUBLIC_FILE_MODE)
    info = tflite_sidecar(model, path, blob, quantization, ops_note, signatures, representative_data)
    info["skipped"] = skipped
    if measure_parity:
        parity["probe"] = "representative data" if (probe_data is not None or representative_data is not None) \
            else "uniform [0, 1] noise"
        parity["probe_examples"] = int(len(x))
        info["parity"] = parity
    if quality_data is not None:
        info["quality"] = quality
    atomic_write_json(sidecar_path(path), info, mode=PUBLIC_FILE_MODE)
    return info


def _first_line(error):
    """The first non-empty line of an exception's message, else its type name."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__

