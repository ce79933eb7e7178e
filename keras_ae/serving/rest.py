"""TF Serving's REST side, offline: request bodies, the server's answer to them, its model config."""

import json

import numpy as np
import tensorflow as tf

from keras_ae.serving.errors import ExportError


def rest_request(signature, inputs):
    """A TF Serving REST ``:predict`` body for one signature, as a dict (``json.dumps`` it).

    Batched inputs use the row format (``instances``: one entry per example); a signature with
    a scalar input (the ``n`` of ``sample``) has no batch axis to split, so its request uses the
    columnar format (``inputs``).

    Example: ``rest_request("reconstruct", {"x": x[:2]})``
    -> ``{"signature_name": "reconstruct", "instances": [{"x": [...]}, {"x": [...]}]}``.
    """
    if not isinstance(signature, str) or not isinstance(inputs, dict) or not inputs:
        raise ValueError(f"rest_request needs a signature name and a non-empty dict of inputs, "
                         f"got {signature!r} and {type(inputs).__name__}")
    arrays = {k: np.asarray(v) for k, v in inputs.items()}
    if any(a.ndim == 0 for a in arrays.values()):
        return {"signature_name": signature, "inputs": {k: a.tolist() for k, a in arrays.items()}}
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
    if not isinstance(models, dict):
        raise ValueError(f"models must be a dict {{name: base_path}}, got {type(models).__name__}")
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
