"""``python -m zoo.table`` writes the digits table's JSON, chains two-stage recipes and does not stop at them."""

import json
import os
import shutil

import pytest

from benchmarks import docs_tables
from zoo import runner, table
from keras_ae.presets import RECIPES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_two_stage_recipes_are_chained_from_their_first_stage():
    order, stages, orphans = table.training_order(["m1m2-digits", "ae-digits", "vqvae-prior-digits",
                                                   "vqvae2-prior-digits", "vqvae-digits"], RECIPES)
    assert stages == {"m1m2-digits": "vae-digits", "vqvae-prior-digits": "vqvae-digits",
                      "vqvae2-prior-digits": "vqvae2-digits"}
    assert orphans == []
    for second, first in stages.items():
        assert order.index(first) < order.index(second)
    assert order.count("vqvae-digits") == 1 and "vae-digits" in order  # a first stage not asked for is added
    # every two-stage recipe of the registry finds its first stage; named configurations are one-stage
    names = [n for n in RECIPES if table.first_stage(RECIPES[n], RECIPES) is not None]
    assert names and all(table.first_stage(RECIPES[n], RECIPES) for n in names)
    assert runner.previous_stage(RECIPES["factorvae-digits"], None) == {}  # FactorVAE: a named configuration
    with pytest.raises(runner.CliError, match="does not build on another run"):
        runner.previous_stage(RECIPES["factorvae-digits"], "runs/x")


def test_rows_merge_into_the_table_and_keep_its_format(tmp_path):
    path = tmp_path / "digits.json"
    shutil.copy(os.path.join(ROOT, "benchmarks", "tables", "digits.json"), path)
    original = path.read_text()
    assert table.dump_tables(json.loads(original)) == original  # the committed format, byte for byte
    table.write_table(str(path), [{"recipe": "ae-digits", "model": "Autoencoder", "test_data": "grey levels",
                                   "mse": 0.5},
                                  {"recipe": "vqvae-prior-digits", "model": "VQPixelCNNPrior",
                                   "test_data": "binarized", "nll": 40.1, "from": "vqvae-digits"}])
    rows = {r["recipe"]: r for r in json.loads(path.read_text())["recipes"]["rows"]}
    assert rows["ae-digits"]["mse"] == 0.5 and rows["vae-digits"]["nll"] == 22.8  # replaced, kept
    rendered = docs_tables.render_table(docs_tables.load_json(str(path))["recipes"])
    assert "| vqvae-prior-digits (on vqvae-digits) | VQPixelCNNPrior | binarized | - | 40.1 |" in rendered
    assert "| ae-digits | Autoencoder | grey levels | 0.5 |" in rendered
    assert table.stated(0.0078321) == 0.007832 and table.stated(184.04) == 184 and table.stated(28.63, 3) == 28.6


@pytest.mark.slow
def test_the_table_command_trains_chains_and_writes_the_json(tmp_path, capfd):
    """Two recipes, one two-stage, one epoch each: the runs, their rows in the JSON, the docs render them.

    The command runs through its ``main`` here; each recipe's training is its own ``python -m zoo train``."""
    path = tmp_path / "digits.json"
    shutil.copy(os.path.join(ROOT, "benchmarks", "tables", "digits.json"), path)
    capfd.readouterr()
    status = table.main(["--recipes", "ae-digits,vqvae-prior-digits", "--epochs", "1", "--num-samples", "2",
                         "--out", str(tmp_path / "runs"), "--table", str(path)])
    out, err = capfd.readouterr()
    assert status == 0, err[-3000:]
    assert sorted(os.listdir(tmp_path / "runs")) == ["ae-digits", "vqvae-digits", "vqvae-prior-digits"]
    prior = json.loads((tmp_path / "runs" / "vqvae-prior-digits" / "config.json").read_text())
    assert prior["from_run"] == str(tmp_path / "runs" / "vqvae-digits")
    rows = {r["recipe"]: r for r in json.loads(path.read_text())["recipes"]["rows"]}
    assert rows["vqvae-prior-digits"]["from"] == "vqvae-digits" and rows["vqvae-prior-digits"]["mse"] > 0
    assert rows["vqvae-digits"]["model"] == "VQVAE" and rows["ae-digits"]["mse"] > 0
    assert "3 rows written to" in out
    rendered = docs_tables.render_table(docs_tables.load_json(str(path))["recipes"])
    assert "| vqvae-prior-digits (on vqvae-digits) | VQPixelCNNPrior |" in rendered


def test_unknown_recipes_and_a_missing_table_are_one_line(tmp_path, capsys):
    assert table.main(["--recipes", "nope-digits"]) == 2
    assert "unknown recipes ['nope-digits']" in capsys.readouterr().err
    assert table.main(["--recipes", "ae-digits", "--table", str(tmp_path / "none.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("epochs", [0, -1])
def test_bad_epochs_are_refused(epochs, capsys):
    assert table.main(["--recipes", "ae-digits", "--epochs", str(epochs)]) == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err
