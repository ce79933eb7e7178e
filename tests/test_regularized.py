"""Regularized autoencoders (Ghosh et al. 2020): RAE, constant-variance VAE, ex-post GMM sampling."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from keras_ae import objectives, samplers
from keras_ae.models import RAE, ConstantVarianceVAE
from keras_ae.models.regularized.regularized import DensityNotFittedError

TINY = dict(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), reconstruction="bernoulli", seed=3)


@pytest.fixture(scope="module")
def fitted_rae(digits):
    x_train = digits[0][:400]
    model = RAE(decoder_regularizer="gradient_penalty", decoder_weight=1e-2, density_components=4, **TINY)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x_train, epochs=3, batch_size=100, verbose=0)
    model.fit_density(x_train, seed=0)
    return model, history.history, x_train


def test_training_logs_every_term_and_is_finite(fitted_rae):
    _, history, _ = fitted_rae
    assert set(history) == {"loss", "reconstruction", "code_penalty", "decoder_penalty"}
    assert all(np.isfinite(v).all() for v in history.values())
    assert history["loss"][-1] < history["loss"][0]


def test_samples_have_the_data_shape_and_range_and_follow_the_seed(fitted_rae):
    model, _, _ = fitted_rae
    a = model.sample(16, seed=1).numpy()
    assert a.shape == (16, 8, 8, 1)
    assert np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, model.sample(16, seed=1).numpy())
    assert not np.array_equal(a, model.sample(16, seed=2).numpy())
    assert model.sample(0, seed=1).shape == (0, 8, 8, 1)


def test_sampled_codes_follow_the_fitted_mixture(fitted_rae):
    model, _, x_train = fitted_rae
    gmm = model.fit_density(x_train, seed=0)  # same fit, returned for reference
    codes = model.sample_codes(20000, seed=0).numpy()
    mixture_mean = gmm.weights_ @ gmm.means_
    spread = np.sqrt(np.diag(np.cov(codes.T)) / len(codes))
    np.testing.assert_array_less(np.abs(codes.mean(axis=0) - mixture_mean), 5 * spread)


def test_inverse_cdf_picks_components_and_skips_unused_slots():
    model = RAE(density_components=3, **TINY)
    # Slot 0 is unused (weight 0), as fit_density stores fewer components than slots.
    model.density_weights.assign([0.0, 0.25, 0.75])
    model.density_means.assign(np.array([[9.0] * 3, [1.0] * 3, [2.0] * 3], np.float32))
    model.density_cholesky.assign(np.zeros((3, 3, 3), np.float32))
    u = tf.constant([0.0, 0.1, 0.2499, 0.25, 0.9, 0.999999], tf.float32)
    z = model.density_codes(u, tf.zeros([6, 3])).numpy()
    np.testing.assert_array_equal(z[:, 0], [1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    # The noise goes through the Cholesky factor: z = mu + L eps.
    cholesky = np.tril(np.arange(1.0, 10.0).reshape(3, 3)).astype(np.float32)
    model.density_cholesky.assign(np.stack([cholesky] * 3))
    eps = np.array([[1.0, -2.0, 0.5]], np.float32)
    z = model.density_codes(tf.constant([0.5]), tf.constant(eps)).numpy()
    np.testing.assert_allclose(z[0], 2.0 + cholesky @ eps[0], rtol=1e-6)


def test_export_sampler_runs_in_a_graph_with_fresh_noise(fitted_rae):
    model, _, _ = fitted_rae
    endpoint = model.export_endpoints()["sample"]
    sampler = tf.function(lambda n: endpoint.fn(n, tf.constant(1.0))["x"], input_signature=[tf.TensorSpec((), tf.int32)])
    a, b = sampler(tf.constant(5)).numpy(), sampler(tf.constant(5)).numpy()
    assert a.shape == b.shape == (5, 8, 8, 1)
    assert np.isfinite(a).all() and 0.0 <= a.min() and a.max() <= 1.0
    assert not np.array_equal(a, b)
    ops = {op.type for op in sampler.get_concrete_function().graph.get_operations()}
    assert not any("Stateless" in op for op in ops), ops


def test_export_sampler_converts_to_tflite_builtins(fitted_rae):
    pytest.importorskip("ai_edge_litert.interpreter")
    from keras_ae import serving

    model, _, _ = fitted_rae
    blob, note, skipped = serving.convert_tflite(model)  # builtin ops only, or it raises
    assert set(skipped) == set()  # sample_seeded converts too (counter-based noise)
    assert note == "builtins"
    run = serving.tflite_runner(serving.litert_interpreter(model_content=blob))
    check = serving.check_samples(model, lambda n: run("sample", {"n": np.array(n, np.int32),
                                                                   "temperature": np.array(1.0, np.float32)})["x"])
    assert check["shape_ok"] and check["finite"] and check["in_range"] and check["fresh"], check


def test_sample_before_fit_density_raises():
    model = RAE(**TINY)
    with pytest.raises(DensityNotFittedError, match="fit_density"):
        model.sample(2, seed=0)
    with pytest.raises(RuntimeError, match="fit_density"):
        model._sample(2, samplers.sampling_seed(0))


def test_save_load_keeps_the_mixture(fitted_rae, tmp_path):
    model, _, x_train = fitted_rae
    path = str(tmp_path / "rae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, RAE)
    for name in ("density_weights", "density_means", "density_cholesky", "density_fitted"):
        np.testing.assert_array_equal(getattr(model, name).numpy(), getattr(loaded, name).numpy())
    np.testing.assert_allclose(model.sample(8, seed=5).numpy(), loaded.sample(8, seed=5).numpy(), atol=1e-6)
    np.testing.assert_allclose(model.encode(x_train[:4]).numpy(), loaded.encode(x_train[:4]).numpy(), atol=1e-6)


def test_config_round_trip_has_every_argument():
    model = ConstantVarianceVAE(noise_scale=0.3, beta=0.5, density_components=7, **TINY)
    config = model.get_config()
    for key, value in dict(noise_scale=0.3, beta=0.5, density_components=7, reconstruction="bernoulli").items():
        assert config[key] == value
    assert ConstantVarianceVAE.from_config(config).get_config() == config
    rae = RAE(beta=0.2, decoder_regularizer="none", decoder_weight=0.3, **TINY)
    assert RAE.from_config(rae.get_config()).get_config() == rae.get_config()


def test_gradient_penalty_equals_the_jacobian_computed_by_hand(rng):
    model = RAE(input_shape=(5,), latent_dim=2, hidden_units=(3,), activation="tanh", reconstruction="bernoulli",
                decoder_regularizer="gradient_penalty", decoder_weight=1.0, seed=0)
    model.build()
    x = rng.uniform(size=(4, 5)).astype("float32")
    z = model.encode(x).numpy().astype(np.float64)
    (k1, b1), (k2, b2) = [[w.numpy().astype(np.float64) for w in layer.trainable_weights]
                          for layer in (model.decoder_body, model.output_layer)]
    h = np.tanh(z @ k1 + b1)
    out = 1.0 / (1.0 + np.exp(-(h @ k2 + b2)))
    expected = []
    for i in range(len(z)):
        # d sigmoid(tanh(z k1 + b1) k2 + b2) / dz = diag(o (1 - o)) k2^T diag(1 - h^2) k1^T: [5, 2]
        jac = np.diag(out[i] * (1 - out[i])) @ k2.T @ np.diag(1 - h[i] ** 2) @ k1.T
        expected.append(np.sum(jac ** 2))
    terms = model.loss_terms(tf.constant(x), training=False)
    np.testing.assert_allclose(terms["decoder_penalty"].numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(terms["code_penalty"].numpy(), 0.5 * np.sum(z ** 2, axis=1), rtol=1e-5)
    # The forward-mode helper agrees with the reverse-mode Jacobian of the contractive penalty.
    decoder = lambda c: model.to_data_space(model.decoder_output(c))  # noqa: E731
    np.testing.assert_allclose(objectives.jacobian_frobenius_sq(decoder, tf.constant(z, tf.float32)).numpy(),
                               expected, rtol=1e-4)


def test_l2_decoder_penalty_is_the_decoder_weight_norm():
    model = RAE(decoder_regularizer="l2", decoder_weight=1e-3, **TINY)
    model.build()
    x = tf.zeros((2, 8, 8, 1))
    expected = sum(np.sum(w.numpy() ** 2) for w in model.decoder_body.trainable_weights
                   + model.output_layer.trainable_weights)
    np.testing.assert_allclose(model.loss_terms(x)["decoder_penalty"].numpy(), [expected] * 2, rtol=1e-5)
    assert model.loss_weights() == {"reconstruction": 1.0, "code_penalty": 1e-2, "decoder_penalty": 1e-3}
    assert "decoder_penalty" not in RAE(decoder_regularizer="none", **TINY).loss_weights()


def test_constant_variance_vae_kl_and_noise(digits):
    model = ConstantVarianceVAE(noise_scale=0.2, **TINY)
    model.build()
    x = tf.constant(digits[0][:6])
    mu = model.encode(x).numpy()
    s2, d = 0.2 ** 2, 3
    expected_kl = 0.5 * np.sum(mu ** 2, axis=1) + 0.5 * d * (s2 - 1 - np.log(s2))
    eval_terms = model.loss_terms(x, training=False)
    np.testing.assert_allclose(eval_terms["kl"].numpy(), expected_kl, rtol=1e-5)
    # Evaluation uses the mean (deterministic, equal to score); training adds the code noise.
    np.testing.assert_allclose(eval_terms["reconstruction"].numpy(), model.score(x).numpy(), rtol=1e-6)
    train_terms = model.loss_terms(x, training=True)
    assert not np.allclose(train_terms["reconstruction"].numpy(), eval_terms["reconstruction"].numpy())
    np.testing.assert_array_equal(train_terms["reconstruction"].numpy(),
                                  model.loss_terms(x, training=True)["reconstruction"].numpy())


def test_constant_variance_vae_trains_and_samples(digits):
    x_train = digits[0][:200]
    model = ConstantVarianceVAE(density_components=2, **TINY)
    model.compile(optimizer="adam")
    history = model.fit(x_train, epochs=1, batch_size=100, verbose=0).history
    assert set(history) == {"loss", "reconstruction", "kl"} and np.isfinite(history["loss"]).all()
    model.fit_density(tf.data.Dataset.from_tensor_slices(x_train).batch(64), num_components=1)
    np.testing.assert_array_equal(model.density_weights.numpy(), [0.0, 1.0])
    assert model.sample(3, seed=0).shape == (3, 8, 8, 1)


@pytest.mark.parametrize("cls, kwargs, match", [
    (RAE, dict(beta=-1), "beta must be >= 0, got -1"),
    (RAE, dict(decoder_regularizer="spectral"), "decoder_regularizer must be one of .* got 'spectral'"),
    (RAE, dict(decoder_weight=-0.5), "decoder_weight must be >= 0, got -0.5"),
    (RAE, dict(density_components=0), "density_components must be an integer >= 1, got 0"),
    (RAE, dict(latent_dim=0), "latent_dim must be an integer >= 1, got 0"),
    (ConstantVarianceVAE, dict(noise_scale=0.0), "noise_scale must be > 0, got 0.0"),
    (ConstantVarianceVAE, dict(beta=float("nan")), "beta must be >= 0, got nan"),
])
def test_bad_arguments_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**{**TINY, **kwargs})


def test_bad_fit_density_arguments(digits):
    model = RAE(density_components=3, **TINY)
    with pytest.raises(ValueError, match="num_components must be an integer in \\[1, density_components=3\\], got 4"):
        model.fit_density(digits[0][:50], num_components=4)
    with pytest.raises(ValueError, match="at least num_components=3 examples, got 2"):
        model.fit_density(digits[0][:2])
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        model.fit_density(digits[0][:50] * 2)
    with pytest.raises(ValueError, match="n must be an integer >= 0, got -1"):
        model.fit_density(digits[0][:50])
        model.sample(-1)
