"""Export for serving: SavedModel signatures, servable without keras_ae, TFLite parity, REST bodies.

Models are tiny (8x8x1 data, 16 hidden units) and exported once per module. One tiny configuration
per zoo model is served by a process without keras_ae at the end of each harness shard
(``tests/test_harness_configs.py``, with ``tests/plain_serving.py``).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import models, serving, training
from tests.plain_serving import (assert_same_float32_graph, check_loaded_outputs, keras_reference, make_job,
                                 run_plain_process)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHAPE = (8, 8, 1)
# name -> (model class, constructor arguments)
TINY = {
    "ae": ("Autoencoder", dict(latent_dim=4, reconstruction="bernoulli")),
    "ae-conv": ("Autoencoder", dict(latent_dim=4, architecture="conv", filters=(4, 8), hidden_units=())),
    "vae": ("VAE", dict(latent_dim=4, likelihood="bernoulli")),
}
NAMES = list(TINY)
GENERATIVE = [n for n in NAMES if getattr(getattr(models, TINY[n][0]), "is_generative", False)]

# Bounds on decode/reconstruct, in data units (data in [0, 1]):
# - none: float32 end to end, only op-order rounding -> the 1e-4.
# - float16: weights rounded to 11 significant bits (relative 2^-11 ~ 5e-4 each), computed in
#   float32 -> the 1e-2.
# - dynamic: weights int8 per channel (step max|w|/127, so <= 0.4% relative per weight) and
#   activations quantized per batch on the fly; a logit error e moves a sigmoid output by <= e/4.
#   Measured ~1e-3 on these models; 0.02 leaves room for other seeds.
# - int8: every activation has 256 levels over its calibrated range; the [0, 1] output alone
#   contributes 1/510, and each of the ~4 quantized layers before it adds about half a step of
#   its own range, amplified by the weights after it. Measured ~4e-3; 0.05 (12 output steps)
#   still catches a broken conversion (a wrong scale or zero point gives errors ~0.3-1).
TFLITE_BOUNDS = {"none": 1e-4, "float16": 1e-2, "dynamic": 0.02, "int8": 0.05}

def tiny_model(name, data):
    cls_name, args = TINY[name]
    args = {"hidden_units": (16,), **args}
    model = getattr(models, cls_name)(input_shape=SHAPE, seed=1, **args)
    training.compile_model(model)
    model.fit(data, epochs=1, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(0).uniform(0.0, 1.0, (256,) + SHAPE).astype(np.float32)


@pytest.fixture(scope="module")
def trained(data):
    return {name: tiny_model(name, data) for name in NAMES}


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    return {name: serving.export_saved_model(model, str(base), name) for name, model in trained.items()}


@pytest.fixture(scope="module")
def tflite_files(trained, data, tmp_path_factory):
    """Lazily converted ``(name, quantization) -> sidecar info``, shared by the tests."""
    folder = tmp_path_factory.mktemp("tflite")
    cache = {}

    def get(name, quantization):
        if (name, quantization) not in cache:
            path = str(folder / f"{name}.{quantization}.tflite")
            cache[name, quantization] = serving.export_tflite(trained[name], path, quantization,
                                                              representative_data=data)
            cache[name, quantization]["path"] = path
        return cache[name, quantization]

    return get


# -- SavedModel --------------------------------------------------------------------------------
def test_versions_are_next_free_and_never_overwritten(trained, tmp_path):
    model = trained["ae"]
    base = str(tmp_path)
    assert serving.export_saved_model(model, base, "m") == os.path.join(base, "m", "1")
    assert serving.export_saved_model(model, base, "m", version=5) == os.path.join(base, "m", "5")
    assert serving.next_version(base, "m") == 6
    pb = os.path.join(base, "m", "5", "saved_model.pb")
    before = os.stat(pb).st_mtime_ns
    with pytest.raises(serving.ExportError, match="already exists"):
        serving.export_saved_model(model, base, "m", version=5)
    for bad in (0, -1, "2", 1.5, True):
        with pytest.raises(serving.ExportError, match="positive integer"):
            serving.export_saved_model(model, base, "m", version=bad)
    assert os.stat(pb).st_mtime_ns == before
    # No temporary folder is left behind (TF Serving would ignore it, but it would pile up).
    assert sorted(os.listdir(os.path.join(base, "m"))) == ["1", "5"]
    with pytest.raises(serving.ExportError, match="model name"):
        serving.export_saved_model(model, base, "../escape")


@pytest.mark.parametrize("name", NAMES)
def test_signatures_have_named_inputs_dict_outputs_and_dynamic_batch(name, trained, exported, data):
    model = trained[name]
    loaded = tf.saved_model.load(exported[name])
    expected = set(serving.signature_names(model)) | {"serving_default"}
    assert set(loaded.signatures) == expected
    for sig, fn in loaded.signatures.items():
        inputs = fn.structured_input_signature[1]
        assert sorted(inputs) == sorted(serving.input_names(model)[sig if sig != "serving_default" else "reconstruct"])
        spec = next(iter(inputs.values()))
        assert spec.shape.rank == 0 if sig in ("sample", "sample_seeded") else spec.shape[0] is None
    assert set(loaded.signatures["serving_default"].structured_outputs) == {"reconstruction"}
    encode_keys = set(loaded.signatures["encode"].structured_outputs)
    assert encode_keys == set(model.encode_outputs(data[:1]))
    if model.is_generative:
        assert {"code", "mean", "scale"} <= encode_keys
    for batch in (1, 5):
        out = loaded.signatures["reconstruct"](x=tf.constant(data[:batch]))
        np.testing.assert_allclose(out["reconstruction"], model.reconstruct(data[:batch]), atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_nan_request_is_an_error_not_a_nan_answer(name, exported, trained):
    signatures = tf.saved_model.load(exported[name]).signatures
    x = np.full((2,) + SHAPE, 0.5, np.float32)
    x[1, 0, 0, 0] = np.nan
    for sig in ("reconstruct", "encode", "score", "serving_default"):
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
            signatures[sig](x=tf.constant(x))
    z = np.zeros((1, trained[name].latent_dim), np.float32)
    z[0, 0] = np.inf
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        signatures["decode"](z=tf.constant(z))


@pytest.mark.parametrize("name", GENERATIVE)
def test_saved_model_sample_draws_fresh_noise(name, exported, trained):
    fn = tf.saved_model.load(exported[name]).signatures["sample"]
    one = tf.constant(1.0)
    a, b = fn(n=tf.constant(4), temperature=one)["x"].numpy(), fn(n=tf.constant(4), temperature=one)["x"].numpy()
    assert a.shape == (4,) + SHAPE and not np.array_equal(a, b)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert fn(n=tf.constant(0), temperature=one)["x"].shape == (0,) + SHAPE
    with pytest.raises(tf.errors.InvalidArgumentError, match="n must be >= 0"):
        fn(n=tf.constant(-1), temperature=one)


@pytest.mark.slow
def test_servable_in_a_process_without_keras_ae(trained, exported, data, tmp_path):
    """Every export loads and runs with only TensorFlow and NumPy imported (as TF Serving does)."""
    jobs = [make_job(trained[n], exported[n], str(tmp_path / n), x=data[:6]) for n in NAMES]
    report = run_plain_process(jobs, str(tmp_path))
    assert report["modules"] == [], f"the plain process imported {report['modules']}"
    for name, job in zip(NAMES, jobs):
        check_loaded_outputs(trained[name], job, report[job["path"]]["loaded"])


@pytest.mark.slow
def test_saved_model_cli_shows_and_runs_signatures(trained, exported, tmp_path):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    assert os.path.exists(cli), "saved_model_cli is installed with tensorflow, next to this Python"
    path = exported["ae"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    show = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, env=env, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    for sig in ("encode", "decode", "reconstruct", "score", "serving_default"):
        assert f"signature_def['{sig}']" in show.stdout
    assert "inputs['x']" in show.stdout and "inputs['z']" in show.stdout
    assert "outputs['reconstruction']" in show.stdout
    x = np.full((2,) + SHAPE, 0.25)
    # --input_exprs takes Python literals (ast.literal_eval), not numpy expressions.
    run = subprocess.run([cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "reconstruct",
                          "--input_exprs", f"x={x.tolist()}", "--outdir", str(tmp_path / "cli")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    got = np.load(tmp_path / "cli" / "reconstruction.npy")
    np.testing.assert_allclose(got, trained["ae"].reconstruct(x.astype(np.float32)), atol=1e-5)


# -- REST bodies as TF Serving maps them ---------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_rest_bodies_map_instances_to_a_batch(name, trained, exported, data):
    model = trained[name]
    signatures = tf.saved_model.load(exported[name]).signatures
    x = data[:3]
    reference, z = keras_reference(model, x)
    for sig in ("encode", "decode", "reconstruct", "score"):
        body = serving.rest_request(sig, {"z": z} if sig == "decode" else {"x": x})
        body = json.loads(json.dumps(body))  # what goes over the wire
        assert body["signature_name"] == sig and len(body["instances"]) == 3
        response = serving.predict_rest(signatures, body)["predictions"]
        assert len(response) == 3
        outputs = reference[sig]
        if len(outputs) == 1:  # one output: bare values per example
            assert_same_float32_graph(response, next(iter(outputs.values())), sig)
        else:  # several: one object per example
            for key, value in outputs.items():
                assert_same_float32_graph([r[key] for r in response], value, (sig, key))
    # Bare-value instances (one input) and the columnar format give the same answer.
    bare = {"signature_name": "reconstruct", "instances": x.tolist()}
    columnar = {"signature_name": "reconstruct", "inputs": {"x": x.tolist()}}
    np.testing.assert_allclose(serving.predict_rest(signatures, bare)["predictions"],
                               serving.predict_rest(signatures, columnar)["outputs"], atol=0)
    if model.is_generative:
        out = serving.predict_rest(signatures, json.dumps(serving.rest_request("sample", {"n": 2, "temperature": 1.0})))
        assert np.array(out["outputs"]).shape == (2,) + SHAPE
    with pytest.raises(serving.ExportError, match="takes inputs"):
        serving.predict_rest(signatures, {"signature_name": "decode", "instances": [{"x": x[0].tolist()}]})


def test_models_config_lists_every_model():
    text = serving.models_config({"b": "/models/b", "a": "/models/a"})
    assert text.startswith("model_config_list {")
    assert text.index('name: "a"') < text.index('name: "b"')
    assert 'base_path: "/models/a"' in text and text.count('model_platform: "tensorflow"') == 2


# -- TFLite --------------------------------------------------------------------------------------
# Every quantization on the dense models; the conv model (slow to convert) at the two ends.
TFLITE_CASES = [(n, q) for n in NAMES for q in ("none", "float16", "dynamic", "int8")
                if not (n == "ae-conv" and q in ("float16", "dynamic"))]


@pytest.mark.slow
@pytest.mark.parametrize("name,quantization", TFLITE_CASES)
def test_tflite_parity_with_litert(name, quantization, tflite_files, trained):
    info = tflite_files(name, quantization)
    errors = info["parity"]["max_abs_error"]
    bound = TFLITE_BOUNDS[quantization]
    for sig in ("decode", "reconstruct"):
        assert errors[sig]["reconstruction"] <= bound, (sig, errors)
    if quantization == "none":
        assert max(errors["encode"].values()) <= 1e-4
        score_scale = max(1.0, info["parity"]["keras_max_abs_value"]["score"]["score"])
        assert errors["score"]["score"] <= 1e-5 * score_scale
    if trained[name].is_generative and quantization != "int8":
        sample = info["parity"]["sample"]
        assert sample["shape_ok"] and sample["fresh"] and sample["finite"] and sample["in_range"], sample
    elif trained[name].is_generative:  # int8 files hold no sampler, and say why
        assert set(info["skipped"]) == {"sample", "sample_seeded"} and "int8" in info["skipped"]["sample"]


@pytest.mark.parametrize("name", NAMES)
def test_tflite_file_has_every_signature_builtin_ops_and_dynamic_batch(name, tflite_files, trained, data):
    info = tflite_files(name, "none")
    model = trained[name]
    declared_skips = {sig for sig, e in model.export_endpoints().items() if e.tflite_skip}
    assert set(info["signatures"]) == set(serving.signature_names(model)) - declared_skips
    assert set(info["skipped"]) == declared_skips  # each with its reason in the sidecar
    assert declared_skips == set()  # sample_seeded converts too (counter-based noise)
    interpreter = serving.litert_interpreter(model_path=info["path"])
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops
    runner = interpreter.get_signature_runner("reconstruct")
    for batch in (1, 7):
        out = runner(x=data[:batch])["reconstruction"]
        np.testing.assert_allclose(out, model.reconstruct(data[:batch]), atol=1e-4)


def test_tflite_sidecar_records_shape_range_signatures_quantization(tflite_files, trained):
    info = tflite_files("ae", "int8")
    with open(serving.sidecar_path(info["path"])) as f:
        sidecar = json.load(f)
    assert sidecar["input"] == {"name": "x", "shape": [-1, 8, 8, 1], "dtype": "float32", "value_range": [0.0, 1.0]}
    assert sidecar["quantization"] == "int8" and sidecar["ops"].startswith("builtins-int8")
    assert set(sidecar["signatures"]) == {"encode", "decode", "reconstruct", "score"}
    assert sidecar["parity"]["max_abs_error"]["reconstruct"]["reconstruction"] > 0
    assert sidecar["size_bytes"] == os.path.getsize(info["path"])
    # Full integer: the weights and activations are int8 tensors, not float ones.
    dtypes = {d["dtype"] for d in serving.litert_interpreter(model_path=info["path"]).get_tensor_details()}
    assert np.int8 in dtypes


@pytest.mark.parametrize("name", GENERATIVE)
def test_tflite_sample_is_fresh_each_call(name, tflite_files):
    runner = serving.litert_interpreter(model_path=tflite_files(name, "none")["path"]).get_signature_runner("sample")
    one = np.array(1.0, np.float32)
    a = runner(n=np.array(5, np.int32), temperature=one)["x"]
    b = runner(n=np.array(5, np.int32), temperature=one)["x"]
    assert a.shape == (5,) + SHAPE and not np.array_equal(a, b)
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_tflite_bad_arguments_are_clear_errors(trained, tmp_path):
    model = trained["ae"]
    path = str(tmp_path / "m.tflite")
    with pytest.raises(serving.ExportError, match="unknown quantization 'int4'"):
        serving.export_tflite(model, path, "int4")
    with pytest.raises(serving.ExportError, match="needs representative_data"):
        serving.export_tflite(model, path, "int8")
    with pytest.raises(serving.ExportError, match=r"shape \(N,\) \+ \(8, 8, 1\).*got \(10, 64\)"):
        serving.export_tflite(model, path, "int8", representative_data=np.zeros((10, 64), np.float32))
    with pytest.raises(serving.ExportError, match="NaN"):
        serving.export_tflite(model, path, "int8", representative_data=np.full((4,) + SHAPE, np.nan, np.float32))
    assert not os.path.exists(path)


@pytest.mark.slow
def test_a_crashing_int8_converter_becomes_an_export_error(trained, data, tmp_path, monkeypatch):
    # TF 2.21's int8 quantizer segfaults on some graphs (the continuous Bernoulli likelihood);
    # the conversion runs in a child so that such a crash is an error, and no file is written.
    monkeypatch.setattr(serving.tflite, "_INT8_CONVERTER_SCRIPT", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    path = tmp_path / "m.int8.tflite"
    with pytest.raises(serving.ExportError, match="crashed with signal 11"):
        serving.export_tflite(trained["ae"], str(path), "int8", representative_data=data)
    assert not path.exists() and not list(tmp_path.iterdir())
