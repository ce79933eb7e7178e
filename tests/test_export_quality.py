"""The quality column: every exported file's test NLL (or mean score) on the run's test split, beside Keras's.

The estimator (``keras_ae.serving.quality``) is, for a Gaussian-posterior Bernoulli VAE, the
importance-sampled NLL from the file's encode and decode signatures with NumPy draws shared by
every file; else the ``score`` signature averaged over the test split. The float32 file computes
the same float32 graph as Keras, so with the same draws its mean is Keras's within the graph's
reorder error: ``1e-5 * max(1, |value|)`` (``test_serving.py``'s bound).
"""

import contextlib
import io
import json
import os

import numpy as np
import pytest

from keras_ae import data, models, serving, training

from export import cli
from tests.test_export_cli import NAME, make_run_dir

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def close_to_keras(value, keras_value):
    return abs(value - keras_value) <= 1e-5 * max(1.0, abs(keras_value))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("run"))
    model = make_run_dir(folder)
    out = str(tmp_path_factory.mktemp("exports"))
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = cli.main([folder, "--out", out, "--tflite", ",".join(QUANTIZATIONS), "--calibration-examples", "64"])
    assert status == 0
    return model, out, buffer.getvalue()


@pytest.mark.slow
def test_every_file_has_its_test_quality_and_float32_equals_keras(exported):
    model, out, printed = exported
    x_test, _ = data.load_arrays("digits", "test")  # the run's config: digits, no binarization
    keras_mean = float(serving.quality.importance_nll(serving.quality.keras_runner(model), x_test).mean())
    means = {}
    for q in QUANTIZATIONS:
        with open(os.path.join(out, "tflite", NAME, "1", f"{NAME}.{q}.json")) as f:
            quality = json.load(f)["quality"]
        assert quality["split"] == "test" and quality["examples"] == len(x_test), quality
        assert quality["estimator_name"] == "importance" and quality["non_finite_examples"] == 0
        assert np.isfinite(quality["mean"]) and quality["standard_error"] > 0
        # Keras's own estimate on the same examples, recorded beside each file's
        assert abs(quality["keras_mean"] - keras_mean) <= 1e-6 * max(1.0, abs(keras_mean))
        assert quality["difference"] == pytest.approx(quality["mean"] - quality["keras_mean"])
        means[q] = quality["mean"]
    assert close_to_keras(means["none"], keras_mean), (means["none"], keras_mean)
    # a quantized file computes another graph: its mean differs from Keras's (else nothing was measured)
    assert means["int8"] != means["none"]
    # the printed table has the column, with Keras's mean in its row
    header = next(line for line in printed.splitlines() if line.startswith("artifact"))
    assert "test quality" in header
    keras_row = next(line for line in printed.splitlines() if line.startswith("keras"))
    assert f"{keras_mean:.4g}" in keras_row.split()


def test_measure_quality_of_a_runner_against_keras_and_the_closed_form():
    model = models.VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), seed=0)
    model.build()
    x = (np.random.default_rng(0).uniform(size=(37, 4, 4, 1)) > 0.5).astype(np.float32)

    def keras_runner(_, inputs):
        return {"score": np.asarray(model.score(inputs["x"]))}

    quality = serving.measure_quality(model, keras_runner, x, batch_size=8, estimator="score")  # 5 batches, the last of 5
    expected = np.asarray(model.score(x), np.float64)
    assert quality["examples"] == 37 and quality["condition"] == "none"
    assert quality["mean"] == pytest.approx(expected.mean(), rel=1e-6)
    assert quality["standard_error"] == pytest.approx(expected.std(ddof=1) / np.sqrt(37), rel=1e-6)
    assert quality["difference"] == pytest.approx(0.0, abs=1e-6 * abs(expected.mean()))

    def overflowing(_, inputs):
        return {"score": np.full(len(inputs["x"]), np.inf, np.float32)}

    broken = serving.measure_quality(model, overflowing, x, estimator="score")
    assert broken["mean"] is None and broken["non_finite_examples"] == 37 and broken["difference"] is None
    with pytest.raises(ValueError, match=r"takes \['x'\], got condition \['y'\]"):
        serving.measure_quality(model, keras_runner, x, condition={"y": np.zeros(37, np.int32)}, estimator="score")
    with pytest.raises(ValueError, match="estimator must be"):
        serving.measure_quality(model, keras_runner, x, estimator="elbo")


def test_a_conditional_model_is_scored_with_the_split_labels():
    model = models.ConditionalVAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), num_classes=3, seed=0)
    model.build()
    x = (np.random.default_rng(0).uniform(size=(12, 4, 4, 1)) > 0.5).astype(np.float32)
    y = (np.arange(12) % 3).astype(np.int32)
    seen = []

    def runner(_, inputs):
        seen.append(inputs["y"])
        return {"score": np.asarray(model.score(inputs["x"], y=inputs["y"]))}

    quality = serving.measure_quality(model, runner, x, condition={"y": y})
    assert quality["condition"] == "given" and np.array_equal(np.concatenate(seen), y)
    assert quality["keras_mean"] == pytest.approx(float(np.mean(model.score(x, y=y))), rel=1e-6)
    with pytest.raises(ValueError, match="must have 12 rows"):
        serving.measure_quality(model, runner, x, condition={"y": y[:5]})


def test_the_importance_estimator_is_the_models_own_log_likelihood():
    """The NumPy estimator through Keras's encode/decode against ``model.log_likelihood`` (TFP, logits):
    two importance estimates of the same per-example ``log p(x)`` with independent draws; their mean
    difference is within 4 standard errors of the per-example differences. The conditional model and
    another prior are refused, not estimated."""
    model = models.VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), seed=0)
    model.build()
    x = (np.random.default_rng(0).uniform(size=(200, 4, 4, 1)) > 0.5).astype(np.float32)
    ours = serving.quality.importance_nll(serving.quality.keras_runner(model), x, num_samples=100)
    again = serving.quality.importance_nll(serving.quality.keras_runner(model), x, num_samples=100)
    np.testing.assert_array_equal(ours, again)  # the draws are fixed by the seed
    theirs = -np.asarray(model.log_likelihood(x, num_samples=100, seed=1), np.float64)
    difference = ours - theirs
    assert abs(difference.mean()) <= 4 * difference.std(ddof=1) / np.sqrt(len(x)) + 1e-6, difference.mean()
    assert serving.quality.estimator_for(model) == "importance"
    quality = serving.measure_quality(model, serving.quality.keras_runner(model), x)
    assert quality["estimator_name"] == "importance" and quality["difference"] == 0.0
    assert quality["mean"] == pytest.approx(ours.mean(), rel=1e-12)
    mixture = models.VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), prior="mixture", seed=0)
    assert serving.quality.estimator_for(mixture) == "score"
    with pytest.raises(ValueError, match="estimator 'importance' needs the parts"):
        serving.measure_quality(mixture, serving.quality.keras_runner(mixture), x, estimator="importance")
