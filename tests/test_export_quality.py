"""The quality column: every exported file's mean score on the run's test split, beside Keras's.

The estimator (``keras_ae.serving.quality``) is the ``score`` signature averaged over the test
split. The float32 file computes the same float32 graph as Keras, so its mean is Keras's within
the graph's reorder error: each score within ``1e-5 * max(1, |score|)`` (``test_serving.py``'s
bound), so the mean within ``1e-5 * max(1, mean |score|)``.
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
    keras_scores = np.asarray(model.score(x_test), np.float64)
    keras_mean = float(keras_scores.mean())
    means = {}
    for q in QUANTIZATIONS:
        with open(os.path.join(out, "tflite", NAME, "1", f"{NAME}.{q}.json")) as f:
            quality = json.load(f)["quality"]
        assert quality["split"] == "test" and quality["examples"] == len(x_test), quality
        assert quality["estimator"] == serving.QUALITY_ESTIMATOR and quality["non_finite_examples"] == 0
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
    assert "test score" in header
    keras_row = next(line for line in printed.splitlines() if line.startswith("keras"))
    assert f"{keras_mean:.4g}" in keras_row.split()


def test_measure_quality_of_a_runner_against_keras_and_the_closed_form():
    model = models.VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), seed=0)
    model.build()
    x = (np.random.default_rng(0).uniform(size=(37, 4, 4, 1)) > 0.5).astype(np.float32)

    def keras_runner(_, inputs):
        return {"score": np.asarray(model.score(inputs["x"]))}

    quality = serving.measure_quality(model, keras_runner, x, batch_size=8)  # five batches, the last of 5
    expected = np.asarray(model.score(x), np.float64)
    assert quality["examples"] == 37 and quality["condition"] == "none"
    assert quality["mean"] == pytest.approx(expected.mean(), rel=1e-6)
    assert quality["standard_error"] == pytest.approx(expected.std(ddof=1) / np.sqrt(37), rel=1e-6)
    assert quality["difference"] == pytest.approx(0.0, abs=1e-6 * abs(expected.mean()))

    def overflowing(_, inputs):
        return {"score": np.full(len(inputs["x"]), np.inf, np.float32)}

    broken = serving.measure_quality(model, overflowing, x)
    assert broken["mean"] is None and broken["non_finite_examples"] == 37 and broken["difference"] is None
    with pytest.raises(ValueError, match=r"takes \['x'\], got condition \['y'\]"):
        serving.measure_quality(model, keras_runner, x, condition={"y": np.zeros(37, np.int32)})


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
