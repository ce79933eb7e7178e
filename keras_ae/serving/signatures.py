"""The export signatures of a model: names, inputs, outputs, and the functions behind them.

A SavedModel written by :mod:`keras_ae.serving` has these signatures, each with named inputs,
dict outputs and a dynamic batch axis:

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
(declared)      a family's own               e.g. ``classify``, a conditional ``sample``
=============== ============================ ===============================================

``serving_default`` is ``reconstruct``. Inputs with NaN or infinite values make the SavedModel
signature fail (``CheckNumerics``) instead of answering NaN. The TFLite file has the same
signatures (its graph has no such check: TFLite has no builtin for it, validate on the device).

What a model exports is declared by the model itself (``model.export_endpoints()``, see
:class:`keras_ae.models.base.Endpoint`): a family adds ``classify`` or a conditional ``sample``
there and nothing here changes. This module wraps each endpoint for export (the NaN check,
float32 outputs) and makes calibration inputs from the endpoints' probes.
"""

import numpy as np
import tensorflow as tf

from keras_ae import objectives
from keras_ae.serving.errors import ExportError


def check_exportable(model):
    """Raise :class:`ExportError` unless ``model`` follows the model contract; build it if needed."""
    try:
        model.capabilities  # the contract's declarations (keras_ae.models.base.BaseAutoencoder)
    except AttributeError:
        raise ExportError(f"{type(model).__name__} does not follow the keras_ae model contract "
                          "(keras_ae.models.base.BaseAutoencoder): it declares no capabilities") from None
    if not model.built:
        model.build()


def endpoints(model):
    """``{signature: Endpoint}`` the model declares, ``reconstruct`` (``serving_default``) first."""
    check_exportable(model)
    return model.export_endpoints()


def signature_names(model):
    """Names of the signatures ``model`` exports, in its declared order."""
    return tuple(endpoints(model))


def input_names(model):
    """``{signature: [input name, ...]}`` in the declared order."""
    return {sig: [spec.name for spec in e.inputs] for sig, e in endpoints(model).items()}


def probe_inputs(model, endpoint, x):
    """The inputs of ``endpoint`` for a parity check, made from a data batch ``x`` by its probe."""
    return endpoint.probe(model, x) if endpoint.probe is not None else {"x": x}


def _checked(t, spec, check):
    """An input tensor with a NaN/inf assertion (float) or a non-negative one (integer scalar)."""
    # CheckNumerics turns a NaN request into an InvalidArgument error (HTTP 400 in TF Serving).
    if not check:
        return t
    if spec.dtype.is_floating:
        t = tf.debugging.assert_all_finite(t, f"{spec.name} contains NaN or infinite values")
        if spec.name == "temperature":  # the sampling temperature (models.base.TEMPERATURE_SPEC): > 0
            with tf.control_dependencies([tf.debugging.assert_positive(t, message="temperature must be > 0")]):
                return tf.identity(t)
        return t
    if spec.shape.rank == 0:
        # An explicit dependency: automatic control dependencies do not order the assertion
        # before random ops, which would then fail first with a vaguer error.
        with tf.control_dependencies([tf.debugging.assert_non_negative(t, message=f"{spec.name} must be >= 0")]):
            return tf.identity(t)
    return t


def _as_export_output(t):
    t = tf.convert_to_tensor(t)
    return tf.cast(t, tf.float32) if t.dtype.is_floating else t


def export_functions(model, check_finite=True):
    """The export functions of ``model``: ``{signature: (fn, [input TensorSpec])}``.

    Each is the model's declared endpoint with a NaN/inf check on float inputs (SavedModel;
    TFLite graphs are built without it) and float outputs cast to float32.

    Args:
        model: a keras_ae model (built if it is not).
        check_finite: put the input checks in the graph, default True.
    Returns:
        an ordered dict; ``reconstruct`` comes first (it becomes ``serving_default``).

    Example: ``fn, spec = export_functions(model)["encode"]``.
    """
    data_range = (0.0, 1.0) if model.capabilities()["unit_interval_data"] else None
    return {sig: (_export_function(endpoint, check_finite, model.data_spec.name, data_range), list(endpoint.inputs))
            for sig, endpoint in endpoints(model).items()}


def _in_range(t, spec, data_range):
    """``t`` after an assertion that it lies in ``data_range`` (what ``model.check_inputs`` refuses in Keras)."""
    low, high = data_range
    message = f"{spec.name} has values outside [{low:g}, {high:g}], the range the model's likelihood takes"
    with tf.control_dependencies([tf.debugging.assert_greater_equal(t, tf.cast(low, t.dtype), message=message),
                                  tf.debugging.assert_less_equal(t, tf.cast(high, t.dtype), message=message)]):
        return tf.identity(t)


def _score_output(t):
    """A score from finite input that overflowed float32 (``inf - inf`` = NaN) is ``+inf``: the worst score."""
    return objectives.worst_score_on_overflow(_as_export_output(t))


def _export_function(endpoint, check_finite, data_name=None, data_range=None):
    """``endpoint.fn`` with checked inputs and float32 outputs (a closure: traced functions take no extra args).

    With ``check_finite`` (SavedModel), float inputs are checked for NaN/inf, the data input
    against ``data_range`` (Bernoulli-type models: [0, 1]), and a ``score`` output is never NaN
    (the inputs being finite, a NaN can only be an overflow of a huge score).
    """
    def fn(*args):
        args = [_checked(a, spec, check_finite) for a, spec in zip(args, endpoint.inputs)]
        if check_finite and data_range is not None:
            args = [_in_range(a, spec, data_range) if spec.name == data_name and spec.dtype.is_floating else a
                    for a, spec in zip(args, endpoint.inputs)]
        return {k: _score_output(v) if check_finite and k == "score" else _as_export_output(v)
                for k, v in endpoint.fn(*args).items()}

    return fn


def build_export_archive(model, check_finite=True, signatures=None):
    """A ``keras.export.ExportArchive`` tracking ``model`` with its export signatures.

    Args:
        signatures: names to include, default all declared.

    Example: ``build_export_archive(model).write_out("/tmp/sm", verbose=False)``.
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, spec) in export_functions(model, check_finite).items():
        if signatures is None or name in signatures:
            archive.add_endpoint(name, fn, input_signature=spec)
    return archive


def calibration_inputs(model, data, num_examples, signatures=None):
    """``(signature, {input: batch-of-1})`` pairs covering every signature, for int8 calibration.

    Each of the first ``num_examples`` examples of ``data`` feeds every signature through its
    probe (``x`` as is, ``z`` as the model's code of it, ...); scalar inputs are taken as probed.
    """
    x = data[:num_examples]
    probes = {sig: (e, probe_inputs(model, e, x)) for sig, e in endpoints(model).items()
              if signatures is None or sig in signatures}
    for i in range(len(x)):
        for sig, (endpoint, inputs) in probes.items():
            yield sig, {spec.name: (np.asarray(inputs[spec.name])[i:i + 1] if spec.shape.rank
                                    else np.asarray(inputs[spec.name]))
                        for spec in endpoint.inputs}
