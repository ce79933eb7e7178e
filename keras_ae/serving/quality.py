"""What an exported file costs in model quality: its mean ``score`` on held-out data, beside Keras's.

The estimator is the ``score`` signature every model exports, averaged over the examples of a
held-out split (the run's test set)::

    quality = (1 / N) sum_i score(x_i)

For a VAE the score is ``-log p(x | z = mu(x)) + KL(q(z|x) || p(z))`` in nats: the negative ELBO
with the expectation over ``q`` taken at the posterior code (``keras_ae.models.VAE._score``). It
has no noise, so Keras, the SavedModel and every TFLite file are compared on the same number;
it is *not* the importance-sampled NLL of ``metrics.json`` (that one needs posterior draws,
which a file cannot share with Keras), and not a bound on ``-log p(x)``: the reconstruction term
at the mean code is usually below its expectation under ``q`` (the README gives both numbers
for ``vae-digits`` and ``vae-mnist``). For a deterministic autoencoder the score is its
reconstruction cost. One estimator for every file, so a quantization's entry minus the float32
one is what the quantization costs. Larger is worse.

Example::

    from keras_ae import serving
    run = serving.tflite_runner(serving.litert_interpreter(model_path="vae.int8.tflite"))
    serving.measure_quality(model, run, x_test)["mean"]
"""

import numpy as np

from keras_ae.serving.signatures import endpoints, probe_inputs

#: What the ``quality`` entries of sidecars and export tables hold (:func:`measure_quality`).
QUALITY_ESTIMATOR = ("mean of the score signature over the held-out split, per example (VAE: negative ELBO "
                     "at the posterior code, nats; deterministic models: the reconstruction cost); larger is worse")


def quality_inputs(model, x, condition=None):
    """The ``score`` signature's inputs for held-out data ``x``: ``({name: array}, how the condition was made)``.

    A conditional model's score takes its condition (labels) too: pass the split's labels as
    ``condition`` (``{"y": y_test}``); a condition not given is made by the signature's parity
    probe (``"probe"``), which is fine for timing but not for a quality figure of a labelled model.
    A name the signature does not take is a ``ValueError`` naming it.
    """
    endpoint = endpoints(model)["score"]
    names = [spec.name for spec in endpoint.inputs]
    x = np.asarray(x, np.float32)
    given = {**(condition or {}), "x": x}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"the score signature of {type(model).__name__} takes {names}, got condition {unknown}")
    missing = [n for n in names if n not in given]
    made = "none"
    if missing:
        probed = probe_inputs(model, endpoint, x)
        given.update({n: probed[n] for n in missing})
        made = "probe"
    elif len(names) > 1:
        made = "given"
    inputs = {spec.name: np.asarray(given[spec.name], spec.dtype.as_numpy_dtype) for spec in endpoint.inputs}
    for name, value in inputs.items():
        if value.ndim == 0 or len(value) != len(x):
            raise ValueError(f"quality input {name} must have {len(x)} rows like x, got shape {value.shape}")
    return inputs, made


def scores(run, inputs, batch_size=256):
    """``run("score", ...)`` over ``inputs`` in batches of ``batch_size``: the per-example scores ``[N]``."""
    n = len(inputs["x"])
    parts = [np.asarray(run("score", {k: v[i:i + batch_size] for k, v in inputs.items()})["score"], np.float64)
             for i in range(0, n, batch_size)]
    return np.concatenate(parts) if parts else np.zeros([0])


def summary(values):
    """``{"mean", "standard_error", "non_finite_examples"}`` of per-example scores (``mean`` None if any is not finite)."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    if not finite.all() or not len(values):
        return {"mean": None, "standard_error": None, "non_finite_examples": int((~finite).sum())}
    error = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None
    return {"mean": float(values.mean()), "standard_error": error, "non_finite_examples": 0}


def measure_quality(model, run, x, condition=None, split="test", batch_size=256, keras_scores=None):
    """The quality entry of one artifact: its mean score on ``x`` and Keras's on the same examples.

    Args:
        model: the Keras model the artifact was exported from.
        run: ``run(signature, inputs) -> {output: array}`` of the artifact (a SavedModel or
            TFLite runner); it must answer ``score``.
        x: held-out examples ``[N, *data_shape]``.
        condition: the split's condition of a conditional model (``{"y": labels}``), else None.
        split: the name recorded for ``x``, default ``"test"``.
        batch_size: examples per call, default 256.
        keras_scores: Keras's per-example scores of the same inputs, when already computed.
    Returns:
        ``{"estimator", "split", "examples", "condition", "mean", "standard_error",
        "non_finite_examples", "keras_mean", "difference"}``; ``difference`` is the artifact's
        mean minus Keras's (what the conversion costs, in the score's units).
    """
    inputs, made = quality_inputs(model, x, condition)
    if keras_scores is None:
        keras_scores = keras_quality_scores(model, inputs, batch_size)
    own, reference = summary(scores(run, inputs, batch_size)), summary(keras_scores)
    difference = None if own["mean"] is None or reference["mean"] is None else own["mean"] - reference["mean"]
    return {"estimator": QUALITY_ESTIMATOR, "split": split, "examples": int(len(inputs["x"])), "condition": made,
            **own, "keras_mean": reference["mean"], "difference": difference}


def keras_quality_scores(model, inputs, batch_size=256):
    """Keras's own per-example ``model.score`` of the quality inputs (from :func:`quality_inputs`)."""
    def run(_, batch):
        condition = {k: v for k, v in batch.items() if k != "x"}
        return {"score": np.asarray(model.score(batch["x"], **condition))}

    return scores(run, inputs, batch_size)
