"""The command line as a new user meets it (issue 12): fast help, plain piped output, no native
noise, --quiet, --set, --data-dir, the keras-ae console script and the Python API ``zoo.train``."""

import json
import os
import re
import subprocess
import sys

import pytest

import zoo
from zoo import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600, **kwargs)


def test_help_does_not_import_tensorflow():
    code = ("import sys, contextlib, io\n"
            "from zoo import cli\n"
            "for argv in ([], ['train'], ['eval'], ['bench']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try: cli.console_main(argv + ['--help'])\n"
            "        except SystemExit: pass\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    done = _python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_the_help_lists_the_strategies_and_precisions_the_library_accepts():
    from keras_ae import training

    assert tuple(cli.STRATEGY_NAMES) == tuple(training.STRATEGIES)
    assert tuple(cli.PRECISION_NAMES) == tuple(training.PRECISIONS)


@pytest.mark.slow
def test_piped_train_prints_one_plain_line_per_epoch_and_no_native_noise(tmp_path):
    out = str(tmp_path / "run")
    done = _python("-m", "zoo", "train", "ae-digits", "--epochs", "2", "--out", out, "--num-samples", "2")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "━" not in done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith("training ae-digits on digits")
    # one line per epoch, all of it on that line, then the metrics
    assert [line.split(" - ")[0] for line in lines[1:3]] == ["epoch 1/2", "epoch 2/2"], lines[:4]
    assert all(re.fullmatch(r"epoch \d/2 - \d+\.\d s - loss: \d+\.\d{4} - .* - val_loss: \d+\.\d{4} - .*", line)
               for line in lines[1:3]), lines[1:3]
    assert lines[3] == "{"
    assert done.stderr.strip() == "", done.stderr  # no absl/oneDNN/CUDA line
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["definitions"]["test_reconstruction"].startswith("test mean of the model's own loss term")
    assert os.path.getsize(os.path.join(out, "loss_curves.png")) > 1000


def test_zoo_train_api_with_model_arguments_and_quiet(tmp_path, capsys):
    run = zoo.train("ae-digits", epochs=1, out=str(tmp_path / "api"), latent_dim=3, hidden_units=(32,),
                    num_samples=2)
    assert run.status == "completed" and os.path.isfile(os.path.join(run.run_dir, "model.keras"))
    assert capsys.readouterr().out == ""  # quiet
    model = zoo.load(run.run_dir)
    assert model.latent_dim == 3 and model.hidden_units == (32,)
    config = json.load(open(os.path.join(run.run_dir, "config.json")))
    assert config["model_overrides"] == {"latent_dim": 3, "hidden_units": [32]}
    with pytest.raises(ValueError, match="Autoencoder does not take the arguments given .*no_such_argument"):
        zoo.train("ae-digits", epochs=1, out=str(tmp_path / "bad"), no_such_argument=1)
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        zoo.train("nope")


@pytest.mark.parametrize("item, message", [
    ("latent_dim", "--set takes KEY=VALUE"),
    ("=3", "--set takes KEY=VALUE"),
    ("seed=3", "--set seed: seed comes from the data and --seed"),
])
def test_bad_set_items_are_named(item, message):
    with pytest.raises(cli.CliError, match=message):
        cli.parse_overrides([item])


def test_set_values_are_json_or_bare_words():
    assert cli.parse_overrides(["latent_dim=32", "likelihood=gaussian", "hidden_units=[256, 128]", "beta=0.5"]) == \
        {"latent_dim": 32, "likelihood": "gaussian", "hidden_units": (256, 128), "beta": 0.5}


def test_console_script_dispatches_export_and_names_itself(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.console_main(["export", "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("usage: keras-ae export")
    with pytest.raises(SystemExit):
        cli.console_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: keras-ae")


@pytest.mark.slow
def test_an_unprepared_tfds_dataset_is_one_line_naming_data_dir(tmp_path):
    done = _python("-m", "zoo", "train", "vae-mnist", "--out", str(tmp_path / "r"),
                   "--data-dir", str(tmp_path / "empty"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "dataset 'mnist' is not prepared" in done.stderr and "--data-dir" in done.stderr
