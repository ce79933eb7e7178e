"""Known-answer tests of keras_ae.evaluation.disentanglement: every metric on representations whose answer is known.

The ground-truth dataset is dSprites' factor space (keras_ae.data.procedural) with the factors
themselves as observations, so no image is rendered and the representations are exact functions
of the factors:

- ``truth``: the standardised factors (one code per factor);
- ``copy``: the same codes permuted, rescaled and shifted (every metric is invariant to that);
- ``noise``: Gaussian noise independent of the observation (the bottom);
- ``rotated``: truth with the two position codes rotated by 45 degrees (each of the two codes now
  depends on both positions equally: entangled, but still linearly decodable);
- ``sheared``: truth with position x replaced by x + y (correlated codes, for the Gaussian total
  correlation, which sees only covariances: a 45-degree rotation of two equal-variance codes is
  uncorrelated).

Point counts are small (hundreds) so that all of this runs in seconds; the tolerances below are
wide enough for the sampling error of those counts and tight enough to separate the cases.
"""

import numpy as np
import pytest

from keras_ae.evaluation import disentanglement as dis
from keras_ae.data.procedural import ProceduralDSprites

X, Y = 3, 4  # the position columns
SHAPE, SCALE = 0, 1


class FactorsAsObservations:
    """A factor space (dSprites' by default) whose observation of a factor vector is the vector itself."""

    def __init__(self, factor_sizes=ProceduralDSprites().factor_sizes):
        self.factor_sizes = tuple(factor_sizes)

    def sample_factors(self, num, rng):
        return np.stack([rng.integers(size, size=num) for size in self.factor_sizes], axis=1)

    def sample_observations_from_factors(self, factors, rng):
        return np.asarray(factors, np.float64)


DATA = FactorsAsObservations()
SMALL = FactorsAsObservations((2, 2, 2, 3, 3))  # few classes: DCI's boosted trees fit one tree per class
MEDIUM = FactorsAsObservations((3, 6, 10, 8, 8))  # explicitness fits a logistic regression over every class


def representations(data=DATA, mixed=(X, Y)):
    """``{name: observations -> codes}``: truth, copy, noise, rotated (codes ``mixed``), sheared (x + y)."""
    sizes = np.asarray(data.factor_sizes, np.float64)

    def truth(obs):  # a uniform factor of K values has variance (K^2 - 1) / 12
        return (obs - (sizes - 1) / 2) / np.sqrt((sizes ** 2 - 1) / 12)

    def copy(obs):
        return 3.0 * truth(obs)[:, [2, 4, 0, 1, 3]] * np.array([1.0, -2.0, 0.5, 4.0, 1.0]) + 7.0

    def rotated(obs):
        codes = truth(obs)
        a, b = codes[:, mixed[0]].copy(), codes[:, mixed[1]].copy()
        codes[:, mixed[0]], codes[:, mixed[1]] = (a + b) / np.sqrt(2), (a - b) / np.sqrt(2)
        return codes

    def sheared(obs):
        codes = truth(obs)
        codes[:, X] = codes[:, X] + codes[:, Y]
        return codes

    noise_rng = np.random.default_rng(1)

    def noise(obs):
        return noise_rng.standard_normal((len(obs), 5))

    return {"truth": truth, "copy": copy, "noise": noise, "rotated": rotated, "sheared": sheared}


REPS = representations()
truth, copy = REPS["truth"], REPS["copy"]


def scores(metric, data=DATA, mixed=(X, Y), skip=(), **kwargs):
    """The metric's score for every representation (but ``skip``), with the same seed for all."""
    return {name: metric(data, rep, **kwargs) for name, rep in representations(data, mixed).items()
            if name not in skip}


#: Each metric's known-answer call: (metric, keyword arguments of ``scores``); point counts are small.
CASES = {
    "beta_vae": (dis.beta_vae_score, dict(batch_size=16, num_train=300, num_eval=200)),
    "factor_vae": (dis.factor_vae_score, dict(batch_size=16, num_train=300, num_eval=200, num_variance_estimate=500)),
    "mig": (dis.mig, dict(num_train=2000)),
    "sap": (dis.sap, dict(mixed=(SHAPE, SCALE), num_train=600, num_test=300)),
    "dci": (dis.dci, dict(data=SMALL, skip=("sheared",), num_train=300, num_test=200)),
    "modularity_explicitness": (dis.modularity_explicitness,
                                dict(data=MEDIUM, skip=("sheared",), num_train=1000, num_test=400)),
    "gaussian_total_correlation": (dis.gaussian_total_correlation, dict(num_train=4000)),
}


def measured(case, key):
    """``{representation: result[key]}`` of one known-answer case."""
    metric, kwargs = CASES[case]
    return {name: result[key] for name, result in scores(metric, **kwargs).items()}


def test_beta_vae_score():
    s = measured("beta_vae", "eval_accuracy")
    assert s["truth"] == pytest.approx(1.0, abs=0.01) and s["copy"] == pytest.approx(1.0, abs=0.02)
    assert s["noise"] < 0.35  # chance is 1/5
    # Rotating x and y makes "x fixed" and "y fixed" look alike: those two factors are confused.
    assert 0.6 < s["rotated"] < 0.9


def test_factor_vae_score():
    results = scores(CASES["factor_vae"][0], **CASES["factor_vae"][1])
    s = {k: v["eval_accuracy"] for k, v in results.items()}
    assert s["truth"] == 1.0 and s["copy"] == 1.0  # the fixed factor's dimension has exactly zero variance
    assert s["noise"] < 0.4
    assert 0.6 < s["rotated"] < 0.9  # one dimension takes both positions' votes
    assert results["truth"]["num_active_dims"] == 5


def test_factor_vae_prunes_collapsed_dims_and_votes_for_the_kept_dimension():
    """A collapsed dimension before the informative ones must not shift the votes (disentanglement_lib did)."""
    def with_collapsed(obs):
        return np.concatenate([np.full((len(obs), 1), 0.5) + 0.001 * truth(obs)[:, :1], copy(obs)], axis=1)

    result = dis.factor_vae_score(DATA, with_collapsed, batch_size=16, num_train=200, num_eval=100,
                                  num_variance_estimate=300)
    assert result["num_active_dims"] == 5 and result["eval_accuracy"] == 1.0
    collapsed = dis.factor_vae_score(DATA, lambda o: np.zeros((len(o), 3)), num_train=10, num_eval=10,
                                     num_variance_estimate=50)
    assert collapsed == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}


def test_mig():
    s = measured("mig", "mig")
    # 20 bins cannot hold orientation's 40 or a position's 32 values: log 20 / log 40 etc., not 1.
    assert 0.83 < s["truth"] < 0.97
    assert s["copy"] == pytest.approx(s["truth"], abs=1e-12)  # binning is invariant to affine maps
    assert s["noise"] < 0.03
    assert s["noise"] + 0.3 < s["rotated"] < s["truth"] - 0.25  # the two position gaps close


def test_mig_of_codes_closed_form():
    """Codes equal to factors with at most 20 values: every gap is the factor's entropy, MIG = 1."""
    factors = np.stack(np.meshgrid(np.arange(4), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    assert dis.mig_of_codes(factors.astype(float), factors) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two best code dimensions"):
        dis.mig_of_codes(factors[:, :1].astype(float), factors)


def test_sap():
    """Mixing shape and scale: SAP's single-code linear classifiers (LinearSVC, C=0.01) read little of a
    32-valued position even from the position itself, so mixing the positions would hardly move it."""
    s = measured("sap", "sap")
    assert s["copy"] == pytest.approx(s["truth"], abs=0.05)
    assert s["noise"] < 0.05
    assert s["noise"] < s["rotated"] < s["truth"] - 0.02
    assert s["truth"] > 0.15


def test_dci():
    results = scores(CASES["dci"][0], **CASES["dci"][1])
    for key in ("disentanglement", "completeness"):
        s = {k: v[key] for k, v in results.items()}
        assert s["truth"] > 0.9 and s["copy"] > 0.9, key
        assert s["noise"] < 0.25, key
        assert s["noise"] < s["rotated"] < s["truth"] - 0.1, key
    info = {k: v["informativeness_test"] for k, v in results.items()}
    assert info["truth"] > 0.95 and info["copy"] > 0.95
    chance = np.mean(1.0 / np.array(SMALL.factor_sizes))
    assert abs(info["noise"] - chance) < 0.08
    assert results["truth"]["importance"].shape == (5, 5)


def test_dci_of_importance_closed_form():
    assert dis.dci_of_importance(np.eye(4)) == pytest.approx((1.0, 1.0), abs=1e-6)
    assert dis.dci_of_importance(np.ones((4, 4))) == pytest.approx((0.0, 0.0), abs=1e-6)
    # One code informs about both of two factors: it scores 0 on disentanglement, each factor is complete.
    d, c = dis.dci_of_importance(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert d == pytest.approx(0.0, abs=1e-6) and c == pytest.approx(1.0, abs=1e-6)
    # One code spread over two factors: D = 1 - H_2(0.3, 0.7) = 0.119; each factor has one code, C = 1.
    assert dis.dci_of_importance(np.array([[0.3, 0.7]])) == pytest.approx((1 - 0.8813, 1.0), abs=1e-4)


def test_modularity_and_explicitness():
    results = scores(CASES["modularity_explicitness"][0], **CASES["modularity_explicitness"][1])
    modularity = {k: v["modularity"] for k, v in results.items()}
    assert modularity["truth"] > 0.98 and modularity["copy"] == pytest.approx(modularity["truth"], abs=1e-12)
    # Each rotated code shares its information equally between two factors: delta = 1 / (K - 1) = 1/4,
    # so modularity (3 * 1 + 2 * 3/4) / 5 = 0.9 for exact mutual informations; the estimates' bias
    # (codes in 20 bins against the other factors) lowers it a little.
    assert 0.8 < modularity["rotated"] < 0.92
    # Noise depends on no factor, which Ridgeway & Mozer's definition counts as modular up to the
    # bias of its small mutual informations: below truth, but not at 0.
    assert modularity["noise"] < modularity["truth"] - 0.1
    explicit = {k: v["explicitness_test"] for k, v in results.items()}
    assert explicit["truth"] > 0.95 and explicit["copy"] == pytest.approx(explicit["truth"], abs=0.01)
    assert abs(explicit["noise"] - 0.5) < 0.05  # chance
    assert explicit["rotated"] == pytest.approx(explicit["truth"], abs=0.01)  # linear mixing is still explicit


def test_modularity_of_information_closed_form():
    assert dis.modularity_of_information(np.eye(3)) == pytest.approx(1.0)
    assert dis.modularity_of_information(np.ones((2, 3))) == pytest.approx(0.0)
    assert dis.modularity_of_information(np.zeros((2, 3))) == 0.0


def test_gaussian_total_correlation():
    s = measured("gaussian_total_correlation", "gaussian_total_correlation")
    # Independent codes: the plug-in estimate's bias is about D(D-1)/(4n) = 0.001 nats.
    assert 0 <= s["truth"] < 0.01 and s["copy"] == pytest.approx(s["truth"], rel=1e-9)
    assert 0 <= s["noise"] < 0.01
    # x + y and y with x, y of equal variance: correlation 1/sqrt(2), TC = log(2) / 2.
    assert s["sheared"] == pytest.approx(0.5 * np.log(2), abs=0.03)
    assert s["rotated"] < 0.01  # uncorrelated (if dependent): a Gaussian measure cannot see it


def test_gaussian_total_correlation_of_covariance_closed_form():
    rho = 0.6
    cov = np.array([[2.0, rho * np.sqrt(6.0), 0.0], [rho * np.sqrt(6.0), 3.0, 0.0], [0.0, 0.0, 0.0]])
    assert dis.gaussian_total_correlation_of_covariance(cov) == pytest.approx(-0.5 * np.log(1 - rho ** 2))
    assert dis.gaussian_total_correlation_of_covariance(np.diag([1.0, 4.0])) == pytest.approx(0.0)


def test_seeded_and_batch_independent():
    a = dis.mig(DATA, copy, rng=5, num_train=300, batch_size=7)
    b = dis.mig(DATA, copy, rng=5, num_train=300, batch_size=300)
    assert a == b
    c = dis.beta_vae_score(DATA, truth, rng=3, batch_size=8, num_train=50, num_eval=20, chunk=16)
    d = dis.beta_vae_score(DATA, truth, rng=3, batch_size=8, num_train=50, num_eval=20, chunk=800)
    assert c == d


def test_evaluate_disentanglement_keys_and_bad_input():
    out = dis.evaluate_disentanglement(DATA, copy, scale=0.005, metrics=("mig", "gaussian_total_correlation"))
    assert set(out) == {"mig", "gaussian_total_correlation", "disentanglement_scale"}
    assert set(out) <= set(dis.METRIC_DEFINITIONS)
    with pytest.raises(ValueError, match="metrics must be"):
        dis.evaluate_disentanglement(DATA, copy, metrics=("nope",))
    with pytest.raises(ValueError, match="ground-truth dataset"):
        dis.mig(object(), copy)
    with pytest.raises(ValueError, match="one code per observation"):
        dis.mig(DATA, lambda o: np.zeros((3, 2)), num_train=10)
    with pytest.raises(ValueError, match="non-finite"):
        dis.mig(DATA, lambda o: np.full((len(o), 2), np.nan), num_train=10)
    with pytest.raises(ValueError, match="callable"):
        dis.mig(DATA, "encode", num_train=10)


def test_on_rendered_sprites():
    """The same interface on real images: an oracle that reads position from the image's ink."""
    data = ProceduralDSprites()

    def centroid(images):
        ink = images[..., 0]
        rows, cols = np.arange(64), np.arange(64)
        mass = ink.sum(axis=(1, 2))
        return np.stack([(ink.sum(axis=1) * cols).sum(1) / mass, (ink.sum(axis=2) * rows).sum(1) / mass,
                         mass], axis=1)

    result = dis.factor_vae_score(data, centroid, batch_size=16, num_train=60, num_eval=60, num_variance_estimate=200)
    assert result["num_active_dims"] == 3
    # The centroid captures x and y exactly, the ink mass scale: 3 of 5 factors are read right, most of the time.
    assert 0.45 < result["eval_accuracy"] <= 0.8


def test_docstring_examples():
    import doctest

    result = doctest.testmod(dis, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# -- python -m zoo eval RUN --disentanglement --------------------------------------------------------
def test_zoo_eval_disentanglement_refuses_a_dataset_without_factors(tmp_path, capsys):
    import json

    from zoo.cli import main

    (tmp_path / "config.json").write_text(json.dumps({"recipe": {"name": "vae-digits"}, "dataset": "digits"}))
    assert main(["eval", str(tmp_path), "--disentanglement"]) == 2
    err = capsys.readouterr().err
    assert "ground-truth factors" in err and "digits has none" in err and "dsprites-procedural" in err
    assert main(["eval", str(tmp_path), "--disentanglement-scale", "0.1"]) == 2
    assert "need --disentanglement" in capsys.readouterr().err


def test_zoo_eval_disentanglement_writes_metrics_and_labelled_traversals(tmp_path, capsys):
    """A run directory of an (untrained) VAE on procedural dSprites, as `zoo train` leaves it."""
    import json

    from PIL import Image

    from keras_ae import training
    from zoo import runner
    from zoo.cli import main

    run = tmp_path / "run"
    run.mkdir()
    recipe = runner.resolve_recipe("vae-digits")
    model = runner.build_model(recipe, (64, 64, 1), seed=0)
    model.build()
    training.atomic_save_model(model, str(run / "model.keras"))
    (run / "config.json").write_text(json.dumps({"recipe": recipe.to_dict(), "dataset": "dsprites-procedural"}))
    (run / "metrics.json").write_text(json.dumps({"nll": 123.0, "definitions": {"nll": "kept"}}))
    assert main(["eval", str(run), "--disentanglement", "--disentanglement-scale", "0.005",
                 "--disentanglement-metrics", "mig,gaussian_total_correlation", "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    new = {"mig", "gaussian_total_correlation", "disentanglement_scale"}
    assert new <= set(metrics) and new <= set(metrics["definitions"])
    assert metrics["nll"] == 123.0  # the test metrics are kept
    assert 0 <= metrics["mig"] <= 1 and metrics["gaussian_total_correlation"] >= 0
    assert metrics["disentanglement_scale"] == 0.005
    with Image.open(run / "traversals_factors.png") as image:
        assert image.size[0] > 100
    assert main(["eval", str(run), "--disentanglement", "--disentanglement-metrics", "nope"]) == 2
    assert "metrics must be" in capsys.readouterr().err


def test_factor_labels_name_the_factor_each_code_follows():
    information = dis.code_factor_information(DATA, copy, num_train=3000)
    names = ["shape", "scale", "orientation", "position_x", "position_y"]
    labels = dis.factor_labels(information, names)
    assert [label.split()[0] for label in labels] == [names[k] for k in (2, 4, 0, 1, 3)]  # copy's permutation
    assert all(float(label.split()[1]) > 0.7 for label in labels)
    # Noise holds no information once the plug-in bias is taken off: no label.
    assert dis.factor_labels(dis.code_factor_information(DATA, representations()["noise"], num_train=3000)) == \
        ["none"] * 5


def known_answer_table():
    """``{metric: {representation: score}}`` with the tests' point counts (docs/disentanglement.md's table)."""
    keys = [("beta_vae", "eval_accuracy"), ("factor_vae", "eval_accuracy"), ("mig", "mig"), ("sap", "sap"),
            ("dci", "disentanglement"), ("dci", "completeness"), ("dci", "informativeness_test"),
            ("modularity_explicitness", "modularity"), ("modularity_explicitness", "explicitness_test"),
            ("gaussian_total_correlation", "gaussian_total_correlation")]
    return {f"{case} {key}": measured(case, key) for case, key in keys}


if __name__ == "__main__":  # PYTHONPATH=. python tests/test_disentanglement.py
    for metric, row in known_answer_table().items():
        print(f"{metric:45s}", "  ".join(f"{name} {value:.3f}" for name, value in row.items()))
