"""benchmarks/peer_parity.py without the peer: the Keras side's estimator plumbing and the summary maths."""

import importlib.util
import json
import math
import os
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def parity():
    spec = importlib.util.spec_from_file_location("peer_parity", os.path.join(ROOT, "benchmarks", "peer_parity.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(family, epochs, seed, metric, keras_value, peer_value, keras_seconds, peer_seconds, image_se=0.3,
            load=0.5):
    return {"family": family, "epochs": epochs, "seed": seed, "metric": metric, "load_average_1min": load,
            "diff_stderr_over_images": image_se,
            "keras": {metric: keras_value, "fit_seconds": keras_seconds},
            "peer": {metric: peer_value, "fit_seconds": peer_seconds}}


def test_summary_paired_standard_error_matches_a_hand_computation(parity, tmp_path):
    runs = [_record("vae", 30, 0, "nll", 95.0, 94.0, 10.0, 5.0),
            _record("vae", 30, 1, "nll", 96.0, 96.5, 12.0, 6.0),
            _record("vae", 30, 2, "nll", 97.5, 96.0, 11.0, 11.0),
            _record("vqvae", 30, 0, "squared_error", 20.0, 21.5, 4.0, 2.0)]
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in runs))
    rows = {row["family"]: row for row in parity.summarize(parity.read_records(str(path)))}
    vae = rows["vae"]
    # differences 1.0, -0.5, 1.5: mean 2/3; deviations 1/3, -7/6, 5/6; sd = sqrt(13/12); SE = sd / sqrt(3)
    assert vae["seeds"] == 3
    assert vae["diff"] == pytest.approx(2.0 / 3.0, abs=1e-12)
    assert vae["diff_se"] == pytest.approx(math.sqrt(13.0 / 12.0) / math.sqrt(3.0), abs=1e-12)
    assert vae["diff_se"] == pytest.approx(0.600925, abs=1e-6)
    assert vae["time_ratio"] == pytest.approx((2.0 + 2.0 + 1.0) / 3.0)
    assert math.isnan(rows["vqvae"]["diff_se"])  # one seed: no paired SE
    table = parity.markdown_table(parity.summarize(parity.read_records(str(path))))
    # parity: 2/3 <= 2 * max(SE over seeds 0.60, image SE 0.3 / sqrt(3))
    assert vae["image_se"] == pytest.approx(0.3 / math.sqrt(3.0)) and vae["parity"]
    assert "| vae | 30 | nll | 3 | 96.17 | 95.50 | +0.67 ± 0.60 | yes | 11.0 | 7.3 | 1.67x |" in table
    assert "| vqvae | 30 | squared_error | 1 | 20.00 | 21.50 | -1.50 ± n/a | yes | 4.0 | 2.0 | 2.00x |" in table
    assert table.index("| vae |") < table.index("| vqvae |")  # rows in the order of FAMILIES


def test_summary_compares_flow_families_with_the_own_vae_and_leaves_loaded_runs_out_of_time(parity, tmp_path):
    runs = [_record("vae", 30, 0, "nll", 100.0, 100.5, 10.0, 10.0),
            _record("vae", 30, 1, "nll", 101.0, 100.0, 10.0, 10.0),
            _record("iaf", 30, 0, "nll", 99.0, 98.0, 20.0, 10.0),
            _record("iaf", 30, 1, "nll", 101.5, 98.5, 40.0, 10.0, load=3.9),
            _record("iaf", 30, 1, "nll", 100.5, 98.5, 30.0, 10.0, image_se=0.1)]  # a re-run of seed 1 wins
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in runs))
    rows = {row["family"]: row for row in parity.summarize(parity.read_records(str(path)))}
    iaf = rows["iaf"]
    assert iaf["seeds"] == 2 and iaf["loaded_runs"] == 0 and iaf["time_ratio"] == pytest.approx(2.5)
    assert iaf["keras_seconds"] == pytest.approx(25.0) and iaf["peer_seconds"] == pytest.approx(10.0)
    # keras iaf - keras vae per seed: -1.0, -0.5; peer: -2.5, -1.5
    assert iaf["vs_vae"] == pytest.approx(-0.75) and iaf["vs_vae_se"] == pytest.approx(0.25)
    assert iaf["peer_vs_vae"] == pytest.approx(-2.0) and iaf["peer_vs_vae_se"] == pytest.approx(0.5)
    # differences 1.0 and 2.0: mean 1.5, SE 0.5; 1.5 > 2 * 0.5, so not at parity
    assert iaf["diff"] == pytest.approx(1.5) and not iaf["parity"]
    assert "vs_vae" not in rows["vae"]
    runs[4]["load_average_1min"] = 3.0  # a loaded run: the row gives no time, and counts it
    path.write_text("".join(json.dumps(r) + "\n" for r in runs))
    iaf = {r["family"]: r for r in parity.summarize(parity.read_records(str(path)))}["iaf"]
    assert iaf["loaded_runs"] == 1 and math.isnan(iaf["time_ratio"]) and math.isnan(iaf["peer_seconds"])
    assert "| iaf | 30 | nll | 2 | 99.75 | 98.25 | +1.50 ± 0.50 | no | loaded | loaded | loaded |" in \
        parity.markdown_table(parity.summarize(parity.read_records(str(path))))
    out = tmp_path / "summary.json"
    parity.write_summary(parity.summarize(parity.read_records(str(path))), str(out), str(path))
    written = json.loads(out.read_text())
    assert [r["family"] for r in written["rows"]] == ["vae", "iaf"] and not os.path.exists(str(out) + ".tmp")
    runs = [r for r in runs if r["family"] == "vae"][:1]  # one seed: no paired SE, and the row has no such field
    path.write_text(json.dumps(runs[0]) + "\n")
    parity.write_summary(parity.summarize(parity.read_records(str(path))), str(out), str(path))
    assert "diff_se" not in json.loads(out.read_text())["rows"][0]


class _StubModel:
    """``importance_samples`` returning seeded ``[n, B]`` arrays and recording every call."""

    def __init__(self):
        self.calls = []

    def importance_samples(self, x, n, seed):
        self.calls.append((len(x), n, seed))
        rng = np.random.default_rng(seed)
        shape = (n, len(x))
        return SimpleNamespace(log_px_given_z=rng.normal(-3.0, 1.0, shape), log_pz=rng.normal(-1.0, 0.5, shape),
                               log_qz=rng.normal(0.5, 0.5, shape))


def test_keras_log_likelihood_concatenates_chunks_of_draws_per_batch(parity):
    model = _StubModel()
    x = np.zeros((4, 3), np.float32)
    estimate = parity.keras_log_likelihood(model, x, num_samples=5, seed=7, batch_size=3, chunk=2)
    assert [(b, n) for b, n, _ in model.calls] == [(3, 2), (3, 2), (3, 1), (1, 2), (1, 2), (1, 1)]
    assert len({seed for _, _, seed in model.calls}) == 6  # every chunk its own draws
    # Replay the same draws and average the weights by hand: log (1/k) sum_s exp(w_s), k = 5 per example.
    replay = _StubModel()
    expected = []
    for b, (start, stop) in enumerate([(0, 3), (3, 4)]):
        records = [replay.importance_samples(x[start:stop], n, parity.chunk_seed(7, b, c))
                   for c, n in enumerate([2, 2, 1])]
        w = np.concatenate([r.log_px_given_z + r.log_pz - r.log_qz for r in records], axis=0)
        assert w.shape == (5, stop - start)
        expected.append(np.log(np.exp(w).sum(axis=0) / 5.0))
    np.testing.assert_allclose(estimate, np.concatenate(expected), rtol=1e-12)


def test_keras_side_reads_a_real_models_record_and_reconstruction(parity):
    from keras_ae.models import VAE

    x = (np.random.default_rng(0).random((5, 6)) < 0.5).astype(np.float32)
    model = VAE(input_shape=(6,), latent_dim=2, hidden_units=(8,), seed=3)
    one_draw = parity.keras_log_likelihood(model, x, num_samples=1, seed=11, batch_size=5)
    record = model.importance_samples(x, 1, seed=parity.chunk_seed(11, 0, 0))
    np.testing.assert_allclose(one_draw, np.asarray(record.log_weights())[0], rtol=1e-5, atol=1e-5)
    errors = parity.keras_squared_errors(model, x, batch_size=2)
    np.testing.assert_allclose(errors, np.square(x - np.asarray(model.reconstruct(x))).sum(axis=1), rtol=1e-6)


def test_compare_gives_keras_minus_peer_nll_per_example(parity):
    family = parity.FAMILIES["vae"]
    keras_examples = {"log_likelihood": np.array([-1.0, -2.0, -4.0])}
    peer_examples = {"log_likelihood": np.array([-1.5, -2.5, -3.5])}
    out = parity.compare("vae", family, {"fit_seconds": 3.0}, {"fit_seconds": 2.0}, keras_examples, peer_examples)
    # keras NLL 7/3, peer NLL 5/2: per-example differences -0.5, -0.5, +0.5 (keras - peer), mean -1/6,
    # sd sqrt(1/3), SE 1/3
    assert out["diff_keras_minus_peer"] == pytest.approx(round(-1.0 / 6.0, 4))
    assert out["diff_stderr_over_images"] == pytest.approx(round(1.0 / 3.0, 4))
    assert out["fit_time_ratio_keras_over_peer"] == pytest.approx(1.5)
