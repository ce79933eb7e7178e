"""The zoo feeds labels: conditional and semi-supervised recipes train, evaluate and export through
``python -m zoo`` (the runner's labelled pipelines, ``test_error``, ``class_samples.png``, M1+M2
``--from`` a VAE run), mixed batches split evenly over 2 replicas, and the one-line errors."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import evaluation, training
from keras_ae.models import Autoencoder
from zoo import runner
from zoo.cli import main
from keras_ae.presets import RECIPES

TINY = ["--set", "hidden_units=[8]", "--set", "latent_dim=2"]


def _tiny(name, **overrides):
    return runner.build_model(RECIPES[name], (8, 8, 1), seed=0, hidden_units=(8,), latent_dim=2, **overrides)


def _strategy():
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py splits the CPU into two logical devices"
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]],
                                          cross_device_ops=tf.distribute.ReductionToOneDevice())


def test_labelled_pipelines_under_two_replicas(digits):
    x_train, y_train, x_test, y_test = digits
    recipe = RECIPES["m2-digits"]
    train_ds, test_ds = runner.training_pipelines(_tiny("m2-digits"), recipe, "digits", x_train, x_test,
                                                  recipe.batch_size, 0, y_train, y_test)
    strategy = _strategy()
    labelled = set()
    truth = {bytes(x): int(y) for x, y in zip(x_train, y_train)}
    for batch in strategy.experimental_distribute_dataset(train_ds):
        for x, y in zip(strategy.experimental_local_results(batch["x"]),
                        strategy.experimental_local_results(batch["y"])):
            x, y = x.numpy(), y.numpy()
            assert len(y) == recipe.batch_size // 2
            assert int(np.sum(y >= 0)) == recipe.labelled_per_batch // 2  # 8 of 32 on each replica
            for row, label in zip(x[y >= 0], y[y >= 0]):
                assert truth[bytes(row)] == label
                labelled.add(bytes(row))
    assert len(labelled) == recipe.labels_per_class * 10  # the split's labels, balanced, all of them used
    assert next(iter(test_ds))["y"].numpy().tolist() == y_test[:recipe.batch_size].tolist()
    # a conditional model trains on every label, each with its own example
    ds, _ = runner.training_pipelines(_tiny("cvae-digits"), RECIPES["cvae-digits"], "digits", x_train, x_test, 64,
                                      0, y_train, y_test)
    batch = next(iter(ds))
    assert [truth[bytes(row)] for row in batch["x"].numpy()] == batch["y"].numpy().tolist()


def test_label_problems_are_cli_errors(digits):
    x_train, y_train, x_test, y_test = digits
    m2, m2_recipe, cvae_recipe = _tiny("m2-digits"), RECIPES["m2-digits"], RECIPES["cvae-digits"]

    def pipelines(model, recipe, y=y_train, batch_size=64):
        return runner.training_pipelines(model, recipe, "digits", x_train, x_test, batch_size, 0, y, y_test)

    cases = [
        (lambda: pipelines(m2, m2_recipe, y=np.full(len(x_train), -1)), "has none"),
        (lambda: pipelines(m2, dataclasses.replace(m2_recipe, labels_per_class=None)), "must give labels_per_class"),
        (lambda: pipelines(m2, m2_recipe, batch_size=16), "labelled_per_batch"),
        (lambda: pipelines(m2, dataclasses.replace(m2_recipe, binarize="dynamic")), "binarize"),
        (lambda: pipelines(_tiny("cvae-digits"), dataclasses.replace(cvae_recipe, labels_per_class=10)),
         "trains on every label"),
        (lambda: pipelines(_tiny("m2-digits", num_classes=5), m2_recipe), "--set num_classes=10"),
        (lambda: runner.evaluation_data(m2, "digits", x_test, "m2-digits", np.full(len(x_test), -1)), "has none"),
    ]
    for call, message in cases:
        with pytest.raises(runner.CliError, match=message.replace("(", r"\(")):
            call()


@pytest.mark.slow
def test_zoo_trains_and_evaluates_semi_supervised_and_conditional_recipes(tmp_path, digits, capsys):
    _, _, x_test, y_test = digits
    run = str(tmp_path / "m2")
    assert main(["train", "m2-digits", "--epochs", "1", *TINY, "--num-samples", "2", "--out", run, "--quiet",
                 "--verbose", "0"]) == 0
    with open(os.path.join(run, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(run, "config.json")) as f:
        config = json.load(f)
    assert config["recipe"]["labels_per_class"] == 10 and config["recipe"]["labelled_per_batch"] == 16
    assert os.path.isfile(os.path.join(run, "class_samples.png"))
    model = training.load_model_file(os.path.join(run, "model.keras"))
    assert metrics["test_error"] == evaluation.classification_error(model, x_test, y_test)
    assert 0.0 <= metrics["test_error"] <= 1.0 and "test_error" in metrics["definitions"]
    assert main(["eval", run, "--num-samples", "2"]) == 0
    with open(os.path.join(run, "metrics.json")) as f:
        assert json.load(f)["test_error"] == metrics["test_error"]
    # the conditional VAE: evaluated given the test labels (its nll is -log p(x | y)), no classifier
    run = str(tmp_path / "cvae")
    assert main(["train", "cvae-digits", "--epochs", "1", *TINY, "--num-samples", "2", "--out", run, "--quiet",
                 "--verbose", "0"]) == 0
    with open(os.path.join(run, "metrics.json")) as f:
        metrics = json.load(f)
    assert np.isfinite(metrics["nll"]) and "test_error" not in metrics
    assert os.path.isfile(os.path.join(run, "class_samples.png"))
    model = training.load_model_file(os.path.join(run, "model.keras"))
    expected = evaluation.log_likelihood(model, x_test, num_samples=2, condition={"y": y_test})
    np.testing.assert_allclose(metrics["nll"], -expected.mean(), rtol=1e-6)
    capsys.readouterr()


@pytest.mark.slow
def test_m1m2_trains_on_a_finished_vae_run(tmp_path, digits, capsys):
    _, _, x_test, y_test = digits
    vae_run, run = str(tmp_path / "vae"), str(tmp_path / "m1m2")
    assert main(["train", "m1m2-digits", "--epochs", "1", "--out", run, "--quiet"]) == 2
    assert "pass --from RUN_DIR" in capsys.readouterr().err
    assert main(["train", "vae-digits", "--epochs", "1", "--set", "hidden_units=[8]", "--set", "latent_dim=3",
                 "--num-samples", "2", "--out", vae_run, "--quiet", "--verbose", "0"]) == 0
    assert main(["train", "m1m2-digits", "--from", vae_run, "--epochs", "1", *TINY, "--num-samples", "2",
                 "--out", run, "--quiet", "--verbose", "0"]) == 0
    with open(os.path.join(run, "metrics.json")) as f:
        metrics = json.load(f)
    model = training.load_model_file(os.path.join(run, "model.keras"))
    vae = training.load_model_file(os.path.join(vae_run, "model.keras"))
    for ours, theirs in zip(model.autoencoder.get_weights(), vae.get_weights()):  # M1 stayed as trained
        np.testing.assert_array_equal(ours, theirs)
    x_static, _ = runner.load_split("digits", "test", "static", 0)
    assert metrics["test_error"] == evaluation.classification_error(model, x_static, y_test)
    assert os.path.isfile(os.path.join(run, "class_samples.png"))
    # a first stage without a vector Gaussian code is refused in one line naming --from
    with pytest.raises(runner.CliError, match="cannot build on the run given with --from: autoencoder must be"):
        runner.build_model(RECIPES["m1m2-digits"], (8, 8, 1), seed=0,
                           autoencoder=Autoencoder((8, 8, 1), latent_dim=2, hidden_units=(8,)))
