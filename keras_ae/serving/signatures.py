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
=============== ============================ ===============================================

``serving_default`` is ``reconstruct``. Inputs with NaN or infinite values make the SavedModel
signature fail (``CheckNumerics``) instead of answering NaN. The TFLite file has the same
signatures (its graph has no such check: TFLite has no builtin for it, validate on the device).

What a model exports is decided here alone; the writers (SavedModel, TFLite) take the functions
from :func:`export_functions` and the inputs for calibration from :func:`calibration_inputs`.
"""

import numpy as np
import tensorflow as tf

from keras_ae.serving.errors import ExportError

#: Signature names every model has; generative models add ``"sample"``.
BASE_SIGNATURES = ("encode", "decode", "reconstruct", "score")
#: Output name of each signature that has a single output.
OUTPUT_NAMES = {"decode": "reconstruction", "reconstruct": "reconstruction", "score": "score", "sample": "x"}
#: Input name of each signature.
INPUT_NAMES = {"encode": "x", "decode": "z", "reconstruct": "x", "score": "x", "sample": "n"}


def signature_names(model):
    """Names of the signatures ``model`` exports: the base four, plus ``sample`` if generative."""
    return BASE_SIGNATURES + (("sample",) if getattr(model, "is_generative", False) else ())


def check_exportable(model):
    """Raise :class:`ExportError` unless ``model`` follows the model contract; build it if needed."""
    for attr in ("encode_outputs", "decode", "reconstruct", "score", "data_shape", "latent_dim"):
        if not hasattr(model, attr):
            raise ExportError(f"{type(model).__name__} does not follow the keras_ae model contract: no {attr}")
    if not model.built:
        model.build()


def _finite(t, name, check):
    """``t`` as float32, with a NaN/inf assertion in the graph when ``check``."""
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
    check_exportable(model)
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


def calibration_inputs(model, data, num_examples):
    """``(signature, {input: batch-of-1})`` pairs covering every signature, for int8 calibration.

    Each of the first ``num_examples`` examples of ``data`` feeds every signature: ``x`` as is,
    ``z`` as the model's code of it, ``n`` as 1.
    """
    x = data[:num_examples]
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
