"""The models behave as Keras users expect (issue 12): global seeds, dtype policies, ``model.export``,
``summary()``, your own encoder and decoder networks, and the measured kernel initializer (issue 11).
"""

import io
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae.layers.bodies import DEFAULT_KERNEL_INITIALIZER, DecoderBody, EncoderBody
from keras_ae.layers.heads import (BernoulliHead, ContinuousBernoulliHead, GaussianHead, ParamProjection,
                                   RelaxedCategoricalHead)
from keras_ae.models import VAE, Autoencoder


@pytest.fixture(scope="module")
def bits():
    return (np.random.default_rng(0).random((64, 64)) < 0.5).astype("float32")


def _train_and_sample(bits, seed):
    keras.utils.set_random_seed(seed)
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(16,))  # no seed argument
    model.compile()
    model.fit(bits, batch_size=32, epochs=2, verbose=0)
    return model.seed, model.get_weights(), np.asarray(model.sample(3))


def test_set_random_seed_makes_training_and_sampling_repeatable(bits):
    seed_a, weights_a, samples_a = _train_and_sample(bits, 7)
    seed_b, weights_b, samples_b = _train_and_sample(bits, 7)
    seed_c, weights_c, _ = _train_and_sample(bits, 8)
    assert seed_a == seed_b != seed_c
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(samples_a, samples_b)
    assert any(not np.array_equal(a, c) for a, c in zip(weights_a, weights_c))


def test_a_mixed_float16_model_computes_in_float16_inside_and_reloads_with_its_policy(tmp_path, bits):
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(16,), seed=0, dtype="mixed_float16")
    model.compile()
    model.fit(bits, batch_size=32, epochs=1, verbose=0)
    dense = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dense)]
    assert dense and all(layer.dtype_policy.name == "mixed_float16" for layer in dense)
    assert all(layer.kernel.dtype == "float32" for layer in dense)  # variables stay float32
    assert model.encoder_body(bits[:2]).dtype == tf.float16
    assert VAE.from_config(model.get_config()).dtype_policy.name == "mixed_float16"
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.dtype_policy.name == "mixed_float16"
    assert all(layer.dtype_policy.name == "mixed_float16"
               for layer in loaded._flatten_layers() if isinstance(layer, keras.layers.Dense))
    np.testing.assert_allclose(np.asarray(loaded.encode(bits)), np.asarray(model.encode(bits)), rtol=1e-6)


def test_keras_model_export_writes_a_saved_model_whose_signatures_serve(tmp_path, bits):
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(16,), seed=0)  # never called before export
    path = str(tmp_path / "sm")
    assert model.export(path) == path
    served = tf.saved_model.load(path)
    assert {"serving_default", "encode", "decode", "reconstruct", "score", "sample"} <= set(served.signatures)
    out = served.signatures["serving_default"](x=tf.constant(bits))["reconstruction"].numpy()
    np.testing.assert_allclose(out, np.asarray(model.reconstruct(bits)), atol=1e-6)
    with pytest.raises(FileExistsError, match="exists; export to a new path"):
        model.export(path)
    with pytest.raises(ValueError, match="format must be 'tf_saved_model' or 'litert', got 'onnx'"):
        model.export(str(tmp_path / "other"), format="onnx")
    with pytest.raises(ValueError, match="takes no input_signature"):
        model.export(str(tmp_path / "other"), input_signature=[tf.TensorSpec((None, 64))])
    assert not os.path.exists(tmp_path / "other")


def test_keras_model_export_to_litert(tmp_path, bits):
    from keras_ae.serving import litert_interpreter

    model = Autoencoder(input_shape=(64,), latent_dim=4, hidden_units=(16,), seed=0)
    path = str(tmp_path / "ae.tflite")
    model.export(path, format="litert")
    runner = litert_interpreter(model_path=path).get_signature_runner("reconstruct")
    out = runner(x=bits[:4])["reconstruction"]
    np.testing.assert_allclose(out, np.asarray(model.reconstruct(bits[:4])), atol=1e-5)


def test_summary_shows_an_unknown_batch_size():
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(16,), seed=0)
    model.build()
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    text = "\n".join(lines)
    assert "(None, 16)" in text and "(2, 16)" not in text


def test_your_own_encoder_and_decoder_networks_train_save_and_reload(tmp_path, bits):
    encoder = keras.Sequential([keras.layers.Dense(32, activation="relu"), keras.layers.Dense(24, activation="relu")])
    decoder = keras.Sequential([keras.layers.Dense(40, activation="tanh")])
    model = VAE(input_shape=(64,), latent_dim=4, encoder=encoder, decoder=decoder, seed=1)
    assert model.encoder_body is encoder and model.decoder_body is decoder
    model.compile()
    history = model.fit(bits, batch_size=32, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert encoder.layers[0].kernel.shape == (64, 32)
    path = str(tmp_path / "custom.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.encode(bits)), np.asarray(model.encode(bits)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded.reconstruct(bits)), np.asarray(model.reconstruct(bits)), atol=1e-6)
    with pytest.raises(ValueError, match="encoder must be a Keras layer or model .* got str"):
        VAE(input_shape=(64,), latent_dim=4, encoder="mlp")


def test_default_kernel_initializer_is_pytorchs_uniform_on_one_over_sqrt_fan_in():
    keras.utils.set_random_seed(0)
    model = VAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), seed=0)
    model.build()
    kernels = [layer.kernel.numpy() for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dense)]
    assert len(kernels) == 4  # encoder 784-512, head 512-32, decoder 16-512, head 512-784
    for kernel in kernels:
        bound = 1.0 / math.sqrt(kernel.shape[0])
        assert np.abs(kernel).max() <= bound
        # uniform on [-b, b]: standard deviation b / sqrt(3), estimated from n draws with
        # relative standard error about sqrt(0.8 / (4 n)) (kurtosis 1.8); 6 of them allowed.
        tolerance = 6 * math.sqrt(0.8 / (4 * kernel.size))
        assert abs(kernel.std() / (bound / math.sqrt(3)) - 1) < tolerance
    assert model.get_config()["kernel_initializer"]["class_name"] == DEFAULT_KERNEL_INITIALIZER["class_name"]


def test_kernel_initializer_argument_is_used_and_saved():
    model = Autoencoder(input_shape=(64,), latent_dim=4, hidden_units=(16,), seed=0, kernel_initializer="zeros")
    model.build()
    assert all(not layer.kernel.numpy().any()
               for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dense))
    assert Autoencoder.from_config(model.get_config()).kernel_initializer["class_name"] == "Zeros"
    with pytest.raises(ValueError, match="kernel_initializer must be a Keras initializer, got 'no-such'"):
        Autoencoder(input_shape=(64,), latent_dim=4, kernel_initializer="no-such")


@pytest.mark.parametrize("make", [
    lambda: EncoderBody((8, 8, 1), "conv", (16,), (4, 8)),
    lambda: DecoderBody((8, 8, 1), "conv", (16,), (4, 8)),
    lambda: GaussianHead((3,), scale="global", min_scale=0.01),
    lambda: BernoulliHead((8, 8, 1)),
    lambda: ContinuousBernoulliHead((5,)),
    lambda: RelaxedCategoricalHead(3, 4, temperature=0.5),
    lambda: ParamProjection((5,), 2),
])
def test_public_layers_are_registered_and_round_trip_through_their_config(make):
    layer = make()
    name = keras.saving.get_registered_name(type(layer))
    assert name.startswith("keras_ae>")
    assert keras.saving.get_registered_object(name) is type(layer)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()


def test_from_preset_builds_a_recipe_and_loads_a_trained_model(tmp_path):
    from keras_ae.models import IWAE, BaseAutoencoder

    model = VAE.from_preset("vae-mnist")
    assert (model.data_shape, model.hidden_units, model.latent_dim) == ((28, 28, 1), (512,), 16)
    assert isinstance(model.optimizer, keras.optimizers.Adam) and model.jit_compile and model.steps_per_execution == 10
    small = BaseAutoencoder.from_preset("ae-digits", latent_dim=3, seed=1)
    assert type(small).__name__ == "Autoencoder" and small.latent_dim == 3 and small.seed == 1
    path = str(tmp_path / "ae.keras")
    small.save(path)
    loaded = BaseAutoencoder.from_preset(path)
    np.testing.assert_array_equal(np.asarray(loaded.encode(np.zeros((1, 8, 8, 1)))),
                                  np.asarray(small.encode(np.zeros((1, 8, 8, 1)))))
    with pytest.raises(ValueError, match="unknown preset 'nope'.*presets: .*vae-digits"):
        VAE.from_preset("nope")
    with pytest.raises(ValueError, match="preset 'vae-digits' is a VAE, not a IWAE"):
        IWAE.from_preset("vae-digits")
    with pytest.raises(ValueError, match="holds a Autoencoder, not a VAE"):
        VAE.from_preset(path)
    with pytest.raises(ValueError, match="does not exist"):
        VAE.from_preset(str(tmp_path))  # a directory without model.keras


def test_a_family_keeps_its_own_measured_default_initializer():
    from keras_ae.models import SparseAutoencoder

    sparse = SparseAutoencoder(input_shape=(64,), latent_dim=8, hidden_units=(16,), seed=0)
    assert sparse.kernel_initializer["class_name"] == "GlorotUniform"
    plain = Autoencoder(input_shape=(64,), latent_dim=8, hidden_units=(16,), seed=0)
    assert plain.kernel_initializer["class_name"] == DEFAULT_KERNEL_INITIALIZER["class_name"]
    chosen = SparseAutoencoder(input_shape=(64,), latent_dim=8, seed=0, kernel_initializer="he_normal")
    assert chosen.kernel_initializer["class_name"] == "HeNormal"


def test_a_bernoulli_autoencoder_keeps_glorot_unless_told():
    bce = Autoencoder(input_shape=(64,), latent_dim=8, hidden_units=(16,), reconstruction="bernoulli", seed=0)
    assert bce.kernel_initializer["class_name"] == "GlorotUniform"
    assert Autoencoder.from_config(bce.get_config()).kernel_initializer["class_name"] == "GlorotUniform"
    told = Autoencoder(input_shape=(64,), latent_dim=8, reconstruction="bernoulli", kernel_initializer="ones")
    assert told.kernel_initializer["class_name"] == "Ones"
