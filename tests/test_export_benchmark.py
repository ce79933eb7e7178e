"""``python -m export.benchmark --run RUN_DIR``: the trained model's table with the test-quality column."""

import contextlib
import io

import numpy as np
import pytest

from keras_ae import data, serving

from export import benchmark
from tests.test_export_cli import make_run_dir


@pytest.mark.slow
def test_benchmark_of_a_run_has_the_test_nll_of_every_artifact(tmp_path):
    model = make_run_dir(str(tmp_path / "run"))
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = benchmark.main(["--run", str(tmp_path / "run"), "--tflite", "none,dynamic", "--repeats", "1",
                                 "--out", str(tmp_path / "bench.md")])
    assert status == 0
    rows = [line.split(" | ") for line in buffer.getvalue().splitlines() if line.startswith("| vae-digits")]
    assert [r[1] for r in rows] == ["keras", "savedmodel", "tflite none", "tflite dynamic"]
    x_test, _ = data.load_arrays("digits", "test")
    # the VAE's quality is its importance-sampled test NLL, with the same draws for every artifact
    keras_mean = float(np.mean(serving.quality.importance_nll(serving.quality.keras_runner(model), x_test)))
    for row in rows:  # every artifact has its test NLL; the float32 ones print Keras's to 3 decimals
        assert row[3].split(" ± ")[0].replace(".", "").isdigit(), row
    for row in rows[:3]:
        assert float(row[3].split(" ± ")[0]) == pytest.approx(keras_mean, abs=5e-4 + 1e-5 * keras_mean), row
    assert "test NLL or score (vs Keras)" in (tmp_path / "bench.md").read_text()


def test_benchmark_refuses_a_run_without_a_model(tmp_path, capsys):
    assert benchmark.main(["--run", str(tmp_path)]) == 2
    assert "holds no model.keras" in capsys.readouterr().err
