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


@pytest.mark.parametrize("full_steps, expected", [(40, 10), (39, 13), (31, 31), (47, 10), (3, 3), (60, 10)])
def test_auto_steps_per_execution_divides_the_epoch_near_ten(full_steps, expected):
    from keras_ae.models.steps import auto_steps_per_execution

    assert auto_steps_per_execution(full_steps, 10) == expected


@pytest.mark.parametrize("xla_pays, full_steps, partial, epochs, jit", [
    (True, 40, False, 30, False),   # the reference VAE, 30 epochs: 1,200 steps < 2,000 for one program
    (True, 40, False, 100, True),   # 100 epochs: 4,000 steps
    (True, 40, True, 60, False),    # a smaller last batch is a second program: 2,460 < 4,000
    (True, 47, False, 60, False),   # 47 = 4 calls of 10 + one of 7: two programs, 2,820 < 4,000
    (False, 40, False, 1000, False),  # a model XLA does not speed up never gets it
])
def test_planned_speed_pays_for_every_compiled_program(xla_pays, full_steps, partial, epochs, jit):
    from keras_ae.models.steps import planned_speed

    assert planned_speed(xla_pays, full_steps, partial, epochs, 10, 2000)[0] is jit


def test_fit_decides_auto_settings_with_the_planned_work_and_keeps_explicit_ones():
    x = np.random.default_rng(0).integers(0, 2, (60, 784)).astype("float32")
    model = VAE(input_shape=(784,), latent_dim=4, hidden_units=(512,), seed=0)
    model.compile()
    assert model.jit_compile is True  # the model's own answer, before fit knows the work
    model.fit(x, batch_size=20, epochs=1, verbose=0)  # 3 steps cannot pay for a compilation
    assert model.jit_compile is False and model.steps_per_execution == 3
    first = model.train_function
    model.fit(x, batch_size=20, epochs=2, verbose=0)  # the same decision: the function is kept
    assert model.train_function is first
    model._plan_speed(x, {"batch_size": 20, "epochs": 10 * model.XLA_BREAK_EVEN_STEPS})
    assert model.jit_compile is True and model.train_function is None  # a long fit: XLA, rebuilt
    explicit = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
    explicit.compile(jit_compile=True)
    explicit.fit(x[:, :64], batch_size=20, epochs=1, verbose=0)
    assert explicit.jit_compile is True and explicit.steps_per_execution == 3  # only spe was "auto"
    assert explicit.train_function.fused_steps == 3


def test_fit_checks_its_validation_data_once_not_every_epoch(monkeypatch):
    x = np.random.default_rng(0).integers(0, 2, (40, 64)).astype("float32")
    model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
    model.compile()
    checked = []
    original = type(model)._checked_dataset
    monkeypatch.setattr(type(model), "_checked_dataset", lambda self, ds, name="x": checked.append(name)
                        or original(self, ds, name))
    ds = tf.data.Dataset.from_tensor_slices(x).batch(20)
    history = model.fit(ds, validation_data=ds, epochs=3, verbose=0)
    assert checked == ["x", "validation_data"]  # before the epochs; each epoch's validation reads fit's checked copy
    assert len(history.history["val_loss"]) == 3


def test_array_epochs_give_every_example_once_an_epoch_reshuffled_and_repeatable():
    from keras_ae.models.steps import array_epochs

    x = np.arange(10, dtype="float32")
    seed = tf.constant([3, 4], tf.int64)
    it = iter(array_epochs({"x": x, "w": 2 * x}, 4, seed))
    epochs = [[next(it) for _ in range(3)] for _ in range(3)]  # 4 + 4 + 2 examples an epoch
    orders = [np.concatenate([b["x"].numpy() for b in epoch]) for epoch in epochs]
    assert all(sorted(order) == list(x) for order in orders)
    assert [b["x"].shape[0] for b in epochs[0]] == [4, 4, 2]
    assert len({tuple(order) for order in orders}) == 3  # reshuffled every epoch
    assert all(np.array_equal(b["w"], 2 * b["x"]) for epoch in epochs for b in epoch)  # entries stay together
    again = iter(array_epochs({"x": x, "w": 2 * x}, 4, seed))
    assert np.array_equal(np.concatenate([next(again)["x"].numpy() for _ in range(3)]), orders[0])
    in_order = iter(array_epochs(x, 4))
    assert np.array_equal(np.concatenate([next(in_order).numpy() for _ in range(6)]), np.concatenate([x, x]))


def test_fit_on_arrays_trains_on_the_batches_keras_makes():
    x = np.random.default_rng(0).integers(0, 2, (50, 64)).astype("float32")
    weights, start = [], None
    for data in (x, tf.data.Dataset.from_tensor_slices(x).batch(20)):  # 20 + 20 + 10, in order
        keras.utils.set_random_seed(0)
        model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
        model.build()
        start = model.get_weights() if start is None else start
        model.set_weights(start)
        model.compile(jit_compile=False, steps_per_execution=3)
        model.fit(data, batch_size=20 if data is x else None, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
