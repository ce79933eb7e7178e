"""A damaged model.keras, backup or config.json is named as damaged, with what to do (not "File not found").

Each case runs the command line (``python -m zoo`` / ``python -m export``) and checks its exit
status 2 and its one line on stderr: through the command's ``main`` in this process, and one case
(``PROCESS_CASES``) as a real process.
"""

import os
import shutil
import subprocess
import sys

import pytest

import export.cli
import zoo.cli
from keras_ae import models, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*argv, timeout=300):
    """``python -m zoo|export ARGV`` in a subprocess: ``(exit status, stderr lines)``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stderr.strip().splitlines()


def cli_in_process(capfd, command, *argv):
    """``python -m zoo|export ARGV`` through the command's ``main`` in this process: ``(exit status, stderr lines)``.

    A process costs seconds of TensorFlow start-up; what is checked here is the command's answer,
    so only :data:`PROCESS_CASES` run as a real process (for what a shell sees).
    """
    main = {"zoo": zoo.cli.main, "export": export.cli.main}[command]
    capfd.readouterr()
    status = main(list(argv))
    return status, capfd.readouterr().err.strip().splitlines()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run directory of ae-digits by hand: config.json, a tiny model.keras, history.csv."""
    folder = tmp_path_factory.mktemp("finished")
    model = models.Autoencoder(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)
    model.build()
    training.compile_model(model)
    training.atomic_save_model(model, str(folder / "model.keras"))
    training.atomic_write_json(str(folder / "config.json"),
                               {"recipe": {"name": "ae-digits", "binarize": None}, "dataset": "digits", "seed": 0,
                                "epochs": 1})
    model.save_weights(str(folder / "epoch-1.weights.h5"))
    return folder


def _damage(run, case):
    """Damage one file of the run directory ``run`` as ``case`` says; the command to run and the message."""
    model, config = run / "model.keras", run / "config.json"
    if case.startswith("model-truncated"):
        data = model.read_bytes()
        model.write_bytes(data[: len(data) // 2])
        return f"the model file {model} is damaged (not a whole .keras zip archive: truncated or overwritten"
    if case.startswith("model-corrupt"):
        data = bytearray(model.read_bytes())
        offset = data.find(b"model.weights.h5") + 200  # inside the weights member's compressed data
        data[offset] ^= 0xFF
        model.write_bytes(bytes(data))
        return f"the model file {model} is damaged (its member model.weights.h5 fails its CRC check)"
    if case.startswith("config"):
        config.write_text('{"recipe": {"name": "ae-di')
        return f"{config} is damaged (not JSON: Unterminated string starting at: line 1 column 21 (char 20)); " \
               "restore it from a copy"
    raise AssertionError(case)


def _resumable(run, weights=None, metadata=None):
    """Turn the finished run into an interrupted one with a backup (damaged as given)."""
    os.remove(run / "model.keras")
    backup = run / "backup"
    backup.mkdir()
    shutil.move(str(run / "epoch-1.weights.h5"), str(backup / "epoch-1.weights.h5"))
    training.atomic_write_json(str(backup / "training_metadata.json"),
                               {"epoch": 1, "batch": 0, "weights": "epoch-1.weights.h5"})
    if weights:
        data = (backup / "epoch-1.weights.h5").read_bytes()
        (backup / "epoch-1.weights.h5").write_bytes(data[: len(data) // 3])
    if metadata:
        (backup / "training_metadata.json").write_text('{"epoch": 1, "ba')
    return backup


CASES = {
    # case: (command, expected start of the advice after the damage)
    "model-truncated-eval": ("eval", "restore it from a copy, or train the run again"),
    "model-truncated-export": ("export", "restore it from a copy, or train the run again"),
    "model-truncated-resume": ("resume", "restore it from a copy, or train the run again"),
    "model-corrupt-eval": ("eval", "restore it from a copy, or train the run again"),
    "config-eval": ("eval", None),
    "config-export": ("export", None),
    "config-resume": ("resume", None),
}


#: the cases run as a real process, one per command line (the zoo's runs in test_zoo_cli.py and test_faults.py).
PROCESS_CASES = {"model-truncated-export"}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_model_or_config_is_named_with_what_to_do(case, finished, tmp_path, capfd):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    command, advice = CASES[case]
    if case == "config-resume":  # an interrupted run, its backup kept, to resume
        _resumable(run)
    damage = _damage(run, case)
    argv = {"eval": ("zoo", "eval", str(run)),
            "export": ("export", str(run), "--out", str(tmp_path / "exports"), "--tflite", ""),
            "resume": ("zoo", "train", "ae-digits", "--resume", "--out", str(run), "--epochs", "1")}[command]
    status, lines = cli(*argv) if case in PROCESS_CASES else cli_in_process(capfd, *argv)
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {damage}"), lines[0]
    assert "File not found" not in lines[0]
    if advice:
        assert advice in lines[0]
    assert not os.path.exists(tmp_path / "exports" / "ae-digits")


def test_a_damaged_model_with_its_backup_kept_is_finished_again_with_resume(finished, tmp_path, capfd):
    """Killed between the save and the backup's removal, then the model damaged: --resume finishes it again."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    model = (run / "model.keras").read_bytes()
    _resumable(run)
    (run / "model.keras").write_bytes(model[:100])
    status, lines = cli_in_process(capfd, "zoo", "eval", str(run))
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].endswith(f"its backup is still there: delete it and finish the run again with "
                             f"`python -m zoo train ae-digits --out {run} --resume`"), lines[0]


@pytest.mark.parametrize("part", ["weights", "metadata"])
def test_a_damaged_backup_is_named_with_what_to_do(part, finished, tmp_path, capfd):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    backup = _resumable(run, **{part: True})
    status, lines = cli_in_process(capfd, "zoo", "train", "ae-digits", "--resume", "--out", str(run), "--epochs", "2")
    assert status == 2 and len(lines) == 1, lines
    damaged = {"weights": f"the backup weights {backup / 'epoch-1.weights.h5'} are damaged (",
               "metadata": f"the backup metadata {backup / 'training_metadata.json'} is damaged ("}[part]
    assert lines[0].startswith(f"error: cannot resume {run}: {damaged}"), lines[0]
    assert lines[0].endswith("; delete the backup folder to train the run again from its first epoch with "
                             "--resume, or choose another --out"), lines[0]
