"""``python -m export``: artifacts, TF Serving assets, REST bodies, and bad input (exit 2, nothing touched)."""

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import models, serving, training

from export import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NAME = "vae-digits"


def make_run_dir(folder, generative=True):
    """A run directory as ``python -m zoo train`` writes it, with a tiny model (one short fit)."""
    os.makedirs(folder, exist_ok=True)
    if generative and hasattr(models, "VAE"):
        model = models.VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0)
    else:
        model = models.Autoencoder(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,),
                                   reconstruction="bernoulli", seed=0)
    training.compile_model(model)
    model.fit(np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype(np.float32), epochs=1, verbose=0)
    training.atomic_save_model(model, os.path.join(folder, "model.keras"))
    training.atomic_write_json(os.path.join(folder, "config.json"),
                               {"recipe": {"name": NAME, "binarize": None}, "dataset": "digits", "seed": 0})
    return model


def snapshot(folder):
    """Every file under ``folder`` with its size and modification time."""
    found = {}
    for root, _, files in os.walk(folder):
        for f in files:
            path = os.path.join(root, f)
            st = os.stat(path)
            found[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("run"))
    return folder, make_run_dir(folder)


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    """One export of the run (float32 and int8 TFLite), shared by the tests below."""
    folder, _ = run_dir
    out = str(tmp_path_factory.mktemp("exports"))
    # capsys is function-scoped: capture the module fixture's output by hand.
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = cli.main([folder, "--out", out, "--tflite", "none,int8", "--calibration-examples", "64"])
    assert status == 0
    return out, buffer.getvalue()


def test_export_writes_saved_model_tflite_config_and_requests(run_dir, exported):
    _, model = run_dir
    out, printed = exported
    assert os.path.isfile(os.path.join(out, NAME, "1", "saved_model.pb"))
    for q in ("none", "int8"):
        tflite = os.path.join(out, "tflite", NAME, "1", f"{NAME}.{q}.tflite")
        assert os.path.getsize(tflite) > 0
        with open(serving.sidecar_path(tflite)) as f:
            sidecar = json.load(f)
        assert sidecar["quantization"] == q and sidecar["parity"]["probe"] == "representative data"
    with open(os.path.join(out, "models.config")) as f:
        config = f.read()
    assert f'name: "{NAME}"' in config and f'base_path: "/models/{NAME}"' in config
    assert os.path.isfile(os.path.join(out, "docker-compose.yml"))
    requests = sorted(os.listdir(os.path.join(out, NAME, "1", "requests")))
    assert requests == sorted(f"{s}.json" for s in serving.signature_names(model))
    # The table: a header, keras, the SavedModel and one row per TFLite file.
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("artifact"))
    rows = lines[header + 2: header + 6]
    assert rows[0].startswith("keras") and rows[1].startswith(os.path.join(NAME, "1"))
    assert rows[2].startswith(os.path.join("tflite", NAME, "1", f"{NAME}.none.tflite"))
    assert rows[3].split()[0].endswith("int8.tflite")
    assert all(row.endswith(("us", "ms")) for row in rows)
    # the anomaly score's parity has its own column: the float32 file's within round-off
    assert "score |err|" in lines[header]
    score_column = lines[header].index("score |err|")
    assert float(rows[2][score_column:].split()[0]) < 1e-3


def test_request_bodies_run_through_the_saved_model_like_serving(run_dir, exported):
    """Each REST body, mapped from ``instances`` to a batch as TF Serving does, matches Keras."""
    _, model = run_dir
    out, _ = exported
    signatures = tf.saved_model.load(os.path.join(out, NAME, "1")).signatures
    for sig in serving.signature_names(model):
        with open(os.path.join(out, NAME, "1", "requests", f"{sig}.json")) as f:
            body = json.load(f)
        assert body["signature_name"] == sig
        response = serving.predict_rest(signatures, body)
        if sig == "sample":
            assert np.array(response["outputs"]).shape == (body["inputs"]["n"], 8, 8, 1)
            continue
        if sig == "sample_seeded":  # the columnar body of a call without a batch: n and seed
            expected = model.sample(int(body["inputs"]["n"]), seed=int(body["inputs"]["seed"]))
            np.testing.assert_allclose(np.array(response["outputs"]), expected, atol=1e-6)
            continue
        if sig == "decode":
            z = np.array([row["z"] for row in body["instances"]], np.float32)
            expected = model.decode(z)
        else:
            x = np.array([row["x"] for row in body["instances"]], np.float32)
            expected = {"reconstruct": model.reconstruct, "score": model.score,
                        "encode": lambda v: model.encode_outputs(v)["code"]}[sig](x)
        got = response["predictions"]
        if sig == "encode":
            got = [row["code"] for row in got]
        np.testing.assert_allclose(np.array(got), expected, rtol=1e-5, atol=1e-5)  # scores are sums of 64 float32 terms


def test_second_export_takes_the_next_version(run_dir, exported, capsys):
    folder, _ = run_dir
    out, _ = exported
    assert cli.main([folder, "--out", out, "--tflite", ""]) == 0
    assert os.path.isfile(os.path.join(out, NAME, "2", "saved_model.pb"))
    with open(os.path.join(out, "models.config")) as f:
        assert f.read().count(f'name: "{NAME}"') == 1
    assert f"exported {NAME} version 2" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["missing_run", "no_model", "unknown_quantization", "existing_version",
                                  "bad_representative_shape", "bad_version"])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(case, run_dir, exported, tmp_path, capsys):
    folder, _ = run_dir
    out, _ = exported
    argv = {
        "missing_run": [str(tmp_path / "nope"), "--out", out],
        "no_model": [str(tmp_path), "--out", out],
        "unknown_quantization": [folder, "--out", out, "--tflite", "none,int4"],
        "existing_version": [folder, "--out", out, "--version", "1", "--tflite", "none"],
        "bad_representative_shape": [folder, "--out", out, "--tflite", "int8",
                                     "--representative", str(tmp_path / "flat.npy")],
        "bad_version": [folder, "--out", out, "--version", "0"],
    }[case]
    np.save(tmp_path / "flat.npy", np.zeros((10, 64), np.float32))
    before = snapshot(out)
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    expected = {
        "missing_run": "does not exist",
        "no_model": "model.keras is missing",
        "unknown_quantization": "unknown quantization 'int4'",
        "existing_version": "already exists",
        "bad_representative_shape": "must have shape (N,) + (8, 8, 1)",
        "bad_version": "positive integer",
    }[case]
    assert expected in err
    assert snapshot(out) == before
    assert not [d for d in os.listdir(os.path.join(out, NAME)) if d.startswith(".")]


def test_python_dash_m_export_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "export", str(tmp_path / "missing")], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: run directory {tmp_path / 'missing'} does not exist"


def test_tflite_files_hold_the_signatures_asked_for_and_are_smaller(run_dir, exported, tmp_path, capsys):
    """``--signatures decode,sample``: what a phone app that only generates needs, in a smaller file."""
    folder, model = run_dir
    full_out, _ = exported
    out = str(tmp_path / "exports")
    capsys.readouterr()
    assert cli.main([folder, "--out", out, "--tflite", "none", "--signatures", "sample,decode"]) == 0
    printed = capsys.readouterr().out
    path = os.path.join(out, "tflite", NAME, "1", f"{NAME}.none.tflite")
    signatures = serving.litert_interpreter(model_path=path).get_signature_list()
    assert sorted(signatures) == ["decode", "sample"]
    with open(serving.sidecar_path(path)) as f:
        sidecar = json.load(f)
    assert sorted(sidecar["signatures"]) == ["decode", "sample"]
    assert sorted(sidecar["parity"]["max_abs_error"]) == ["decode"] and sidecar["parity"]["stochastic"]["sample"]
    full = os.path.getsize(os.path.join(full_out, "tflite", NAME, "1", f"{NAME}.none.tflite"))
    assert os.path.getsize(path) < 0.8 * full, (os.path.getsize(path), full)
    # The SavedModel keeps every signature; the table has the file's size and "-" for its latency.
    saved = tf.saved_model.load(os.path.join(out, NAME, "1")).signatures
    assert sorted(saved) == sorted(set(serving.signature_names(model)) | {"serving_default"})
    row = next(line for line in printed.splitlines() if line.startswith(os.path.join("tflite", NAME)))
    assert serving.human_size(sidecar["size_bytes"]) in row and row.split()[-2:] == ["-", "-"], row
    assert "TFLite files hold decode, sample" in printed


@pytest.mark.parametrize("value,match", [("decode,nope", "unknown signature 'nope'; VAE exports reconstruct"),
                                         ("decode,decode", "names a signature twice"), (",", "names no signature")])
def test_bad_signatures_are_one_line_exit_2(value, match, run_dir, tmp_path, capsys):
    folder, _ = run_dir
    capsys.readouterr()
    assert cli.main([folder, "--out", str(tmp_path / "exports"), "--signatures", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --signatures: ") and err.count("\n") == 1 and match in err, err
    assert not os.path.exists(tmp_path / "exports")
