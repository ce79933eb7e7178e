"""The JSON sidecar next to a ``.tflite`` file: what a device needs to feed and trust the model."""

import os

import numpy as np
import tensorflow as tf


def sidecar_path(tflite_path):
    """``model.tflite`` -> ``model.json``: where :func:`keras_ae.serving.export_tflite` writes the metadata."""
    root, _ = os.path.splitext(tflite_path)
    return root + ".json"


def data_range(model, data=None):
    """``[low, high]`` of the model's data: [0, 1] for Bernoulli-type models, else from ``data``."""
    if model.capabilities()["unit_interval_data"]:
        return [0.0, 1.0]
    if data is not None and len(data):
        return [float(np.min(data)), float(np.max(data))]
    return None


def code_description(spec):
    """``{"name", "shape", "dtype"}`` of a code spec; a structured code (a dict of specs) gives ``{"parts": {...}}``."""
    if isinstance(spec, dict):
        return {"parts": {key: code_description(part) for key, part in spec.items()}}
    return {"name": spec.name, "shape": [-1] + list(spec.shape), "dtype": spec.dtype.name}


def tflite_sidecar(model, path, blob, quantization, ops_note, signatures, representative_data=None):
    """The sidecar dict of a converted TFLite file (without parity, which the caller adds).

    Args:
        model: the keras_ae model that was converted.
        path: the ``.tflite`` path (its base name is recorded).
        blob: the flatbuffer bytes.
        quantization: the quantization used.
        ops_note: which op sets the converter was allowed (from ``convert_tflite``).
        signatures: ``interpreter.get_signature_list()`` of the file.
        representative_data: training examples, for the input value range of unbounded models.
    Returns:
        the dict: input shape/dtype/value range, code, signatures, quantization, ops, size.
    """
    return {
        "file": os.path.basename(path),
        "size_bytes": len(blob),
        "quantization": quantization,
        "ops": ops_note,
        "model_class": type(model).__name__,
        "input": {
            "name": model.data_spec.name,
            "shape": [-1] + list(model.data_spec.shape),
            "dtype": model.data_spec.dtype.name,
            "value_range": data_range(model, representative_data),
        },
        "code": code_description(model.code_spec),
        "batch": "dynamic: resize the input tensor (get_signature_runner does it)",
        "signatures": {sig: {"inputs": sorted(r["inputs"]), "outputs": sorted(r["outputs"])}
                       for sig, r in signatures.items()},
        "nan_check": "none in the TFLite graph: check inputs for NaN before invoking",
        "tensorflow": tf.__version__,
    }
