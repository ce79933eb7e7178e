"""What an exported file costs in model quality: its test NLL (or mean score) on held-out data, beside Keras's.

Two estimators, one per model, the same for every file of it (so a quantization's entry minus
the float32 one is what the quantization costs; larger is worse):

- ``"importance"`` (a VAE with a Gaussian posterior, the standard normal prior and Bernoulli
  pixels, e.g. ``vae-digits`` and ``vae-mnist``): the importance-sampled negative log-likelihood
  (Burda et al. 2016) computed from the file's own ``encode`` and ``decode`` signatures::

      -log p(x) ~= -log (1/k) sum_j p(x | z_j) p(z_j) / q(z_j | x),   z_j = mu(x) + sigma(x) eps_j

  with ``eps_j`` drawn by NumPy from a fixed seed, so Keras and every file see the same draws and
  their difference is paired. ``log p(x|z)`` is computed from the decoded Bernoulli means (clipped
  to float32's ``[2^-24, 1 - 2^-24]``), ``k = NLL_SAMPLES``.
- ``"score"`` (every other model): the mean of the ``score`` signature, ``(1/N) sum_i score(x_i)``:
  for a deterministic autoencoder its reconstruction cost; for other probabilistic models the
  negative ELBO with the expectation over ``q`` at the posterior code (not a bound on ``-log p(x)``).

Example::

    from keras_ae import serving
    run = serving.tflite_runner(serving.litert_interpreter(model_path="vae.int8.tflite"))
    serving.measure_quality(model, run, x_test)["mean"]
"""

import numpy as np
from scipy import special

from keras_ae.serving.signatures import endpoints, probe_inputs

#: What the ``quality`` entries of sidecars and export tables hold (:func:`measure_quality`), per estimator.
ESTIMATORS = {
    "score": ("mean of the score signature over the held-out split, per example (VAE: negative ELBO "
              "at the posterior code, nats; deterministic models: the reconstruction cost); larger is worse"),
    "importance": ("importance-sampled negative log-likelihood from the encode and decode signatures "
                   "(k = 100 NumPy-seeded posterior draws shared by every file), nats per example; larger is worse"),
}
QUALITY_ESTIMATOR = ESTIMATORS["score"]
#: Posterior draws per example of the ``"importance"`` estimator: the k of the zoo's ``metrics.json`` NLL.
NLL_SAMPLES = 100
#: The parts under which the ``"importance"`` estimator is the model's own likelihood.
IMPORTANCE_PARTS = {"posterior": "GaussianPosterior", "prior": "StandardNormal", "likelihood": "Bernoulli"}


def estimator_for(model):
    """``"importance"`` for a model whose declared parts the NumPy estimator implements, else ``"score"``."""
    capabilities = model.capabilities()
    declared = {k: capabilities["parts"].get(k) for k in IMPORTANCE_PARTS}
    return "importance" if declared == IMPORTANCE_PARTS and not capabilities["is_conditional"] else "score"


def keras_runner(model):
    """``run(signature, inputs)`` of the Keras model itself, for ``score``, ``encode`` and ``decode``."""
    def run(sig, inputs):
        if sig == "encode":
            return {k: np.asarray(v) for k, v in model.encode_outputs(inputs["x"]).items()}
        if sig == "decode":
            return {"reconstruction": np.asarray(model.decode(inputs["z"]))}
        if sig == "score":
            condition = {k: v for k, v in inputs.items() if k != "x"}
            return {"score": np.asarray(model.score(inputs["x"], **condition))}
        raise ValueError(f"keras_runner answers encode, decode and score, not {sig!r}")

    return run


def importance_nll(run, x, num_samples=NLL_SAMPLES, seed=0, batch_size=64):
    """Per-example ``-log p(x)`` ``[N]`` by importance sampling through ``run``'s encode and decode.

    The draws are ``np.random.default_rng([seed, batch index])`` standard normals, so two runners
    given the same ``x``, ``seed`` and ``batch_size`` see the same noise. See the module docstring.
    """
    x = np.asarray(x, np.float32)
    out = []
    for b, i in enumerate(range(0, len(x), batch_size)):
        xb = x[i:i + batch_size]
        enc = run("encode", {"x": xb})
        mean, scale = np.asarray(enc["mean"], np.float32), np.asarray(enc["scale"], np.float32)
        eps = np.random.default_rng([seed, b]).standard_normal((num_samples,) + mean.shape).astype(np.float32)
        z = mean + scale * eps
        probs = np.asarray(run("decode", {"z": z.reshape((-1,) + mean.shape[1:])})["reconstruction"], np.float64)
        probs = np.clip(probs.reshape((num_samples, len(xb), -1)), 2.0**-24, 1.0 - 2.0**-24)
        pixels = xb.reshape((1, len(xb), -1)).astype(np.float64)
        log_px = np.sum(pixels * np.log(probs) + (1.0 - pixels) * np.log1p(-probs), axis=-1)
        z64, eps64 = z.astype(np.float64), eps.astype(np.float64)
        log_pz = -0.5 * np.sum(z64**2 + np.log(2 * np.pi), axis=-1)
        log_qz = -np.sum(0.5 * eps64**2 + 0.5 * np.log(2 * np.pi) + np.log(scale.astype(np.float64)), axis=-1)
        out.append(np.log(num_samples) - special.logsumexp(log_px + log_pz - log_qz, axis=0))
    return np.concatenate(out) if out else np.zeros([0])


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


def measure_quality(model, run, x, condition=None, split="test", batch_size=256, keras_scores=None,
                    estimator="auto"):
    """The quality entry of one artifact: its mean test NLL or score on ``x`` and Keras's on the same examples.

    Args:
        model: the Keras model the artifact was exported from.
        run: ``run(signature, inputs) -> {output: array}`` of the artifact (a SavedModel or
            TFLite runner); it must answer ``score`` (``encode`` and ``decode`` for ``"importance"``).
        x: held-out examples ``[N, *data_shape]``.
        condition: the split's condition of a conditional model (``{"y": labels}``), else None.
        split: the name recorded for ``x``, default ``"test"``.
        batch_size: examples per call, default 256.
        keras_scores: Keras's per-example values of the same inputs and estimator, when already computed.
        estimator: ``"importance"``, ``"score"`` or ``"auto"`` (default: :func:`estimator_for`).
    Returns:
        ``{"estimator", "estimator_name", "split", "examples", "condition", "mean", "standard_error",
        "non_finite_examples", "keras_mean", "difference"}``; ``difference`` is the artifact's
        mean minus Keras's (what the conversion costs, in nats or the score's units).
    """
    if estimator == "auto":
        estimator = estimator_for(model)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be 'auto' or one of {sorted(ESTIMATORS)}, got {estimator!r}")
    if estimator == "importance" and estimator_for(model) != "importance":
        raise ValueError(f"estimator 'importance' needs the parts {IMPORTANCE_PARTS} and no condition; "
                         f"{type(model).__name__} declares {model.capabilities()['parts']}")
    inputs, made = quality_inputs(model, x, condition)
    if estimator == "importance":
        values = lambda runner: importance_nll(runner, inputs["x"])  # noqa: E731
    else:
        values = lambda runner: scores(runner, inputs, batch_size)  # noqa: E731
    if keras_scores is None:
        keras_scores = values(keras_runner(model))
    own, reference = summary(values(run)), summary(keras_scores)
    difference = None if own["mean"] is None or reference["mean"] is None else own["mean"] - reference["mean"]
    return {"estimator": ESTIMATORS[estimator], "estimator_name": estimator, "split": split,
            "examples": int(len(inputs["x"])), "condition": made,
            **own, "keras_mean": reference["mean"], "difference": difference}


def keras_quality_scores(model, inputs, batch_size=256):
    """Keras's own per-example ``model.score`` of the quality inputs (from :func:`quality_inputs`)."""
    return scores(keras_runner(model), inputs, batch_size)
