"""``model.compile``'s measured defaults (issue 11): Adam, XLA where it pays, several steps per call.

The user's explicit choices are used exactly; ``loss``/``metrics`` are refused, never ignored.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae.models import VAE, Autoencoder, ContractiveAutoencoder


def test_compile_with_no_argument_is_adam_1e3_with_the_fast_settings():
    model = VAE(input_shape=(28, 28, 1), latent_dim=4, hidden_units=(512,), seed=0)
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert np.isclose(float(model.optimizer.learning_rate.numpy()), 1e-3)
    assert model.jit_compile is True  # an MLP with 512 units: XLA measured faster on the CPU
    assert model.steps_per_execution == model.AUTO_STEPS_PER_EXECUTION == 10


@pytest.mark.parametrize("make, jit", [
    (lambda: VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0), False),  # digits-size MLP
    (lambda: VAE(input_shape=(8, 8, 1), latent_dim=4, architecture="conv", hidden_units=(512,), seed=0), False),
    (lambda: ContractiveAutoencoder(input_shape=(64,), latent_dim=4, hidden_units=(512,), seed=0), False),
    (lambda: Autoencoder(input_shape=(784,), latent_dim=4, hidden_units=(512,), seed=0), True),
])
def test_auto_jit_follows_the_measured_rule_and_supports_xla(make, jit):
    model = make()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert model.jit_compile is jit
    assert model.steps_per_execution == 10


def test_explicit_choices_are_used_exactly():
    model = VAE(input_shape=(28, 28, 1), latent_dim=4, hidden_units=(512,), seed=0)
    model.compile(optimizer="sgd", jit_compile=False, steps_per_execution=1)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.jit_compile is False and model.steps_per_execution == 1
    small = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
    small.compile(jit_compile=True, steps_per_execution=3)
    assert small.jit_compile is True and small.steps_per_execution == 3


def test_under_two_replicas_auto_is_one_step_without_xla():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = VAE(input_shape=(784,), latent_dim=4, hidden_units=(512,), seed=0)
        model.compile()
    assert model.jit_compile is False and model.steps_per_execution == 1


@pytest.mark.parametrize("argument, value", [("loss", "mse"), ("metrics", ["mae"]), ("loss_weights", [1.0]),
                                             ("weighted_metrics", ["mae"])])
def test_loss_and_metrics_are_refused_with_a_clear_error(argument, value):
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
    with pytest.raises(ValueError, match=rf"does not take {argument}=.*objective is the model's own"):
        model.compile(**{argument: value})


@pytest.mark.parametrize("argument, value, message", [
    ("steps_per_execution", 0, "steps_per_execution must be 'auto' or an integer >= 1, got 0"),
    ("steps_per_execution", 2.5, "steps_per_execution must be 'auto' or an integer >= 1, got 2.5"),
    ("jit_compile", "yes", "jit_compile must be 'auto', True or False, got 'yes'"),
])
def test_bad_speed_settings_are_named(argument, value, message):
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
    with pytest.raises(ValueError, match=message):
        model.compile(**{argument: value})


def test_the_compile_config_round_trips_the_resolved_settings(tmp_path, binary_digits):
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
    model.compile()
    model.fit(binary_digits[0][:64].reshape(64, -1), batch_size=32, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert loaded.steps_per_execution == 10 and loaded.jit_compile is False
