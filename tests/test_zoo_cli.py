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


def zoo_in_process(capfd, *args, stdout=False):
    """``python -m zoo ARGS`` run in this process (``zoo.cli.main``): ``(exit status, stderr)``,
    or ``(exit status, stdout, stderr)`` with ``stdout``.

    A process costs seconds of TensorFlow start-up, so only what is about the process runs as
    one: a training and its evaluation, and one of the one-line errors (an unknown recipe), for
    the exit status and stderr a shell sees. The other commands and errors are checked here.
    """
    capfd.readouterr()
    status = main(list(args))
    captured = capfd.readouterr()
    return (status, captured.out, captured.err) if stdout else (status, captured.err)


def assert_one_error_line(status, stderr, message):
    assert status == 2, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], stderr[-2000:]
    assert "Traceback" not in stderr


def test_list_shows_every_recipe(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, recipe in RECIPES.items():
        assert name in out and recipe.description in out


@pytest.mark.slow
def test_an_unknown_recipe_exits_2_with_one_line_from_a_real_process():
    result = run_zoo("train", "no-such-recipe", timeout=120)
    assert_one_error_line(result.returncode, result.stderr, "unknown recipe 'no-such-recipe'; known recipes: ")
    assert "ae-digits" in result.stderr and "vae-digits" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["train", "no-such-recipe"], "unknown recipe 'no-such-recipe'; known recipes: "),
    (["train", "ae-digits", "--dataset", "nope"], "nope"),
    (["train", "ae-digits", "--epochs", "0"], "--epochs must be >= 1"),
    (["eval", "/nonexistent/run"], "does not exist"),
    (["eval", "/nonexistent/run", "--ais", "--ais-steps", "0"], "--ais-steps must be >= 1"),
    (["eval", "/nonexistent/run", "--gaps", "--gaps-steps", "0"], "--gaps-steps must be >= 1"),
])
def test_bad_names_exit_2_with_one_line(args, message, capfd):
    status, stderr = zoo_in_process(capfd, *args)
    assert_one_error_line(status, stderr, message)
    if "recipe" in message:
        assert "ae-digits" in stderr and "vae-digits" in stderr


def test_eval_of_a_directory_without_model_exits_2(tmp_path, capfd):
    status, stderr = zoo_in_process(capfd, "eval", str(tmp_path))
    assert status == 2
    assert "model.keras is missing" in stderr or "config.json is missing" in stderr


@pytest.mark.slow
def test_train_writes_a_complete_run_directory_and_eval_recomputes_it(tmp_path, capfd):
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
    status, out, err = zoo_in_process(capfd, "search", str(run_dir), "--class", "3", "--codes", "2", "--steps", "20",
                                      stdout=True)
    assert status == 0, err[-3000:]
    report = json.loads(out)
    # ascent on the objective plus the log prior (the class probability alone may trade off against the prior)
    assert report["objective_end"] + report["log_prior_end"] > report["objective_start"] + report["log_prior_start"]
    assert 0 < report["class_probability_end"] < 1
    assert (run_dir / "latent_search.png").stat().st_size > 1000
    status, out, _ = zoo_in_process(capfd, "search", str(run_dir), "--target", "0", "--codes", "1", "--steps", "20",
                                    "--out", str(tmp_path / "near.png"), stdout=True)
    assert status == 0 and json.loads(out)["objective_end"] > json.loads(out)["objective_start"]
    assert zoo_in_process(capfd, "search", str(run_dir), "--target", "100000")[0] == 2

    # lossless bits-back compression of the first test images, and back, bit for bit
    import numpy as np
    from zoo.runner import load_split

    status, out, err = zoo_in_process(capfd, "compress", str(run_dir), "--out", str(tmp_path / "msg.npz"),
                                      "--max-examples", "5", stdout=True)
    assert status == 0, err[-3000:]
    report = json.loads(out)
    assert report["images"] == 5 and report["bits_per_dim"] > 0 and report["initial_bits"] > 0
    status, err = zoo_in_process(capfd, "decompress", str(run_dir), str(tmp_path / "msg.npz"),
                                 "--out", str(tmp_path / "x.npz"))
    assert status == 0, err[-3000:]
    x_test, _ = load_split("digits", "test", "dynamic", 3)
    np.testing.assert_array_equal(np.load(tmp_path / "x.npz")["x"], x_test[:5].astype(np.uint8))
    # Same model, same test set: the posterior-mean metrics are recomputed exactly.
    assert recomputed["reconstruction_mse"] == pytest.approx(metrics["reconstruction_mse"], rel=1e-5)
    assert recomputed["status"] == "completed"

    status, err = zoo_in_process(capfd, "train", "vae-digits", "--epochs", "1", "--out", str(run_dir))
    assert status == 2 and "already holds" in err


@pytest.mark.slow
def test_train_a_deterministic_recipe_on_a_user_npz(tmp_path, capfd):
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=rng.integers(0, 256, size=(64, 6, 6), dtype=np.uint8),
             x_test=rng.integers(0, 256, size=(16, 6, 6), dtype=np.uint8))
    run_dir = tmp_path / "run"
    # in this process: a training as a process is the test above
    status, stderr = zoo_in_process(capfd, "train", "ae-digits", "--dataset", f"npz:{path}", "--epochs", "1",
                                    "--out", str(run_dir), "--verbose", "0")
    assert status == 0, stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["reconstruction_mse"] > 0
    assert json.loads((run_dir / "config.json").read_text())["input_shape"] == [6, 6, 1]


@pytest.mark.parametrize("config,model,message", [
    ('{"recipe": {"name": "ae-digits"}, "dataset": "digits"}', b"not a zip file", "model.keras is damaged"),
    ("{broken", b"", "config.json is damaged (not JSON"),
    ('{"epochs": 3}', b"", "not a zoo run configuration"),
])
def test_eval_of_a_broken_run_directory_exits_2_with_one_line(tmp_path, config, model, message, capfd):
    (tmp_path / "config.json").write_text(config)
    (tmp_path / "model.keras").write_bytes(model)
    assert_one_error_line(*zoo_in_process(capfd, "eval", str(tmp_path)), message)
