"""Fault tolerance: SIGKILL a training process mid-run, ``--resume`` it, and check the run directory."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = 30


def _train(run_dir, *extra):
    cmd = [sys.executable, "-m", "zoo", "train", "ae-digits", "--epochs", str(EPOCHS), "--out", str(run_dir),
           "--verbose", "0", "--num-samples", "5", *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _backup_epoch(run_dir):
    try:
        with open(os.path.join(run_dir, "backup", "training_metadata.json")) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError):
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_finishes_with_full_history(tmp_path, capfd):
    run_dir = tmp_path / "run"
    proc = _train(run_dir)
    deadline = time.monotonic() + 240
    try:
        while _backup_epoch(run_dir) < 3:
            assert proc.poll() is None, f"training ended before it could be killed: {proc.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, "no backup after 240 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    killed_at = _backup_epoch(run_dir)
    assert 3 <= killed_at < EPOCHS
    assert not (run_dir / "model.keras").exists()

    # the resume through zoo's main in this process (the killed training was the process)
    from zoo import cli

    capfd.readouterr()
    status = cli.main(["train", "ae-digits", "--epochs", str(EPOCHS), "--out", str(run_dir), "--verbose", "0",
                       "--num-samples", "5", "--resume"])
    out, err = capfd.readouterr()
    assert status == 0 and "resuming after epoch" in out, err[-3000:]
    with open(run_dir / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, EPOCHS + 1))
    assert all(float(r["loss"]) > 0 for r in rows)
    # Training continued from the backup, not from scratch: the loss keeps falling after the kill.
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["epochs"] == EPOCHS
    json.loads((run_dir / "config.json").read_text())
    assert not (run_dir / "backup").exists()  # removed once fit finished
    leftovers = [p for p in run_dir.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert not leftovers, leftovers

    import keras

    import keras_ae  # noqa: F401

    model = keras.models.load_model(run_dir / "model.keras")
    assert model.reconstruct(keras.ops.zeros((1, 8, 8, 1))).shape == (1, 8, 8, 1)


TINY = ["--set", "hidden_units=[8]", "--verbose", "0", "--num-samples", "2"]


def _interrupted(run_dir, fault, epochs):
    """A run of ae-digits killed at ``fault`` (tests/fault_child.py): its backup is kept."""
    from tests.fault_child import run_child

    status, _, err = run_child(fault, "zoo", "train", "ae-digits", "--epochs", str(epochs), "--out", str(run_dir),
                               *TINY)
    assert status == -9, err[-3000:]


@pytest.mark.slow
def test_resume_with_fewer_epochs_than_finished_is_refused_with_one_line(tmp_path, capfd):
    from zoo import cli

    run_dir = tmp_path / "run"
    _interrupted(run_dir, "kill:evaluation", 2)  # both epochs finished, killed while evaluating
    files = lambda: sorted((p.relative_to(run_dir), p.stat().st_mtime_ns)  # noqa: E731
                           for p in run_dir.rglob("*") if p.name != ".lock")  # the killed process's lock goes
    before = files()
    # the refusal through zoo's main in this process (a one-line refusal as a real process: tests/test_faults.py)
    capfd.readouterr()
    status = cli.main(["train", "ae-digits", "--resume", "--epochs", "1", "--out", str(run_dir), *TINY])
    stderr = capfd.readouterr().err
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1, stderr[-3000:]
    assert lines[0] == (f"error: --resume: {run_dir} has finished 2 epochs, more than --epochs 1; pass --epochs 2 "
                        "or more (without --epochs it trains to the recorded 2)")
    assert files() == before


def test_settings_changed_on_resume_are_recorded_with_their_epoch_and_used(tmp_path, capsys):
    from keras_ae import training

    from zoo import cli

    run_dir = tmp_path / "run"
    _interrupted(run_dir, "kill:mid-epoch", 3)  # killed in epoch 2: the backup holds epoch 1
    assert training.backup_epoch(str(run_dir / "backup")) == 1
    capsys.readouterr()
    assert cli.main(["train", "ae-digits", "--resume", "--out", str(run_dir), "--epochs", "4",
                     "--learning-rate", "0.0001", "--batch-size", "32", *TINY]) == 0
    assert ("resuming after epoch 1, epochs 3 -> 4, batch_size 64 -> 32, learning_rate 0.001 -> 0.0001"
            in capsys.readouterr().out)
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["epochs"], config["batch_size"], config["learning_rate"]) == (4, 32, 1e-4)
    changes = {c["setting"]: c for c in config["changes"]}
    assert changes["learning_rate"] == {"setting": "learning_rate", "was": 1e-3, "now": 1e-4, "from_epoch": 2}
    assert changes["epochs"]["was"] == 3 and changes["batch_size"]["from_epoch"] == 2
    assert config["resumes"][0]["after_epoch"] == 1 and "--learning-rate 0.0001" in config["resumes"][0]["command"]
    # The new rate is the one trained with (the backup's optimizer state held the old one).
    model = training.load_model_file(str(run_dir / "model.keras"))
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    assert [row["epoch"] for row in training.read_history(str(run_dir / "history.csv"))] == [1, 2, 3, 4]
