"""The public contract harness: one call puts a model through everything the contract promises.

keras-hub's shared test case, kept small. :func:`check_model` builds the model from a factory and
checks, raising ``AssertionError`` with what failed:

1. config round trip (``from_config(get_config())`` gives the same config);
2. ``fit`` on both training paths, Keras's per-step loop and the fused multi-step program (both
   XLA where the class allows it),
   with every declared term logged and finite, and the two paths giving the same weights from
   the same start (the fused path is an optimisation only);
3. ``fit`` under a 2-replica ``MirroredStrategy`` when two logical devices exist;
4. ``.keras`` save and load: equal outputs and optimizer state (every parameter group's);
5. every declared export signature, run eagerly, returns named outputs of the declared dtypes;
6. seeded determinism: ``sample``, a stochastic ``decode`` and ``log_likelihood`` repeat with a seed;
7. codes: ``encode`` and ``encode_outputs`` give codes of ``code_spec`` (shape and dtype; every
   part of a structured code);
8. refusals: data with a NaN, and for a unit-interval likelihood data outside [0, 1], is a
   ``ValueError`` from every public method that takes data (and from ``fit``);
9. importance weights (probabilistic models): with one sample, ``log_importance_weights`` is the
   ELBO estimated from that sample, ``log p(x|z) + log p(z) - log q(z|x)``; averaged over many
   draws it matches the model's ``elbo`` term within the Monte Carlo standard error;
10. SavedModel export (loaded back with ``tf.saved_model.load``; deterministic signatures equal
   Keras, stochastic ones fresh and well shaped) and TFLite (builtin ops, float32) where asked.

Example::

    from keras_ae import testing
    report = testing.check_model(lambda: VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,)),
                                 x_train[:16], tmp_dir="/tmp/harness")
"""

import os
import tempfile

import numpy as np
import keras
import tensorflow as tf

from keras_ae import serving

#: largest weight difference allowed between the per-step and the fused path after a few steps:
#: the same arithmetic compiled two ways (XLA fuses and reorders), so float32 round-off grows
#: with the steps; measured below 1e-5 on every seed family. The paths are compared with plain
#: SGD: Adam's first steps are ``lr * sign(g)`` for any gradient above its epsilon, so a
#: round-off sign flip of a near-zero gradient would move a weight by ``2 * lr``.
PATH_TOLERANCE = 1e-4
#: k = 1 importance weights drawn to estimate the ELBO's expectation (check 9): their standard
#: error shrinks as ``1 / sqrt(ELBO_DRAWS)``; 256 draws of a tiny model cost well under a second.
ELBO_DRAWS = 256
#: standard errors allowed between that mean and the model's ``elbo`` term, averaged over the
#: batch. The test statistic is approximately normal (a mean over the batch of independent
#: errors), so 5 standard errors fail by chance with probability below 1e-6.
ELBO_SIGMAS = 5.0


def _batch(x, extras):
    """The training element: ``x`` alone or a dict with the extras."""
    return {"x": x, **extras} if extras else x


def _dataset(x, extras, batch_size):
    return tf.data.Dataset.from_tensor_slices(_batch(x, extras)).batch(batch_size)


def _compile(model, fused, learning_rate, jit=True):
    # Both paths use XLA where the class allows it: XLA's stateless random numbers differ from
    # TensorFlow's kernels for the same seed, so only XLA against XLA can agree to round-off.
    jit = bool(jit and model.supports_xla)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), jit_compile=jit,
                  steps_per_execution=2 if fused else 1)


def _weights(model):
    return [np.asarray(v) for v in model.weights]


def check_config_round_trip(model):
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config, f"{type(model).__name__}: config changed in a round trip"


def check_training_paths(make_model, x, extras, batch_size, learning_rate):
    """Fit per step and fused from the same weights; returns the per-step model and its history."""
    models, histories, start = [], [], None
    for fused in (False, True):
        model = make_model()
        model.build()
        if start is None:
            start = model.get_weights()
        model.set_weights(start)
        _compile(model, fused, learning_rate)
        histories.append(model.fit(_dataset(x, extras, batch_size), epochs=1, verbose=0))
        models.append(model)
    name = type(models[0]).__name__
    for path, history in zip(("per step", "fused"), histories):
        logged = set(history.history)
        expected = {"loss"} | set(models[0].TERMS) | {t for ts in models[0].PARAMETER_GROUPS.values() for t in ts}
        assert logged >= expected, f"{name} ({path}) logged {sorted(logged)}, expected {sorted(expected)}"
        for term, values in history.history.items():
            assert np.all(np.isfinite(values)), f"{name} ({path}): {term} is not finite: {values}"
    changed = max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in zip(_weights(models[0]), start))
    assert changed > 0, f"{name}: fit changed no weight"
    difference = max(float(np.max(np.abs(a - b))) if a.size else 0.0
                     for a, b in zip(_weights(models[0]), _weights(models[1])))
    assert difference <= PATH_TOLERANCE, f"{name}: per-step and fused paths differ by {difference:.3g}"
    return models[0], histories[0]


def check_mirrored(make_model, x, extras, batch_size, learning_rate):
    """One epoch under a 2-replica MirroredStrategy (skipped, returning None, with one device)."""
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        return None
    # Reduction to one device, not collectives: collective ops of several strategies created in
    # one process (one per checked model) mismatch their instance keys on logical CPU devices.
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]],
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        model = make_model()
        model.build()
        # No XLA across replicas (as the zoo's defaults): XLA cannot place the mirrored variables.
        _compile(model, fused=False, learning_rate=learning_rate, jit=False)
    history = model.fit(_dataset(x, extras, batch_size), epochs=1, verbose=0)
    for term, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{type(model).__name__} (2 replicas): {term} is not finite"
    return strategy.num_replicas_in_sync


def _deterministic_outputs(model, x):
    """``{signature: {output: array}}`` of every deterministic endpoint on its probe inputs."""
    outputs = {}
    for name, endpoint in model.export_endpoints().items():
        if endpoint.stochastic:
            continue
        inputs = endpoint.probe(model, x) if endpoint.probe else {"x": x}
        tensors = [tf.constant(inputs[spec.name], spec.dtype) for spec in endpoint.inputs]
        outputs[name] = {k: np.asarray(v) for k, v in endpoint.fn(*tensors).items()}
    return outputs


def check_endpoints(model, x):
    """Every declared endpoint runs eagerly on its probe inputs and gives a dict of named outputs."""
    name = type(model).__name__
    endpoints = model.export_endpoints()
    assert list(endpoints)[0] == "reconstruct", f"{name}: reconstruct must be the first (default) endpoint"
    for sig, endpoint in endpoints.items():
        inputs = endpoint.probe(model, x) if endpoint.probe else {"x": x}
        missing = [spec.name for spec in endpoint.inputs if spec.name not in inputs]
        assert not missing, f"{name}.{sig}: the probe gives no {missing}"
        out = endpoint.fn(*[tf.constant(inputs[spec.name], spec.dtype) for spec in endpoint.inputs])
        assert isinstance(out, dict) and out, f"{name}.{sig} must return a non-empty dict of named outputs"
        for key, value in out.items():
            assert np.all(np.isfinite(np.asarray(value, np.float64))), f"{name}.{sig}: {key} is not finite"
    return sorted(endpoints)


def check_seeded_determinism(model, x):
    name = type(model).__name__
    if model.is_generative:
        a, b = model.sample(3, seed=7), model.sample(3, seed=7)
        np.testing.assert_array_equal(a, b, err_msg=f"{name}.sample is not repeatable with a seed")
    if model.stochastic_decoder:
        z = model.encode(x[:3])
        np.testing.assert_array_equal(model.decode(z, seed=5), model.decode(z, seed=5),
                                      err_msg=f"{name}.decode is not repeatable with a seed")
    if model.is_probabilistic:
        a = model.log_likelihood(x[:4], num_samples=3, seed=2)
        b = model.log_likelihood(x[:4], num_samples=3, seed=2)
        np.testing.assert_array_equal(a, b, err_msg=f"{name}.log_likelihood is not repeatable with a seed")


def _parts(codes, spec):
    """``{key: (tensor, TensorSpec)}`` of a code: one entry per part of a structured code, else ``{None: ...}``."""
    if isinstance(spec, dict):
        return {key: (codes[key], part) for key, part in spec.items()}
    return {None: (codes, spec)}


def check_codes(model, x, condition=None):
    """``encode`` and ``encode_outputs`` give codes of ``code_spec``: shape ``[B, *spec.shape]`` and dtype.

    A structured code (``code_spec`` a dict) is a dict with exactly the spec's keys, each part
    checked; ``encode_outputs`` (the exported ``encode``) holds the same code under ``"code"``
    (or under each part's key) beside any posterior parameters.
    """
    name, condition = type(model).__name__, condition or {}
    spec = model.code_spec
    codes = model.encode(x, **condition)
    outputs = model.encode_outputs(x, **condition)
    if isinstance(spec, dict):
        assert isinstance(codes, dict) and sorted(codes) == sorted(spec), (
            f"{name}.encode gave {sorted(codes) if isinstance(codes, dict) else type(codes).__name__}, "
            f"code_spec has the parts {sorted(spec)}")
        exported = outputs
    else:
        assert not isinstance(codes, dict), f"{name}.encode gave a dict, code_spec is one tensor"
        exported = outputs["code"]
    exported_parts = _parts(exported, spec)
    for key, (code, part) in _parts(codes, spec).items():
        label = "" if key is None else f"[{key!r}]"
        for source, value in (("encode", code), ("encode_outputs", exported_parts[key][0])):
            value = tf.convert_to_tensor(value)
            expected = (len(x),) + tuple(part.shape)
            assert tuple(value.shape) == expected, (f"{name}.{source}{label} has shape {tuple(value.shape)}, "
                                                    f"code_spec says {expected}")
            assert value.dtype == part.dtype, (f"{name}.{source}{label} has dtype {value.dtype.name}, "
                                               f"code_spec says {tf.as_dtype(part.dtype).name}")
        np.testing.assert_allclose(np.asarray(code), np.asarray(exported_parts[key][0]), rtol=1e-6, atol=1e-6,
                                   err_msg=f"{name}: encode{label} and encode_outputs differ")


def _refused(call, what, name):
    try:
        call()
    except ValueError:
        return
    raise AssertionError(f"{name} accepted {what}")


def check_refusals(model, x, condition=None):
    """A NaN, and for a unit-interval likelihood a value outside [0, 1], is a ``ValueError`` of
    every public method that takes data: ``encode``, ``encode_outputs``, ``reconstruct``,
    ``score``, ``fit`` (a NumPy array, refused before training), and for a probabilistic model
    ``importance_samples``, ``log_importance_weights`` and ``log_likelihood``.
    """
    name, condition = type(model).__name__, condition or {}
    bad = {"a NaN": np.float32(np.nan)}
    if model.unit_interval_data:
        bad["a value above 1"] = np.float32(1.5)
        bad["a value below 0"] = np.float32(-0.5)
    calls = {
        "encode": lambda v: model.encode(v, **condition),
        "encode_outputs": lambda v: model.encode_outputs(v, **condition),
        "reconstruct": lambda v: model.reconstruct(v, **condition),
        "score": lambda v: model.score(v, **condition),
        "fit": lambda v: model.fit(v, epochs=1, verbose=0),
    }
    if model.is_probabilistic:
        calls["importance_samples"] = lambda v: model.importance_samples(v, 2, seed=0, **condition)
        calls["log_importance_weights"] = lambda v: model.log_importance_weights(v, 2, seed=0, **condition)
        calls["log_likelihood"] = lambda v: model.log_likelihood(v, num_samples=2, seed=0, **condition)
    for what, value in bad.items():
        data = np.array(x, np.float32, copy=True)
        data.reshape(-1)[data.size // 2] = value
        for method, call in calls.items():
            _refused(lambda: call(data), f"{what} in x ({method})", name)
    return sorted(bad)


def check_importance_weights(model, x, condition=None, elbo_extras=None, draws=ELBO_DRAWS):
    """The ``k = 1`` importance weight is the one-sample ELBO, and its mean is the model's ELBO.

    1. ``log_importance_weights(x, 1, seed)`` equals ``log p(x|z) + log p(z) - log q(z|x)`` of the
       draw ``z`` of ``importance_samples(x, 1, seed)`` (within float32 round-off);
    2. the mean over ``draws`` independent such weights (one call with ``num_samples=draws``: its
       rows are independent ``k = 1`` weights) estimates ``ELBO(x) = E_q[log p(x, z) - log q(z|x)]``;
       the model's ``elbo`` term (``loss_terms`` in evaluation mode, with ``elbo_extras``) is
       another estimate of it (a few draws of ``log p(x|z)`` and an analytic or Monte Carlo KL).
       Their difference, averaged over the batch, must lie within ``ELBO_SIGMAS`` standard errors.
       The variance of the model's estimate is bounded by one draw's: the larger of the sample
       variances of ``log w`` and of ``log p(x|z)``, which is what a one-draw term with a Monte
       Carlo or an analytic KL varies by.

    Returns ``(mean difference, its standard error)`` in nats.
    """
    name, condition = type(model).__name__, condition or {}
    record = model.importance_samples(x, 1, seed=11, **condition)
    one = np.asarray(model.log_importance_weights(x, 1, seed=11, **condition), np.float64)
    parts = [np.asarray(t, np.float64) for t in (record.log_px_given_z, record.log_pz, record.log_qz)]
    by_hand = parts[0] + parts[1] - parts[2]
    assert one.shape == (1, len(x)), f"{name}.log_importance_weights(x, 1) has shape {one.shape}"
    np.testing.assert_allclose(one, by_hand, rtol=1e-5, atol=1e-4,
                               err_msg=f"{name}: the k = 1 log weight is not log p(x|z) + log p(z) - log q(z|x)")
    record = model.importance_samples(x, draws, seed=12, **condition)
    log_w = np.asarray(record.log_weights(), np.float64)  # [draws, B]
    log_px = np.asarray(record.log_px_given_z, np.float64)
    elbo = np.asarray(model.loss_terms(x, **(condition if elbo_extras is None else elbo_extras))["elbo"], np.float64)
    difference = np.mean(log_w.mean(axis=0) - elbo)
    variance = log_w.var(axis=0, ddof=1) / draws + np.maximum(log_w.var(axis=0, ddof=1), log_px.var(axis=0, ddof=1))
    error = float(np.sqrt(variance.sum()) / len(x))
    assert abs(difference) <= ELBO_SIGMAS * error + 1e-4, (
        f"{name}: the mean k = 1 log weight differs from the elbo term by {difference:.4g} nats "
        f"({abs(difference) / max(error, 1e-12):.1f} standard errors of {error:.3g})")
    return float(difference), error


def check_save_load(model, x, path):
    """Save to ``.keras``, load, compare outputs and every optimizer's step count."""
    name = type(model).__name__
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model), f"{name}: loaded as {type(loaded).__name__}"
    reference, got = _deterministic_outputs(model, x), _deterministic_outputs(loaded, x)
    for sig, outputs in reference.items():
        for key, value in outputs.items():
            np.testing.assert_allclose(got[sig][key], value, atol=1e-6, err_msg=f"{name}.{sig}[{key}] after load")
    if model.is_generative:
        np.testing.assert_allclose(loaded.sample(3, seed=3), model.sample(3, seed=3), atol=1e-6,
                                   err_msg=f"{name}.sample after load")
    optimizers = [model.optimizer] + list(model._group_optimizers.values())
    loaded_optimizers = [loaded.optimizer] + list(loaded._group_optimizers.values())
    for before, after in zip(optimizers, loaded_optimizers):
        assert int(after.iterations) == int(before.iterations), f"{name}: optimizer state not restored"
    return loaded


def check_saved_model(model, x, base_dir):
    """Export a SavedModel, load it back, and compare every signature with Keras."""
    path = serving.export_saved_model(model, base_dir, "harness")
    parity = serving.saved_model_parity(model, path, x)
    name = type(model).__name__
    for sig, errors in parity["max_abs_error"].items():
        scale = max(parity["keras_max_abs_value"][sig].values())
        for key, error in errors.items():
            assert error <= 1e-5 * max(1.0, scale), f"{name} SavedModel {sig}[{key}] differs by {error:.3g}"
    for sig, check in parity.get("stochastic", {}).items():
        assert check["shape_ok"] and check["finite"] and check["fresh"], f"{name} SavedModel {sig}: {check}"
    return path, parity


def check_tflite(model, x, path, saved_model=None):
    """Convert to a float32 builtin-ops TFLite file and compare with Keras (1e-4 relative).

    ``saved_model``: the SavedModel :func:`check_saved_model` wrote, converted as the export
    command line converts the one it has just written (default: a new one, as ``export_tflite`` alone).
    """
    info = serving.export_tflite(model, path, "none", probe_data=x, saved_model=saved_model)
    name = type(model).__name__
    parity = info["parity"]
    for sig, errors in parity["max_abs_error"].items():
        scale = max(parity["keras_max_abs_value"][sig].values())
        for key, error in errors.items():
            assert error <= 1e-4 * max(1.0, scale), f"{name} TFLite {sig}[{key}] differs by {error:.3g}"
    return info


def check_model(make_model, x, extras=None, *, batch_size=None, learning_rate=1e-2, tmp_dir=None,
                saved_model=True, tflite=True, mirrored=True, condition=None, elbo_extras=None):
    """Put a model through the whole contract (see the module docstring); returns a report dict.

    Args:
        make_model: a zero-argument callable returning a new, unbuilt model (same seed each time).
        x: a small data batch ``[N, *input_shape]`` (N >= 4, a multiple of ``batch_size``).
        extras: the batch entries the loss needs (``{"y": labels}``), default none.
        batch_size: batch size of the fits, default ``N // 4`` (four steps per epoch).
        learning_rate: SGD learning rate, default 1e-2.
        tmp_dir: where files go, default a new temporary folder.
        saved_model, tflite, mirrored: run those checks, default True.
        condition: the conditioning keywords the public methods need (a conditional VAE's
            ``{"y": labels}``), default none.
        elbo_extras: the batch entries under which the ``elbo`` term bounds the same quantity as
            the importance weights given ``condition`` (check 9), default ``condition``. A
            semi-supervised model's weights without a label marginalise it, as its ``elbo`` does
            for unlabelled rows: pass every row unlabelled.

    The report holds the terms logged, the replicas, the signatures, the ELBO difference, the data
    refused, the SavedModel's folder and the TFLite file's signatures (those checks that ran), and
    under ``"model"`` the trained model the checks after training used (what was saved and exported).
    """
    x = np.asarray(x, np.float32)
    extras = {k: np.asarray(v) for k, v in (extras or {}).items()}
    condition = {k: np.asarray(v) for k, v in (condition or {}).items()}
    batch_size = batch_size or max(1, len(x) // 4)
    tmp_dir = tmp_dir or tempfile.mkdtemp(prefix="keras_ae_harness_")
    report = {}
    model = make_model()
    check_config_round_trip(model)
    model, history = check_training_paths(make_model, x, extras, batch_size, learning_rate)
    report["terms"] = sorted(history.history)
    if mirrored:
        report["replicas"] = check_mirrored(make_model, x, extras, batch_size, learning_rate)
    model.post_fit(x, seed=0)
    report["signatures"] = check_endpoints(model, x)
    check_seeded_determinism(model, x)
    check_codes(model, x, condition)
    if model.is_probabilistic:
        report["elbo_difference"] = check_importance_weights(model, x, condition, elbo_extras)
    loaded = check_save_load(model, x, os.path.join(tmp_dir, "model.keras"))
    # after the save: a refused fit must leave nothing behind, but the saved state is what was checked
    report["refused"] = check_refusals(loaded, x, condition)
    if saved_model:
        report["saved_model"], _ = check_saved_model(model, x, os.path.join(tmp_dir, "exports"))
    if tflite:
        info = check_tflite(model, x, os.path.join(tmp_dir, "model.tflite"), report.get("saved_model"))
        report["tflite_signatures"] = sorted(info["signatures"])
        report["tflite_skipped"] = info.get("skipped", {})
    report["model"] = model
    return report
