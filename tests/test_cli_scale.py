"""``python -m zoo`` scale options: bad strategy/precision/TF_CONFIG/batch/--resume, NaN runs, bench."""

import json
import os

import pytest

from keras_ae import training
from zoo import cli


def _one_line_error(capsys, code, argv, match):
    assert cli.main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and match in err, err
    return err


def test_unknown_strategy_exits_2(capsys, tmp_path):
    _one_line_error(capsys, 2, ["train", "ae-digits", "--strategy", "gpu", "--out", str(tmp_path / "r")],
                    "unknown strategy 'gpu'")


def test_unknown_precision_exits_2(capsys, tmp_path):
    _one_line_error(capsys, 2, ["train", "ae-digits", "--precision", "fp8", "--out", str(tmp_path / "r")],
                    "unknown precision 'fp8'")


def test_malformed_tf_config_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker"')
    _one_line_error(capsys, 2, ["train", "ae-digits", "--strategy", "multiworker", "--out", str(tmp_path / "r")],
                    "TF_CONFIG is not valid JSON")


def test_indivisible_global_batch_exits_2(capsys, tmp_path, monkeypatch):
    class ThreeReplicas:
        num_replicas_in_sync = 3

    monkeypatch.setattr(training, "make_strategy", lambda name: ThreeReplicas())
    _one_line_error(capsys, 2, ["train", "ae-digits", "--batch-size", "64", "--out", str(tmp_path / "r")],
                    "global batch size 64 is not divisible by the 3 replicas")


def _interrupted_run(run_dir, recipe="ae-digits"):
    os.makedirs(os.path.join(run_dir, "backup"))
    training.atomic_write_json(os.path.join(run_dir, "config.json"), {"recipe": {"name": recipe}})


def test_resume_of_another_recipes_run_exits_2(capsys, tmp_path):
    _interrupted_run(tmp_path / "r")
    _one_line_error(capsys, 2, ["train", "vae-digits", "--out", str(tmp_path / "r"), "--resume"],
                    "holds a run of recipe 'ae-digits', not 'vae-digits'")


def test_interrupted_run_needs_resume(capsys, tmp_path):
    _interrupted_run(tmp_path / "r")
    _one_line_error(capsys, 2, ["train", "ae-digits", "--out", str(tmp_path / "r")], "pass --resume")


def test_resume_needs_out(capsys):
    _one_line_error(capsys, 2, ["train", "ae-digits", "--resume"], "--resume needs --out")


def test_nan_loss_stops_training_and_marks_the_run_failed(capsys, tmp_path):
    run_dir = tmp_path / "r"
    err = _one_line_error(capsys, 1, ["train", "ae-digits", "--epochs", "3", "--learning-rate", "1e30",
                                      "--out", str(run_dir), "--verbose", "0"], "training stopped: loss became")
    assert "epoch 1" in err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "loss became" in metrics["error"]
    assert not (run_dir / "model.keras").exists()


def test_bench_prints_throughput_step_time_and_memory(capsys):
    assert cli.main(["bench", "ae-digits", "--steps", "20", "--warmup", "4", "--batch-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "examples/s" in out and "ms/step" in out and "peak memory" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["examples_per_second"] > 0 and result["peak_memory_mb"] > 0 and result["batch_size"] == 32
    # ae-digits, 64-128-16 (its recipe): the train step's products, 2 FLOPs per multiply-add:
    # forward 64x128, 128x16, 16x128, 128x64; weight gradients of all four; input gradients of the last three
    forward = 64 * 128 + 128 * 16 + 16 * 128 + 128 * 64
    assert result["train_step_flops"] == 2 * 32 * (2 * forward + forward - 64 * 128)
    assert result["matmul_shape"] in ([32, 64, 128], [32, 128, 64])  # the largest product (two of equal size)
    assert result["matmul_share"] == 1.0
    assert result["fraction_of_matmul"] == pytest.approx(result["flop_rate"] / result["matmul_rate"], rel=1e-3)
    assert "GFLOP/s steady" in out and "of a float32 [32, " in out


def test_bench_of_a_convolutional_model_counts_its_convolutions_and_names_no_matmul_ceiling(capsys):
    assert cli.main(["bench", "ae-conv-digits", "--steps", "10", "--warmup", "0", "--batch-size", "16"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert 0 < result["matmul_share"] < 0.5  # the convolutions' products, forward and backward, are counted
    assert result["matmul_shape"] is None and result["fraction_of_matmul"] is None
    assert "mostly convolutions: no matmul ceiling" in out


def test_bench_rejects_bad_steps(capsys):
    _one_line_error(capsys, 2, ["bench", "ae-digits", "--steps", "0"], "--steps must be >= 1")
