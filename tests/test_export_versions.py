"""A published export version is whole or absent: one rename, a kill or a full disk publishes nothing."""

import json
import os

import pytest

from keras_ae.serving import publish

from export import cli
from tests.fault_child import FAULTS, run_child
from tests.test_export_cli import NAME, make_run_dir


def hidden(folder):
    """Hidden names anywhere under ``folder`` (temporary files and folders, the lock)."""
    return sorted(os.path.relpath(os.path.join(r, n), folder) for r, dirs, files in os.walk(folder)
                  for n in dirs + files if n.startswith("."))


def assert_whole(out, version, quantizations):
    """Version ``version`` of NAME is there with all of it: SavedModel, TFLite files and sidecars, bodies."""
    folder = os.path.join(out, NAME, str(version))
    assert os.path.isfile(os.path.join(folder, "saved_model.pb"))
    assert sorted(os.listdir(os.path.join(folder, "tflite"))) == sorted(
        f"{NAME}.{q}.{ext}" for q in quantizations for ext in ("json", "tflite"))
    link = os.path.join(out, "tflite", NAME, str(version))
    assert os.path.islink(link) and sorted(os.listdir(link)) == sorted(os.listdir(os.path.join(folder, "tflite")))
    assert "reconstruct.json" in os.listdir(os.path.join(folder, "requests"))
    with open(os.path.join(out, "models.config")) as f:
        assert f'name: "{NAME}"' in f.read()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("run"))
    make_run_dir(folder)
    return folder


def test_a_version_is_assembled_hidden_and_published_by_one_rename(run_dir, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "exports")
    seen = []
    rename = os.rename

    def watched(src, dst):
        # At the rename: nothing of the version is visible, and the staged folder holds all of it.
        final = os.path.join(out, NAME, "1")
        seen.append((sorted(os.listdir(src)), sorted(os.listdir(os.path.join(src, "tflite"))),
                     os.path.exists(final), os.path.exists(os.path.join(out, "tflite", NAME, "1")),
                     os.path.islink(os.path.join(out, "tflite", NAME, "1")), dst == final))
        rename(src, dst)

    monkeypatch.setattr(publish.os, "rename", watched)
    assert cli.main([run_dir, "--out", out, "--tflite", "none,float16", "--calibration-examples", "8"]) == 0
    monkeypatch.undo()
    assert len(seen) == 1, seen  # one rename publishes the version
    staged, staged_tflite, visible, tflite_visible, linked, to_final = seen[0]
    assert {"saved_model.pb", "variables", "tflite", "requests"} <= set(staged)
    assert staged_tflite == sorted(f"{NAME}.{q}.{e}" for q in ("none", "float16") for e in ("json", "tflite"))
    assert not visible and not tflite_visible and linked and to_final  # the link pointed at nothing yet
    assert_whole(out, 1, ("none", "float16"))
    assert hidden(out) == []
    printed = capsys.readouterr().out
    assert os.path.join("tflite", NAME, "1", f"{NAME}.float16.tflite") in printed


@pytest.mark.slow
def test_a_killed_export_publishes_nothing_and_the_next_export_removes_its_leftovers(run_dir, tmp_path):
    out = str(tmp_path / "exports")
    status, _, err = run_child("kill:export", "export", run_dir, "--out", out, "--tflite", "none",
                               "--calibration-examples", "8")
    assert status == -9, err[-2000:]
    # Killed once the SavedModel was written into the staged version: nothing is published.
    assert not os.path.exists(os.path.join(out, NAME, "1")) and not os.path.exists(os.path.join(out, "tflite"))
    assert not os.path.exists(os.path.join(out, "models.config"))
    leftovers = hidden(out)
    assert any(name.startswith(os.path.join(NAME, ".1.")) for name in leftovers), leftovers
    # A leftover of the old layout's TFLite temporary folder is removed too.
    os.makedirs(os.path.join(out, "tflite", NAME, ".1.abcd1234.tmp"))
    assert cli.main([run_dir, "--out", out, "--tflite", "none", "--calibration-examples", "8"]) == 0
    assert_whole(out, 1, ("none",))  # version 1: the killed export never published it
    assert hidden(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("writer", ["saved_model", "tflite", "request", "models.config"])
def test_a_full_disk_anywhere_in_an_export_is_one_line_exit_2_and_publishes_nothing(writer, run_dir, tmp_path,
                                                                                     monkeypatch, capfd):
    out = str(tmp_path / "exports")
    assert cli.main([run_dir, "--out", out, "--tflite", "", "--calibration-examples", "8"]) == 0  # version 1
    with open(os.path.join(out, "models.config")) as f:
        config = f.read()
    before = sorted(os.listdir(out)), sorted(os.listdir(os.path.join(out, NAME)))
    # the child's full-disk patch, applied here: the export runs through its main in this process
    # (the export command line as a process, and a kill of it, are tested apart)
    FAULTS[f"enospc:{writer}"](monkeypatch.setattr)
    capfd.readouterr()
    status = cli.main([run_dir, "--out", out, "--tflite", "none,float16", "--calibration-examples", "8"])
    err = capfd.readouterr().err
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err[-3000:]
    assert lines[0].startswith(f"error: no space left on device while exporting {NAME} version 2 to {out}"), lines
    assert lines[0].endswith("nothing was published: free some space and export again")
    assert (sorted(os.listdir(out)), sorted(os.listdir(os.path.join(out, NAME)))) == before
    with open(os.path.join(out, "models.config")) as f:
        assert f.read() == config
    assert hidden(out) == []


def test_served_models_and_parity_read_the_new_layout(run_dir, tmp_path, capsys):
    """``export.parity`` finds the sidecars through the ``tflite/`` links."""
    from export import parity

    out = str(tmp_path / "exports")
    assert cli.main([run_dir, "--out", out, "--tflite", "none", "--calibration-examples", "8"]) == 0
    assert cli.served_models(out) == {NAME: os.path.join(out, NAME)}
    capsys.readouterr()
    assert parity.main([out]) == 0
    assert f"| {NAME} | " in capsys.readouterr().out
    with open(os.path.join(out, "tflite", NAME, "1", f"{NAME}.none.json")) as f:
        assert json.load(f)["quantization"] == "none"
