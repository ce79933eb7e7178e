"""Anomaly scores and their AUROC/AUPRC: known answers, then a real held-out-class case."""

import keras
import numpy as np
import pytest

from keras_ae.evaluation import anomaly
from keras_ae.models import VAE, Autoencoder


def test_auroc_and_auprc_of_a_perfect_score_are_one():
    labels = np.r_[np.zeros(50), np.ones(10)]
    scores = labels * 5 + np.random.default_rng(0).uniform(0, 1, 60)
    assert anomaly.auroc(scores, labels) == 1.0 and anomaly.auprc(scores, labels) == pytest.approx(1.0, abs=1e-12)
    # reversed, AUROC is 0: the score is perfectly wrong
    assert anomaly.auroc(-scores, labels) == 0.0


def test_auroc_of_a_random_score_is_a_half_within_its_standard_error():
    rng = np.random.default_rng(1)
    n_normal, n_anomalous = 4000, 1000
    labels = np.r_[np.zeros(n_normal), np.ones(n_anomalous)]
    value = anomaly.auroc(rng.normal(size=n_normal + n_anomalous), labels)
    # Mann-Whitney under the null: sd = sqrt((n0 + n1 + 1) / (12 n0 n1))
    se = np.sqrt((n_normal + n_anomalous + 1) / (12 * n_normal * n_anomalous))
    assert abs(value - 0.5) < 4 * se
    # AUPRC of a random score is the anomaly fraction p: the precision at each anomaly's rank is
    # a fraction of random rows, so its mean has a standard error of about sqrt(p (1 - p) / n1)
    p = n_anomalous / (n_normal + n_anomalous)
    se = np.sqrt(p * (1 - p) / n_anomalous)
    assert abs(anomaly.auprc(rng.normal(size=n_normal + n_anomalous), labels) - p) < 4 * se


def test_auroc_counts_ties_as_one_half():
    assert anomaly.auroc([1.0, 1.0], [0, 1]) == 0.5


@pytest.mark.parametrize("scores,labels,match", [
    ([0.1, np.nan], [0, 1], "finite"),
    ([0.1, 0.2], [1, 1], "at least one anomalous and one normal"),
    ([0.1, 0.2], [0, 2], "0/1"),
    ([0.1, 0.2, 0.3], [0, 1], "same length"),
])
def test_bad_scores_or_labels_are_clear_errors(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        anomaly.auroc(scores, labels)


def test_heldout_split_and_unknown_class():
    x, y = np.arange(10)[:, None], np.array([0, 1] * 5)
    normal, anomalous = anomaly.heldout_class_split(x, y, 1)
    assert normal[:, 0].tolist() == [0, 2, 4, 6, 8] and anomalous[:, 0].tolist() == [1, 3, 5, 7, 9]
    with pytest.raises(ValueError, match="anomaly_class 7"):
        anomaly.heldout_class_split(x, y, 7)


def test_models_trained_without_a_digit_score_it_as_anomalous(digits, binary_digits):
    """Digits: train without the 0s; every score the model has ranks test 0s above the rest
    (AUROC well above one half), and a deterministic autoencoder has only the reconstruction error."""
    x_train, y_train, _, y_test = digits
    xb_train, xb_test = binary_digits
    normal_train, _ = anomaly.heldout_class_split(xb_train, y_train, 0)
    keras.utils.set_random_seed(0)
    vae = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(64,), likelihood="bernoulli", seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    vae.fit(normal_train, epochs=15, batch_size=64, verbose=0)
    normal, anomalous = anomaly.heldout_class_split(xb_test, y_test, 0)
    result = anomaly.detection_metrics(vae, normal, anomalous, num_samples=20)
    assert set(result) == set(anomaly.SCORES)
    for name in ("negative_elbo", "nll", "reconstruction_error"):
        assert result[name]["auroc"] > 0.7, (name, result)
        assert result[name]["auprc"] > len(anomalous) / (len(normal) + len(anomalous)), (name, result)
    ae = Autoencoder(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,), seed=0)
    assert anomaly.available_scores(ae) == ["reconstruction_error"]
    with pytest.raises(ValueError, match="cannot compute the 'nll' score"):
        anomaly.anomaly_scores(ae, x_train[:4], ["nll"])
