"""Latent search: the MAP code of a linear-Gaussian decoder in closed form, a classifier objective, a picture.

With ``g(z) = W z + b``, ``J = -||g(z) - t||^2 / (2 s^2)`` and ``log p(z) = log N(z; 0, I)``, the
objective is a concave quadratic with the ridge solution ``z* = (W^T W / s^2 + I)^-1 W^T (t - b) / s^2``;
Adam's steady state around it is within ``learning_rate`` of it, so the tolerance is a few of those
learning rates after the step size has been annealed down by the objective's curvature.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import pictures
from keras_ae.evaluation import latent_search


def test_search_finds_the_closed_form_map_code_of_a_linear_decoder():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=6).astype(np.float32)
    targets = rng.normal(size=(4, 6)).astype(np.float32)
    scale = 0.5

    def decode(z):
        return tf.matmul(z, w.T) + b

    def log_prior(z):
        return -0.5 * tf.reduce_sum(z ** 2, axis=1)

    path = latent_search.search(decode, log_prior, latent_search.target_objective(targets, scale),
                                np.zeros((4, 3), np.float32), steps=1500, learning_rate=0.02, record_every=100)
    exact = np.linalg.solve(w.T @ w / scale ** 2 + np.eye(3), (w.T @ (targets - b).T) / scale ** 2).T
    np.testing.assert_allclose(path.codes[-1], exact, atol=5e-3)
    total = path.objective + path.log_prior
    assert np.all(total[-1] >= total[0])  # ascended from the start
    assert path.codes.shape == (len(path.steps), 4, 3) and path.steps[-1] == 1500
    # without the prior the search finds the least-squares code instead
    free = latent_search.search(decode, log_prior, latent_search.target_objective(targets, scale),
                                np.zeros((4, 3), np.float32), steps=1500, learning_rate=0.02, prior_weight=0.0)
    np.testing.assert_allclose(free.codes[-1], np.linalg.lstsq(w, (targets - b).T, rcond=None)[0].T, atol=5e-3)


def test_a_classifier_objective_raises_the_class_probability_of_decoded_digits(binary_digits, digits, tmp_path):
    import keras
    from sklearn.linear_model import LogisticRegression

    from keras_ae.models import VAE

    x_train, x_test = binary_digits
    keras.utils.set_random_seed(0)  # the initial weights too, whatever ran before in this process
    model = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(64,), likelihood="bernoulli", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.fit(x_train, epochs=8, batch_size=64, verbose=0)
    images, labels = np.asarray(digits[0]).reshape(len(digits[0]), -1), digits[1]
    classifier = LogisticRegression(max_iter=500).fit(images, labels)
    coef, intercept = classifier.coef_.T.astype(np.float32), classifier.intercept_.astype(np.float32)

    def logits(x):
        return tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), coef) + intercept

    path = latent_search.search_model(model, latent_search.class_objective(logits, 3), num_codes=5, seed=1,
                                      steps=200, learning_rate=0.05, record_every=50)
    start, end = np.exp(path.objective[0]), np.exp(path.objective[-1])
    assert np.all(end >= start - 1e-6) and np.mean(end) > 2 * np.mean(start), (start, end)
    # a weaker prior buys more class probability with less likely codes: the trade-off is real
    loose = latent_search.search_model(model, latent_search.class_objective(logits, 3), num_codes=5, seed=1,
                                       steps=200, learning_rate=0.05, prior_weight=0.1)
    assert np.mean(np.exp(loose.objective[-1])) > np.mean(end) + 0.1
    assert np.mean(loose.log_prior[-1]) < np.mean(path.log_prior[-1])
    png = pictures.latent_search_grid(path, str(tmp_path / "path.png"), "class 3")
    assert (tmp_path / "path.png").stat().st_size > 1000 and png.endswith("path.png")
    with pytest.raises(ValueError, match="out of range"):
        latent_search.search_model(model, latent_search.class_objective(logits, 12), steps=2)
    with pytest.raises(ValueError, match=r"z0 must be \[batch, 4\]"):
        latent_search.search_model(model, latent_search.class_objective(logits, 3), z0=np.zeros((2, 3)))


def test_bad_arguments_are_refused():
    from keras_ae.models import Autoencoder

    with pytest.raises(ValueError, match="z0 holds NaN"):
        latent_search.search(lambda z: z, lambda z: z[:, 0], lambda x: x[:, 0], np.full((1, 2), np.nan))
    with pytest.raises(ValueError, match="noise_scale"):
        latent_search.target_objective(np.zeros(3), noise_scale=0.0)
    with pytest.raises(ValueError, match="does not declare is_generative"):
        latent_search.search_model(Autoencoder(input_shape=(4,), latent_dim=2, hidden_units=(8,)), lambda x: x[:, 0])
