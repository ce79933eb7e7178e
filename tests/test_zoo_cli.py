"""``python -m zoo``: list, train, eval, and the one-line errors with exit status 2."""

import csv
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from zoo.cli import main
from keras_ae.presets import RECIPES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_zoo(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_list_shows_every_recipe(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, recipe in RECIPES.items():
        assert name in out and recipe.description in out


@pytest.mark.parametrize("args,message", [
    (["train", "no-such-recipe"], "unknown recipe 'no-such-recipe'; known recipes: "),
    (["train", "ae-digits", "--dataset", "nope"], "nope"),
    (["train", "ae-digits", "--epochs", "0"], "--epochs must be >= 1"),
    (["eval", "/nonexistent/run"], "does not exist"),
    (["eval", "/nonexistent/run", "--ais", "--ais-steps", "0"], "--ais-steps must be >= 1"),
    (["eval", "/nonexistent/run", "--gaps", "--gaps-steps", "0"], "--gaps-steps must be >= 1"),
])
@pytest.mark.slow
def test_bad_names_exit_2_with_one_line(args, message):
    result = run_zoo(*args, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    if "recipe" in message:
        assert "ae-digits" in lines[0] and "vae-digits" in lines[0]


@pytest.mark.slow
def test_eval_of_a_directory_without_model_exits_2(tmp_path):
    result = run_zoo("eval", str(tmp_path), timeout=120)
    assert result.returncode == 2
    assert "model.keras is missing" in result.stderr or "config.json is missing" in result.stderr


@pytest.mark.slow
def test_train_writes_a_complete_run_directory_and_eval_recomputes_it(tmp_path):
    run_dir = tmp_path / "run"
    result = run_zoo("train", "vae-digits", "--epochs", "2", "--out", str(run_dir), "--seed", "3",
                     "--num-samples", "20", "--verbose", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(run_dir) in result.stdout
    names = set(os.listdir(run_dir))
    assert {"config.json", "model.keras", "history.csv", "metrics.json", "reconstructions.png",
            "samples.png", "tensorboard"} <= names
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names  # nothing half-written
    config = json.loads((run_dir / "config.json").read_text())
    assert config["recipe"]["name"] == "vae-digits" and config["epochs"] == 2 and config["seed"] == 3
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"loss", "kl", "reconstruction", "val_loss"} <= set(rows[0])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert metrics["nll"] > 0 and metrics["elbo"] < 0
    with Image.open(run_dir / "reconstructions.png") as image:
        assert image.size[0] > 50 and image.size[1] > 50
    assert os.listdir(run_dir / "tensorboard")

    again = run_zoo("eval", str(run_dir), "--num-samples", "20", "--ais", "--ais-chains", "2", "--ais-steps", "20",
                    "--ais-examples", "4", "--gaps", "--gaps-examples", "3", "--gaps-steps", "20")
    assert again.returncode == 0, again.stderr[-3000:]
    recomputed = json.loads((run_dir / "metrics.json").read_text())
    assert recomputed["nll_ais_examples"] == 4 and recomputed["nll_ais_steps"] == 20
    assert recomputed["nll_ais"] > 0 and recomputed["nll_is_same_examples"] > 0
    assert "nll_ais" in recomputed["definitions"]
    assert recomputed["gap_examples"] == 3 and recomputed["gap_log_px_method"] == "ais"
    for family in ("gaussian", "flow"):  # the split adds up
        assert recomputed[f"gap_approximation_{family}"] + recomputed[f"gap_amortization_{family}"] == pytest.approx(
            recomputed["gap_inference"], abs=1e-9)

    # latent search for a class and for a test image, with its picture
    found = run_zoo("search", str(run_dir), "--class", "3", "--codes", "2", "--steps", "20")
    assert found.returncode == 0, found.stderr[-3000:]
    report = json.loads(found.stdout)
    # ascent on the objective plus the log prior (the class probability alone may trade off against the prior)
    assert report["objective_end"] + report["log_prior_end"] > report["objective_start"] + report["log_prior_start"]
    assert 0 < report["class_probability_end"] < 1
    assert (run_dir / "latent_search.png").stat().st_size > 1000
    near = run_zoo("search", str(run_dir), "--target", "0", "--codes", "1", "--steps", "20",
                   "--out", str(tmp_path / "near.png"))
    assert near.returncode == 0 and json.loads(near.stdout)["objective_end"] > json.loads(near.stdout)["objective_start"]
    assert run_zoo("search", str(run_dir), "--target", "100000").returncode == 2

    # lossless bits-back compression of the first test images, and back, bit for bit
    import numpy as np
    from zoo.runner import load_split

    packed = run_zoo("compress", str(run_dir), "--out", str(tmp_path / "msg.npz"), "--max-examples", "5")
    assert packed.returncode == 0, packed.stderr[-3000:]
    report = json.loads(packed.stdout)
    assert report["images"] == 5 and report["bits_per_dim"] > 0 and report["initial_bits"] > 0
    unpacked = run_zoo("decompress", str(run_dir), str(tmp_path / "msg.npz"), "--out", str(tmp_path / "x.npz"))
    assert unpacked.returncode == 0, unpacked.stderr[-3000:]
    x_test, _ = load_split("digits", "test", "dynamic", 3)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npz")["x"], x_test[:5].astype(np.uint8))
    # Same model, same test set: the posterior-mean metrics are recomputed exactly.
    assert recomputed["reconstruction_mse"] == pytest.approx(metrics["reconstruction_mse"], rel=1e-5)
    assert recomputed["status"] == "completed"

    refused = run_zoo("train", "vae-digits", "--epochs", "1", "--out", str(run_dir), timeout=120)
    assert refused.returncode == 2 and "already holds" in refused.stderr


@pytest.mark.slow
def test_train_a_deterministic_recipe_on_a_user_npz(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=rng.integers(0, 256, size=(64, 6, 6), dtype=np.uint8),
             x_test=rng.integers(0, 256, size=(16, 6, 6), dtype=np.uint8))
    run_dir = tmp_path / "run"
    result = run_zoo("train", "ae-digits", "--dataset", f"npz:{path}", "--epochs", "1", "--out", str(run_dir),
                     "--verbose", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["reconstruction_mse"] > 0
    assert json.loads((run_dir / "config.json").read_text())["input_shape"] == [6, 6, 1]


@pytest.mark.parametrize("config,model,message", [
    ('{"recipe": {"name": "ae-digits"}, "dataset": "digits"}', b"not a zip file", "model.keras is damaged"),
    ("{broken", b"", "config.json is damaged (not JSON"),
    ('{"epochs": 3}', b"", "not a zoo run configuration"),
])
def test_eval_of_a_broken_run_directory_exits_2_with_one_line(tmp_path, config, model, message):
    (tmp_path / "config.json").write_text(config)
    (tmp_path / "model.keras").write_bytes(model)
    result = run_zoo("eval", str(tmp_path), timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
