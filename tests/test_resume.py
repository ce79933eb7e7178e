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
def test_sigkill_mid_run_then_resume_finishes_with_full_history(tmp_path):
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

    out, err = _train(run_dir, "--resume").communicate(timeout=300)
    assert "resuming after epoch" in out, err[-3000:]
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
