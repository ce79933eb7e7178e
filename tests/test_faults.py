"""The fault suite (issues 13 and 28): nothing lost, nothing half-written, no traceback.

Each row of docs/faults.md is a test here (or in the file the row names). The command-line
faults run the command (``python -m zoo``, ``python -m export``) and check its exit status and
its one ``error:`` line on stderr: in a subprocess where the process matters (kills, locks, one
bad invocation of each command line), through the command's ``main`` in this process otherwise. Kills are aimed at named moments: the child
``tests/fault_child.py`` patches the function of that moment to SIGKILL its own process there
(mid-epoch, during the backup, during the evaluation, during the save of model.keras, during an
export), so every moment is reached every time, not by chance.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import h5py
import keras
import numpy as np
import pytest

from keras_ae import models, serving, training

import export.benchmark
import export.cli
import export.parity
from zoo import cli, runner

from tests.fault_child import FAULTS, failing_dynamic, run_child

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["--verbose", "0", "--num-samples", "5"]
#: the smallest training the faults need: a tiny body, two epochs.
TINY = ["--epochs", "2", "--set", "hidden_units=[8]", "--verbose", "0", "--num-samples", "2"]


def cli_process(*argv):
    """``python -m ARGV`` (``zoo ...``, ``export ...``) in a subprocess: ``(exit status, stdout, stderr)``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def cli_in_process(capfd, command, *argv):
    """``python -m COMMAND ARGV`` (``zoo``, ``export``, ``export.benchmark``, ``export.parity``) run in this
    process through its ``main``:
    ``(exit status, stdout, stderr)``, as :func:`cli_process` gives for a real process.

    A process costs seconds of TensorFlow start-up; the faults whose check is the command's
    answer (exit status, one line, nothing written) run here, and one per command line runs as
    a real process for what a shell sees.
    """
    main = {"zoo": cli.main, "export": export.cli.main, "export.benchmark": export.benchmark.main,
            "export.parity": export.parity.main}[command]
    capfd.readouterr()
    try:
        status = main(list(argv))
    except SystemExit as e:  # argparse's own errors
        status = e.code
    out, err = capfd.readouterr()
    return status, out, err


def one_line(status, result, match):
    """A process ``result`` ended with ``status`` and wrote exactly one line, ``error: ...`` with ``match``."""
    got, _, err = result
    lines = err.strip().splitlines()
    assert got == status and len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], \
        (got, err[-3000:])
    return lines[0]


def hidden_leftovers(folder):
    """Temporary or lock files left anywhere under ``folder`` (names starting with a dot)."""
    return [os.path.join(root, n) for root, dirs, files in os.walk(folder) for n in dirs + files if n.startswith(".")]


def tiny_model(shape=(8, 8, 1)):
    model = models.Autoencoder(input_shape=shape, latent_dim=2, hidden_units=(8,), seed=0)
    model.build()
    training.compile_model(model)
    return model


def write_run(folder, dataset="digits", model=True, **config):
    """A run directory by hand: config.json (recipe ae-digits) and, if asked, a tiny model.keras."""
    os.makedirs(folder, exist_ok=True)
    training.atomic_write_json(os.path.join(folder, "config.json"),
                               {"recipe": {"name": "ae-digits", "binarize": None}, "dataset": dataset, "seed": 0,
                                "epochs": 1, **config})
    if model:
        training.atomic_save_model(tiny_model(), os.path.join(folder, "model.keras"))
    return str(folder)


# -- one line and exit 2 ---------------------------------------------------------------------
def _npz_files(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "vectors.npz", x_train=rng.random((40, 16), np.float32), x_test=rng.random((8, 16), np.float32))
    np.savez(tmp_path / "images.npz", x_train=rng.random((40, 8, 8), np.float32),
             x_test=rng.random((8, 8, 8), np.float32))
    damaged = bytearray((tmp_path / "images.npz").read_bytes())
    damaged[300] ^= 0xFF  # inside x_train's data: the zip's CRC check fails when it is read
    (tmp_path / "damaged.npz").write_bytes(bytes(damaged))


def _zoo_case(case, tmp_path, monkeypatch):
    """``(argv, expected text of the one error line)`` of one bad `python -m zoo` invocation."""
    _npz_files(tmp_path)
    out = str(tmp_path / "run")
    if case == "out_is_a_file":
        (tmp_path / "file").write_text("x")
        return ["train", "ae-digits", "--out", str(tmp_path / "file")], "is a file, not a"
    if case == "negative_seed":
        return ["train", "ae-digits", "--seed", "-5", "--out", out], "--seed must be an integer in [0, 2**32 - 1]"
    if case == "zero_learning_rate":
        return (["train", "ae-digits", "--learning-rate", "0", "--out", out],
                "--learning-rate must be a finite number > 0")
    if case == "resume_nothing":
        return ["train", "ae-digits", "--resume", "--out", out], "holds no run to resume"
    if case == "conv_recipe_on_vectors":
        return (["train", "ae-conv-digits", "--dataset", f"npz:{tmp_path / 'vectors.npz'}", "--out", out],
                "recipe ae-conv-digits cannot take data of shape (16,)")
    if case == "damaged_npz":
        return ["train", "ae-digits", "--dataset", f"npz:{tmp_path / 'damaged.npz'}", "--out", out], "is damaged"
    if case == "tf_config_bad_port":
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:99999"]},
                                                    "task": {"type": "worker", "index": 0}}))
        return ["train", "ae-digits", "--strategy", "multiworker", "--out", out], "port in 1..65535"
    if case == "config_holds_a_list":
        write_run(out)
        (tmp_path / "run" / "config.json").write_text("[]")
        return ["eval", out], "must hold a JSON object, got list"
    if case == "eval_after_the_npz_changed_shape":
        write_run(out, dataset=f"npz:{tmp_path / 'vectors.npz'}")  # the model was trained on 8x8 images
        return ["eval", out], "now holds examples of shape (16,)"
    if case == "torn_backup":
        write_run(out, model=False)
        os.makedirs(tmp_path / "run" / "backup")
        (tmp_path / "run" / "backup" / "latest.weights.h5").write_bytes(b"\x89HDF\r\n torn")
        (tmp_path / "run" / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
        return ["train", "ae-digits", "--resume", "--out", out], "the backup weights"
    if case == "torn_backup_metadata":
        write_run(out, model=False)
        os.makedirs(tmp_path / "run" / "backup")
        (tmp_path / "run" / "backup" / "training_metadata.json").write_text('{"epo')
        return ["train", "ae-digits", "--resume", "--out", out], "the backup metadata"
    if case == "torn_history":
        write_run(out, model=False)
        (tmp_path / "run" / "history.csv").write_text("epoch,loss\n1,0.5\n2,0.4\nx")
        return ["train", "ae-digits", "--resume", "--out", out], "the history"
    raise AssertionError(case)


def _snapshot(folder):
    return {os.path.join(r, n): os.path.getsize(os.path.join(r, n)) for r, _, names in os.walk(folder) for n in names}


ZOO_CASES = ["out_is_a_file", "negative_seed", "zero_learning_rate", "resume_nothing", "conv_recipe_on_vectors",
             "damaged_npz", "tf_config_bad_port", "config_holds_a_list", "eval_after_the_npz_changed_shape",
             "torn_backup", "torn_backup_metadata", "torn_history"]


#: the zoo faults that run as a real process, for the exit status and the one stderr line a shell sees
#: (TensorFlow's native start-up noise filtered); the others run in this process (cli_in_process).
ZOO_PROCESS_CASES = {"tf_config_bad_port"}


@pytest.mark.parametrize("case", ZOO_CASES)
def test_zoo_fault_is_one_line_and_exit_2(case, tmp_path, monkeypatch, capfd):
    argv, match = _zoo_case(case, tmp_path, monkeypatch)
    before = _snapshot(tmp_path)
    one_line(2, cli_process("zoo", *argv) if case in ZOO_PROCESS_CASES else cli_in_process(capfd, "zoo", *argv),
             match)
    assert _snapshot(tmp_path) == before  # nothing written, nothing removed, no lock left
    if case == "resume_nothing":
        assert not (tmp_path / "run").exists()  # the folder the lock created is removed again


@pytest.mark.slow
def test_export_faults_are_one_line_and_exit_2(tmp_path, capfd):
    """One bad invocation of each export command line in a real process, the others through its ``main``."""
    run_dir = write_run(tmp_path / "run")
    (tmp_path / "file").write_text("x")
    one_line(2, cli_process("export", run_dir, "--out", str(tmp_path / "file")), "is a file")
    for k, (argv, match) in enumerate(((["--recipes", "nope"], "unknown recipe 'nope'"),
                                       (["--repeats", "0"], "--repeats must be >= 1"),
                                       (["--tflite", "none,int4"], "unknown quantization 'int4'"))):
        one_line(2, cli_process("export.benchmark", *argv) if k == 0 else
                 cli_in_process(capfd, "export.benchmark", *argv), match)
    sidecar = tmp_path / "exports" / "tflite" / "m" / "1" / "m.none.json"
    sidecar.parent.mkdir(parents=True)
    for k, (text, match) in enumerate((('{"parity": ', "is not JSON"),
                                       ('{"quantization": "none"}', "has no measured parity"))):
        sidecar.write_text(text)
        argv = [str(tmp_path / "exports")]
        one_line(2, cli_process("export.parity", *argv) if k == 0 else cli_in_process(capfd, "export.parity", *argv),
                 match)


# -- locks -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_writer_gets_one_line_and_exit_2(tmp_path):
    run_dir = write_run(tmp_path / "run", model=False)
    os.makedirs(os.path.join(run_dir, "backup"))
    finished = write_run(tmp_path / "finished")
    out = str(tmp_path / "exports")
    # This process holds the locks; the commands run in their own processes.
    with training.folder_lock(run_dir, "run directory"), training.folder_lock(finished, "run directory"), \
            training.folder_lock(out, "export folder"):
        in_use = f"is in use by process {os.getpid()}"
        one_line(2, cli_process("zoo", "train", "ae-digits", "--resume", "--out", run_dir), in_use)
        one_line(2, cli_process("zoo", "eval", finished), in_use)
        one_line(2, cli_process("export", finished, "--out", out, "--tflite", ""), in_use)
    assert not hidden_leftovers(tmp_path) and os.listdir(out) == []


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    # The child loads locks.py alone (no TensorFlow import), takes the lock and waits to be killed.
    child = textwrap.dedent(f"""
        import importlib.util, sys, time
        path = {os.path.join(ROOT, "keras_ae", "training", "locks.py")!r}
        spec = importlib.util.spec_from_file_location("locks", path)
        locks = importlib.util.module_from_spec(spec); spec.loader.exec_module(locks)
        locks.FolderLock(sys.argv[1], "run directory").acquire()
        print("locked", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(training.LockedError, match=f"in use by process {proc.pid}"):
            training.FolderLock(tmp_path, "run directory").acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert os.path.exists(tmp_path / ".lock")  # the dead holder's file is still there ...
    with training.folder_lock(tmp_path, "run directory"):  # ... and its lock is taken over
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert not os.path.exists(tmp_path / ".lock")


# -- training: NaN, interruption, full disk ----------------------------------------------------
def _backup_weights_finite(backup_dir):
    values = []
    assert sorted(os.listdir(backup_dir)) == ["epoch-1.weights.h5", "training_metadata.json"]
    with h5py.File(training.backup_weights_path(backup_dir), "r") as f:
        f.visititems(lambda name, item: values.append(np.asarray(item)) if isinstance(item, h5py.Dataset) else None)
    return values and all(np.all(np.isfinite(v)) for v in values if v.dtype.kind == "f")


def _failed_then_resumed(run_dir):
    """The run stopped at epoch 2 with the backup of epoch 1, finite; ``--resume`` finishes it."""
    assert training.backup_epoch(os.path.join(run_dir, "backup")) == 1
    assert _backup_weights_finite(os.path.join(run_dir, "backup"))
    metrics = json.loads(open(os.path.join(run_dir, "metrics.json")).read())
    assert metrics["status"] == "failed" and metrics["last_good_epoch"] == 1
    assert not os.path.exists(os.path.join(run_dir, "model.keras"))
    assert cli.main(["train", "ae-digits", "--out", run_dir, "--resume", *FAST]) == 0
    assert [row["epoch"] for row in training.read_history(os.path.join(run_dir, "history.csv"))] == [1, 2, 3]
    assert json.loads(open(os.path.join(run_dir, "metrics.json")).read())["status"] == "completed"


@pytest.mark.slow
def test_a_nan_loss_at_a_later_epoch_is_one_line_exit_1_and_the_run_resumes(tmp_path, monkeypatch, capfd):
    """The decoder's last bias becomes NaN at epoch 2: the loss goes NaN, the line names the loss term."""
    run_dir = str(tmp_path / "run")
    with monkeypatch.context() as patched:  # the child's patch, the training through zoo's main here
        FAULTS["nan:loss"](patched.setattr)
        result = cli_in_process(capfd, "zoo", "train", "ae-digits", "--epochs", "3", "--out", run_dir, *FAST)
    err = one_line(1, result, "training stopped: loss became nan at epoch 2, batch ")
    assert "non-finite terms: reconstruction" in err and "the backup keeps epoch 1" in err
    _failed_then_resumed(run_dir)


@pytest.mark.slow
def test_non_finite_weights_with_a_finite_loss_stop_training_too(tmp_path, monkeypatch, capfd):
    """A weight becomes NaN where the loss does not see it (at the end of epoch 2): the logs stay finite,
    the weights do not; the line says so, and epoch 2 is not backed up."""
    run_dir = str(tmp_path / "run")
    with monkeypatch.context() as patched:  # the child's patch, the training through zoo's main here
        FAULTS["nan:weights"](patched.setattr)
        result = cli_in_process(capfd, "zoo", "train", "ae-digits", "--epochs", "3", "--out", run_dir, *FAST)
    err = one_line(1, result, "training stopped: weights became non-finite in epoch 2 though the "
                              "logged loss stayed finite")
    assert "the backup keeps epoch 1" in err
    _failed_then_resumed(run_dir)


class CtrlCAtEpochEnd(keras.callbacks.Callback):
    """Raise ``KeyboardInterrupt`` at the end of epoch ``epoch`` (0-based), before its backup is written."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interruptions_and_a_full_disk_resume_to_the_uninterrupted_run(tmp_path, monkeypatch, capfd):
    train = ["train", "vae-digits", "--epochs", "3", *FAST]  # dynamic binarization: a fresh sample per epoch
    assert cli.main([*train, "--out", str(tmp_path / "whole")]) == 0
    whole = runner.weights_digest(training.load_model_file(str(tmp_path / "whole" / "model.keras")))

    run_dir = str(tmp_path / "run")
    build = runner.build_callbacks
    monkeypatch.setattr(runner, "build_callbacks", lambda recipe: build(recipe) + [CtrlCAtEpochEnd(1)])
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in epoch 2
        cli.main([*train, "--out", run_dir])
    monkeypatch.setattr(runner, "build_callbacks", build)
    assert training.backup_epoch(os.path.join(run_dir, "backup")) == 1

    evaluate = runner.test_metrics

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "test_metrics", ctrl_c)  # Ctrl-C during the evaluation after fit
    with pytest.raises(KeyboardInterrupt):
        cli.main([*train, "--out", run_dir, "--resume"])
    monkeypatch.setattr(runner, "test_metrics", evaluate)
    assert not os.path.exists(os.path.join(run_dir, "model.keras")) and not hidden_leftovers(run_dir)
    assert training.backup_epoch(os.path.join(run_dir, "backup")) == 3  # the trained epochs are kept
    # one line each (the refusal of eval as a real process: the kill at the evaluation below)
    one_line(2, cli_in_process(capfd, "zoo", "eval", run_dir), "--resume")
    one_line(2, cli_in_process(capfd, "zoo", *train, "--out", run_dir), "holds an interrupted run; pass --resume")

    # The write of model.keras fails half-way with ENOSPC (the child's patch, through zoo's main here).
    with monkeypatch.context() as patched:
        FAULTS["enospc:model.keras"](patched.setattr)
        one_line(2, cli_in_process(capfd, "zoo", *train, "--out", run_dir, "--resume"), "No space left on device")
    assert not os.path.exists(os.path.join(run_dir, "model.keras")) and not hidden_leftovers(run_dir)
    assert training.backup_epoch(os.path.join(run_dir, "backup")) == 3

    assert cli.main([*train, "--out", run_dir, "--resume"]) == 0
    # Bit-exact: epochs 2 and 3 saw the batches (order and binarization) of the uninterrupted run.
    assert runner.weights_digest(training.load_model_file(os.path.join(run_dir, "model.keras"))) == whole
    assert [row["epoch"] for row in training.read_history(os.path.join(run_dir, "history.csv"))] == [1, 2, 3]
    assert not os.path.exists(os.path.join(run_dir, "backup")) and not hidden_leftovers(run_dir)


# -- export: partial exports, modes --------------------------------------------------------------
@pytest.mark.slow
def test_an_unconvertible_quantization_is_skipped_the_rest_written_world_readable(tmp_path, monkeypatch, capfd):
    # through export's main in this process (the export command line as a process: test_export_faults_...)
    monkeypatch.setattr(serving, "export_tflite", failing_dynamic(serving.export_tflite))
    run_dir = write_run(tmp_path / "run")
    out = str(tmp_path / "exports")
    umask = os.umask(0o077)  # a strict umask must not make the export unreadable
    try:
        status, _, err = cli_in_process(capfd, "export", run_dir, "--out", out, "--tflite", "none,dynamic")
        assert status == export.cli.EXIT_PARTIAL, err[-3000:]
        assert err.strip() == ("partial export: TFLite dynamic skipped: the TFLite dynamic file does not run in "
                               "LiteRT: Node number 32 (DIV) failed to invoke")
        assert sorted(os.listdir(os.path.join(out, "tflite", "ae-digits", "1"))) == ["ae-digits.none.json",
                                                                                 "ae-digits.none.tflite"]
        # Nothing converts: the SavedModel is still written, and no empty TFLite folder is left.
        status, _, err = cli_in_process(capfd, "export", run_dir, "--out", out, "--tflite", "dynamic")
        assert status == export.cli.EXIT_PARTIAL, err[-3000:]
        assert os.path.isfile(os.path.join(out, "ae-digits", "2", "saved_model.pb"))
        assert not os.path.lexists(os.path.join(out, "tflite", "ae-digits", "2"))
        assert not os.path.exists(os.path.join(out, "ae-digits", "2", "tflite"))
    finally:
        os.umask(umask)
    for root, dirs, files in os.walk(out):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) == 0o755, os.path.join(root, d)
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o644, os.path.join(root, f)
    assert not hidden_leftovers(out)


def test_a_tflite_file_litert_cannot_run_is_an_export_error_and_not_written(tmp_path, monkeypatch):
    import keras_ae.serving.tflite as tflite

    def div_fails(interpreter):
        def run(sig, inputs):
            raise RuntimeError("tflite/kernels/div.cc:262 data[i] != zero_point was not true.Node number 32 (DIV) "
                               "failed to invoke.")
        return run

    monkeypatch.setattr(tflite, "tflite_runner", div_fails)
    path = tmp_path / "m.none.tflite"
    with pytest.raises(serving.ExportError, match=r"does not run in LiteRT: tflite/kernels/div.cc:262"):
        serving.export_tflite(tiny_model(), str(path), "none")
    assert os.listdir(tmp_path) == []


# -- value checks on tf.data input ---------------------------------------------------------------
def test_tf_data_input_gets_the_value_checks_of_numpy_input():
    from keras_ae import data

    x = np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    x[40, 0, 0, 0] = 0.0  # the bad value is in the second batch: the first one trains
    model = models.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)
    training.compile_model(model, jit_compile=False, steps_per_execution=1)
    too_large = r"x has values outside \[0, 1\] \(min 0, max 2( in a batch of the dataset)?\); a bernoulli likelihood "
    x[40, 1, 0, 0] = 2.0
    with pytest.raises(ValueError, match=too_large + "needs data in \\[0, 1\\]$"):
        model.fit(data.training_pipeline(x, 32, shuffle=False), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=too_large):
        model.fit(x, epochs=1, verbose=0)  # the numpy path says the same
    x[40, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^x contains NaN or infinite values \(in a batch of the dataset\)$"):
        model.evaluate(data.evaluation_pipeline(x, 32), verbose=0)
    x[40, 1, 0, 0] = -np.inf
    with pytest.raises(ValueError, match=r"^x contains NaN or infinite values"):
        model.evaluate(data.evaluation_pipeline(x, 32), verbose=0)
    x[40, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"validation_data contains NaN"):
        model.fit(data.training_pipeline(np.nan_to_num(x), 32), validation_data=data.evaluation_pipeline(x, 32),
                  epochs=1, verbose=0)
    assert not training.nonfinite_weights(model)


# -- bad arguments are ValueError, not TypeError ---------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: models.VAE(input_shape=None, latent_dim=2), "input_shape must be a tuple of integers >= 1, got None"),
    (lambda: models.VAE(input_shape=(8,), latent_dim=2, hidden_units=5), "hidden_units must be a tuple"),
    (lambda: models.VAE(input_shape=(8, 8, 1), latent_dim=2, architecture="conv", filters=3), "filters must be"),
    (lambda: training.check_global_batch("a", training.current_strategy()), "batch_size must be an integer"),
    (lambda: training.parse_tf_config(3), "TF_CONFIG must be JSON text, got int"),
    (lambda: serving.check_model_name(None), "model name must be a string"),
    (lambda: serving.models_config(None), "models must be a dict"),
    (lambda: serving.rest_request("encode", None), "non-empty dict of inputs"),
    (lambda: serving.convert_tflite(tiny_model(), "none", num_calibration="a"), "num_calibration must be an integer"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_saved_model_score_of_huge_finite_input_is_not_nan(tmp_path):
    import tensorflow as tf

    from keras_ae.presets import get_recipe

    model = runner.build_model(get_recipe("ae-digits"), (8, 8, 1), seed=0)  # any finite input is valid
    model.build()
    served = tf.saved_model.load(serving.export_saved_model(model, str(tmp_path), "ae")).signatures["score"]
    huge = np.full((2, 8, 8, 1), 3e38, np.float32)
    huge[1] = -3e38
    score = served(x=tf.constant(huge))["score"].numpy()
    assert not np.any(np.isnan(score)) and np.all(score > 1e30), score  # the worst score, not NaN
    # Keras too (the network overflows: inf - inf), for the deterministic and the Gaussian VAE models
    gaussian = models.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), likelihood="gaussian", seed=0)
    gaussian.build()
    for scored in (model, gaussian):
        keras_score = scored.score(huge).numpy()
        assert not np.any(np.isnan(keras_score)) and np.all(keras_score > 1e30), (type(scored).__name__, keras_score)
    ok = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(served(x=tf.constant(ok))["score"].numpy(), model.score(ok), rtol=1e-5)

    vae = models.VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), seed=0)  # Bernoulli: data in [0, 1]
    vae.build()
    served = tf.saved_model.load(serving.export_saved_model(vae, str(tmp_path), "vae")).signatures["score"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x has values outside \[0, 1\]"):
        served(x=tf.constant(huge))


# -- SIGKILL at each named moment, then resume ----------------------------------------------------
KILLED = ["train", "vae-digits", *TINY]  # dynamic binarization: a resumed epoch must see the same sample


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The weights digest of the run the killed ones must end up equal to."""
    run_dir = str(tmp_path_factory.mktemp("uninterrupted") / "run")
    assert cli.main([*KILLED, "--out", run_dir]) == 0
    return runner.weights_digest(training.load_model_file(os.path.join(run_dir, "model.keras")))


def _after_the_kill(moment, run_dir):
    """What a run killed at ``moment`` left: asserted, moment by moment."""
    backup = os.path.join(run_dir, "backup")
    files = set(os.listdir(run_dir))
    epochs = [row["epoch"] for row in training.read_history(os.path.join(run_dir, "history.csv"))]
    assert "model.keras" not in files and "config.json" in files
    if moment == "mid-epoch":  # in epoch 2: epoch 1 is backed up
        assert training.backup_epoch(backup) == 1 and epochs == [1] and "metrics.json" not in files
    elif moment == "backup":  # epoch 2's weights written, its metadata not: the backup is still epoch 1's, whole
        assert training.backup_epoch(backup) == 1 and epochs == [1, 2]
        assert sorted(os.listdir(backup)) == ["epoch-1.weights.h5", "epoch-2.weights.h5", "training_metadata.json"]
        assert training.backup_weights_path(backup).endswith("epoch-1.weights.h5")
    elif moment == "evaluation":  # every epoch backed up, nothing final written
        assert training.backup_epoch(backup) == 2 and epochs == [1, 2] and "metrics.json" not in files
    elif moment == "save":  # metrics.json written, model.keras half-way: only its temporary file
        assert training.backup_epoch(backup) == 2 and "metrics.json" in files
        assert [f for f in files if f.startswith(".model.") and f.endswith(".keras")], files
    else:
        raise AssertionError(moment)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["mid-epoch", "backup", "evaluation", "save"])
def test_a_kill_at_each_named_moment_then_resume_gives_the_uninterrupted_run(moment, uninterrupted, tmp_path):
    run_dir = str(tmp_path / "run")
    status, _, err = run_child(f"kill:{moment}", "zoo", *KILLED, "--out", run_dir)
    assert status == -signal.SIGKILL, err[-3000:]  # killed there, not finished or failed
    _after_the_kill(moment, run_dir)
    if moment == "evaluation":  # the interrupted run is refused by eval and a plain train, in one line
        one_line(2, cli_process("zoo", "eval", run_dir), "--resume")
    assert cli.main([*KILLED, "--out", run_dir, "--resume"]) == 0
    assert runner.weights_digest(training.load_model_file(os.path.join(run_dir, "model.keras"))) == uninterrupted
    assert [row["epoch"] for row in training.read_history(os.path.join(run_dir, "history.csv"))] == [1, 2]
    assert json.loads(open(os.path.join(run_dir, "metrics.json")).read())["status"] == "completed"
    assert not os.path.exists(os.path.join(run_dir, "backup")) and not hidden_leftovers(run_dir)
