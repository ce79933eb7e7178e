"""The run directory's lifecycle in the library (keras_ae.training.run_directory), without the zoo."""

import errno
import json
import os

import numpy as np
import pytest

from keras_ae import models
from keras_ae.training import run_directory
from keras_ae.training.run_directory import RunDirectory, RunDirectoryError


def _model():
    model = models.Autoencoder(input_shape=(4,), latent_dim=2, hidden_units=(8,), seed=0)
    model.build()
    return model


def test_a_new_run_is_checked_then_written_config_first_and_model_last(tmp_path):
    path = str(tmp_path / "run")
    assert run_directory.check_run_dir(path, "ae-toy", resume=False) is None
    with pytest.raises(RunDirectoryError, match="holds no run to resume"):
        run_directory.check_run_dir(path, "ae-toy", resume=True)
    run = RunDirectory(path)
    run.write_config({"recipe": {"name": "ae-toy"}, "dataset": "toy"})
    # an interrupted run: only resume continues it, and only with its own recipe
    with pytest.raises(RunDirectoryError, match="holds an interrupted run; pass --resume"):
        run_directory.check_run_dir(path, "ae-toy", resume=False)
    with pytest.raises(RunDirectoryError, match="holds a run of recipe 'ae-toy', not 'other'"):
        run_directory.check_run_dir(path, "other", resume=True)
    assert run_directory.check_run_dir(path, "ae-toy", resume=True)["dataset"] == "toy"
    with pytest.raises(RunDirectoryError, match="model.keras is missing"):
        run_directory.load_run(path)

    model = _model()
    os.makedirs(run.backup_dir)
    with pytest.raises(OSError):  # a failed picture: nothing final written, the backup kept
        run.finish(model, {"status": "completed"}, write_pictures=lambda: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    assert not os.path.exists(run.file("model.keras")) and not os.path.exists(run.file("metrics.json"))
    assert os.path.isdir(run.backup_dir)

    def pictures():
        with open(run.file("samples.png"), "wb") as f:
            f.write(b"png")
        return [run.file("samples.png")]

    files = run.finish(model, {"status": "completed"}, write_pictures=pictures)
    assert files == ("config.json", "model.keras", "history.csv", "metrics.json", "tensorboard/", "samples.png")
    assert not os.path.exists(run.backup_dir)
    with open(run.file("metrics.json")) as f:
        assert json.load(f) == {"status": "completed"}
    config, loaded = run_directory.load_run(path)
    assert config["recipe"]["name"] == "ae-toy"
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(RunDirectoryError, match="already holds a trained model"):
        run_directory.check_run_dir(path, "ae-toy", resume=False)


def test_unreadable_or_foreign_configs_are_clear_errors(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(RunDirectoryError, match="must hold a JSON object"):
        run_directory.read_run_config(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunDirectoryError, match="config.json is damaged \\(not JSON: .*\\); restore it from a copy"):
        run_directory.read_run_config(str(tmp_path))
    (tmp_path / "config.json").write_text('{"recipe": {"name": "x"}}')
    with pytest.raises(RunDirectoryError, match="is not a zoo run configuration"):
        run_directory.read_run_config(str(tmp_path))
    assert run_directory.read_run_config(str(tmp_path), need_dataset=False)["recipe"]["name"] == "x"


def test_a_non_chief_task_writes_to_a_scratch_folder_it_removes(tmp_path):
    run = RunDirectory(str(tmp_path / "run"), chief=False)
    assert run.write_dir != run.path and os.path.isdir(run.write_dir)
    run.record_failure({"status": "failed"})  # only the chief records it
    assert not os.path.exists(os.path.join(run.write_dir, "metrics.json"))
    run.discard_worker_files()
    assert not os.path.exists(run.write_dir) and not os.path.exists(run.path)
