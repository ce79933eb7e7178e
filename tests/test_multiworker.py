"""MultiWorkerMirroredStrategy for real: two worker processes on 127.0.0.1 train one recipe."""

import csv
import json
import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _train(run_dir, scratch, env_extra, strategy):
    os.makedirs(scratch, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(scratch), **env_extra}
    cmd = [sys.executable, "-m", "zoo", "train", "ae-digits", "--epochs", "2", "--out", str(run_dir),
           "--verbose", "0", "--num-samples", "5", "--strategy", strategy]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _digest(out):
    return next(line.split(": ")[1] for line in out.splitlines() if line.startswith("weights digest: "))


def _losses(run_dir):
    with open(run_dir / "history.csv", newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_two_local_workers_train_identical_weights_and_only_the_chief_writes(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run_dir = tmp_path / "run"
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(_train(run_dir, tmp_path / f"scratch{index}", {"TF_CONFIG": tf_config}, "multiworker"))
    outs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        assert proc.returncode == 0, err[-3000:]
        outs.append(out)
    assert _digest(outs[0]) == _digest(outs[1])  # bitwise-equal weights on both workers
    assert "run directory:" in outs[0] and "the chief writes" in outs[1]
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "model.keras", "history.csv", "metrics.json"}
    assert json.loads((run_dir / "config.json").read_text())["strategy"] == "multiworker"
    # The non-chief wrote only to a scratch folder, and removed it.
    assert not any((tmp_path / "scratch1").iterdir())
    assert {p.name for p in tmp_path.iterdir()} == {"run", "scratch0", "scratch1"}

    # The logged losses are those of one process training on the same global batches.
    single = tmp_path / "single"
    out, err = _train(single, tmp_path / "scratch2", {}, "default").communicate(timeout=300)
    assert (single / "model.keras").exists(), err[-3000:]
    for multi, one in zip(_losses(run_dir), _losses(single)):
        assert abs(multi - one) <= 1e-3 * abs(one)
