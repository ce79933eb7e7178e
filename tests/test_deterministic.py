"""The deterministic family: math checks against closed forms and known results."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from keras_ae import objectives
from keras_ae.models import Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder, SparseAutoencoder
from keras_ae.models.deterministic.deterministic import corrupt


def fit(model, x, epochs, lr=1e-3, batch_size=64):
    model.compile(optimizer=keras.optimizers.Adam(lr))
    model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def flat(x):
    return np.asarray(x).reshape(len(x), -1)


@pytest.mark.slow
def test_linear_autoencoder_finds_the_pca_subspace(digits):
    x_train, _, x_test, _ = digits
    k = 8
    keras.utils.set_random_seed(0)
    # 200 epochs: the default (PyTorch's) initializer starts the linear network nearer its saddle
    # at zero than Glorot's, and after 100 epochs the 7th direction was still 7 degrees out.
    model = fit(Autoencoder((8, 8, 1), k, hidden_units=(), activation="linear", seed=0), x_train, 200, lr=1e-2)
    pca = PCA(k).fit(flat(x_train))
    pca_error = np.mean((pca.inverse_transform(pca.transform(flat(x_test))) - flat(x_test)) ** 2)
    ae_error = np.mean((flat(model.reconstruct(x_test)) - flat(x_test)) ** 2)
    # PCA is the optimum of the linear model on the training set, so on the test set the
    # autoencoder may only be slightly worse (or, by chance, slightly better).
    assert ae_error <= 1.02 * pca_error, (ae_error, pca_error)
    # The decoder's columns (its kernel, k x 64) span the learned subspace. On digits the 8th,
    # 9th and 10th eigenvalues of the covariance are close (about 0.175, 0.156, 0.143), so the
    # loss hardly tells those directions apart and gradient descent mixes them slowly; the
    # directions with a clear eigen-gap are identified. So: the top k-1 principal directions
    # lie in the learned subspace, and the learned subspace lies in the top k+2.
    decoder_columns = model.output_layer.proj.kernel.numpy().T  # [64, k]
    components = PCA(k + 2).fit(flat(x_train)).components_.T  # [64, k + 2]
    assert np.degrees(subspace_angles(components[:, : k - 1], decoder_columns)).max() < 5.0
    assert np.degrees(subspace_angles(decoder_columns, components)).max() < 5.0


@pytest.mark.slow
@pytest.mark.parametrize("penalty,weight", [("l1", 0.05), ("kl", 0.5)])
def test_sparse_codes_are_sparser_than_plain(digits, penalty, weight):
    x_train, _, x_test, _ = digits
    common = dict(input_shape=(8, 8, 1), latent_dim=64, hidden_units=(64,), seed=0)
    code_activation = "sigmoid" if penalty == "kl" else "linear"
    keras.utils.set_random_seed(0)
    plain = fit(Autoencoder(code_activation=code_activation, **common), x_train, 30)
    keras.utils.set_random_seed(0)
    sparse = fit(SparseAutoencoder(penalty=penalty, sparsity_weight=weight, **common), x_train, 30)
    z_plain, z_sparse = np.abs(plain.encode(x_test).numpy()), np.abs(sparse.encode(x_test).numpy())
    if penalty == "l1":
        assert z_sparse.sum(axis=1).mean() < 0.5 * z_plain.sum(axis=1).mean()
        assert (z_sparse < 0.05).mean() > (z_plain < 0.05).mean() + 0.2
    else:
        # the mean activation approaches the target 0.05 and most units are near zero
        assert z_sparse.mean() < 0.5 * z_plain.mean()
        assert (z_sparse < 0.05).mean() > (z_plain < 0.05).mean() + 0.2


@pytest.mark.slow
@pytest.mark.parametrize("corruption,level", [("gaussian", 0.3), ("masking", 0.4), ("salt_and_pepper", 0.2)])
def test_denoising_output_is_closer_to_clean_than_the_corrupted_input(digits, corruption, level):
    x_train, _, x_test, _ = digits
    keras.utils.set_random_seed(0)
    model = DenoisingAutoencoder((8, 8, 1), 32, corruption=corruption, noise_level=level,
                                 hidden_units=(128,), seed=0)
    fit(model, x_train, 40)
    corrupted = corrupt(x_test, corruption, level, tf.constant([7, 7])).numpy()
    denoised = model.reconstruct(np.clip(corrupted, 0, 1) if corruption == "gaussian" else corrupted).numpy()
    err_corrupted = np.mean((corrupted - x_test) ** 2)
    err_denoised = np.mean((denoised - x_test) ** 2)
    assert err_denoised < 0.7 * err_corrupted, (err_denoised, err_corrupted)


def test_corruptions_change_what_they_say(rng):
    x = rng.uniform(0.2, 0.8, size=(400, 8, 8, 1)).astype("float32")
    seed = tf.constant([1, 2])
    masked = corrupt(x, "masking", 0.3, seed).numpy()
    hit = masked != x
    assert np.all(masked[hit] == 0)
    assert abs(hit.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / x.size)
    sp = corrupt(x, "salt_and_pepper", 0.2, seed).numpy()
    hit = sp != x
    assert set(np.unique(sp[hit])) <= {0.0, 1.0}
    assert abs(hit.mean() - 0.2) < 4 * np.sqrt(0.2 * 0.8 / x.size)
    assert abs((sp[hit] == 1).mean() - 0.5) < 4 * np.sqrt(0.25 / hit.sum())
    noisy = corrupt(x, "gaussian", 0.5, seed).numpy() - x
    assert abs(noisy.std() - 0.5) < 4 * 0.5 / np.sqrt(2 * x.size)
    np.testing.assert_array_equal(corrupt(x, "masking", 0.3, seed), masked)


def test_denoising_corrupts_in_training_only(rng):
    x = rng.uniform(size=(16, 8, 8, 1)).astype("float32")
    model = DenoisingAutoencoder((8, 8, 1), 4, hidden_units=(8,), corruption="masking", noise_level=0.5, seed=0)
    clean = Autoencoder((8, 8, 1), 4, hidden_units=(8,), seed=0)
    model.build(), clean.build()
    clean.set_weights(model.get_weights())
    np.testing.assert_allclose(model.loss_terms(x, training=False)["reconstruction"],
                               clean.loss_terms(x, training=False)["reconstruction"], rtol=1e-6)
    assert not np.allclose(model.loss_terms(x, training=True)["reconstruction"],
                           clean.loss_terms(x, training=True)["reconstruction"])


def test_contractive_penalty_equals_the_closed_form_jacobian_norm(rng):
    # One sigmoid layer h = s(W^T x + b): J = diag(h (1 - h)) W^T, so
    # ||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ij^2 (Rifai et al. 2011, eq. 6).
    model = ContractiveAutoencoder((6,), 3, hidden_units=(), code_activation="sigmoid", seed=0)
    model.build()
    x = rng.uniform(size=(5, 6)).astype("float32")
    w, b = model.code_layer.kernel.numpy(), model.code_layer.bias.numpy()
    h = 1 / (1 + np.exp(-(x @ w + b)))
    expected = ((h * (1 - h)) ** 2 * (w**2).sum(axis=0)).sum(axis=1)
    np.testing.assert_allclose(model.contractive_penalty(x).numpy(), expected, rtol=1e-5)


def test_contractive_penalty_matches_finite_differences_on_a_deep_encoder(rng):
    model = ContractiveAutoencoder((4,), 2, hidden_units=(5,), activation="tanh", seed=0)
    model.build()
    x = rng.uniform(size=(3, 4)).astype("float64")
    eps = 1e-3
    jac = np.zeros((3, 2, 4))
    for i in range(4):
        step = np.zeros(4)
        step[i] = eps
        up = model._encode(tf.constant(x + step, tf.float32)).numpy().astype("float64")
        down = model._encode(tf.constant(x - step, tf.float32)).numpy().astype("float64")
        jac[:, :, i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(model.contractive_penalty(x.astype("float32")).numpy(),
                               (jac**2).sum(axis=(1, 2)), rtol=2e-2)


def test_reconstruction_terms_match_numpy(rng):
    x = rng.uniform(size=(4, 5)).astype("float32")
    logits = rng.normal(size=(4, 5)).astype("float32")
    p = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(objectives.bernoulli_cross_entropy(x, logits),
                               -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1), rtol=1e-5)
    np.testing.assert_allclose(objectives.squared_error(x, logits), ((x - logits) ** 2).sum(1), rtol=1e-5)


@pytest.mark.slow
def test_one_mirrored_step_equals_one_single_device_step():
    script = os.path.join(os.path.dirname(__file__), "distributed_script.py")
    out = subprocess.run([sys.executable, script, "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["max_weight_change"] > 1e-3  # the step really moved the weights
    assert result["max_weight_diff"] <= 1e-5
    assert abs(result["single_loss"] - result["mirrored_loss"]) <= 1e-4 * abs(result["single_loss"])


@pytest.mark.parametrize("cls", [Autoencoder, SparseAutoencoder, DenoisingAutoencoder, ContractiveAutoencoder])
def test_bad_inputs_raise_value_errors_that_name_the_problem(cls, rng):
    model = cls((8, 8, 1), 4, hidden_units=(8,), reconstruction="bernoulli", seed=0)
    good = rng.uniform(size=(3, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match="shape"):
        model.reconstruct(good[:, :4])
    with pytest.raises(ValueError, match="batch axis"):
        model.reconstruct(good[0])
    bad = good.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.score(bad)
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        model.encode(bad)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        model.reconstruct(good * 3)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        model.compile(optimizer="adam") or model.fit(good * 3, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="dtype"):
        model.encode(np.array([["a"] * 64] * 2).reshape(2, 8, 8, 1))


def test_sigmoid_output_is_the_squared_error_of_bounded_reconstructions(rng):
    """``output_activation="sigmoid"``: reconstruct = sigmoid(g(f(x))), the term its squared error to x, [0, 1] data."""
    model = Autoencoder((5,), 2, hidden_units=(4,), output_activation="sigmoid", seed=0)
    x = rng.uniform(size=(3, 5)).astype("float32")
    logits = np.asarray(model.decoder_output(model._encode(x)))
    x_hat = np.asarray(model.reconstruct(x))
    np.testing.assert_allclose(x_hat, 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.loss_terms(x)["reconstruction"], ((x - x_hat) ** 2).sum(1), rtol=1e-5)
    assert Autoencoder.from_config(model.get_config()).output_activation == "sigmoid"
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        model.reconstruct(x * 3)


def test_mse_autoencoder_accepts_unbounded_data(rng):
    model = Autoencoder((5,), 2, hidden_units=(4,), seed=0)
    assert model.reconstruct(rng.normal(size=(3, 5)) * 10).shape == (3, 5)


@pytest.mark.parametrize("kwargs,message", [
    (dict(latent_dim=0), "latent_dim must be an integer >= 1, got 0"),
    (dict(reconstruction="l7"), "reconstruction must be one of"),
    (dict(architecture="rnn"), "architecture must be one of"),
    (dict(hidden_units=(0,)), "hidden_units"),
    (dict(output_activation="tanh"), "output_activation must be one of"),
    (dict(reconstruction="bernoulli", output_activation="sigmoid"), "output_activation='sigmoid' goes with"),
])
def test_bad_constructor_arguments(kwargs, message):
    args = dict(input_shape=(8, 8, 1), latent_dim=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Autoencoder(**args)
    with pytest.raises(ValueError, match="sparsity_weight must be >= 0, got -1"):
        SparseAutoencoder((4,), 2, sparsity_weight=-1)
    with pytest.raises(ValueError, match="noise_level"):
        DenoisingAutoencoder((4,), 2, corruption="masking", noise_level=1.5)
    with pytest.raises(ValueError, match="contractive_weight must be >= 0"):
        ContractiveAutoencoder((4,), 2, contractive_weight=-0.1)


def test_conv_autoencoder_handles_odd_image_sizes(rng):
    model = Autoencoder((13, 7, 3), 4, architecture="conv", filters=(4, 8), hidden_units=(), seed=0)
    x = rng.uniform(size=(2, 13, 7, 3)).astype("float32")
    assert model.reconstruct(x).shape == (2, 13, 7, 3)
    with pytest.raises(ValueError, match="architecture='conv' needs images"):
        Autoencoder((64,), 4, architecture="conv")


def test_target_activation_penalty_is_the_bernoulli_kl_of_batch_means(rng):
    # Ng 2011: sum_j rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j)),
    # rho_hat_j the batch mean of unit j; the same value for every example of the batch.
    codes = rng.uniform(0.01, 0.99, size=(7, 5)).astype("float32")
    rho = 0.05
    rho_hat = codes.mean(axis=0).astype("float64")
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    penalty = objectives.target_activation_penalty(codes, rho).numpy()
    np.testing.assert_allclose(penalty, np.full(7, expected), rtol=1e-5)
    np.testing.assert_allclose(objectives.l1_penalty(codes - 0.5), np.abs(codes - 0.5).sum(axis=1), rtol=1e-6)
