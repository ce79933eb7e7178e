"""Gumbel-softmax utilities, the categorical VAE and the annealing callbacks."""

import numpy as np
import pytest
import keras
import tensorflow as tf

from keras_ae import callbacks, objectives
from keras_ae.layers.heads import RelaxedCategoricalHead, gumbel_noise, gumbel_softmax, one_hot_argmax
from keras_ae.models import VAE, CategoricalVAE


def tiny_categorical(**kwargs):
    args = dict(input_shape=(8, 8, 1), num_variables=3, num_classes=4, hidden_units=(32,), seed=5)
    args.update(kwargs)
    return CategoricalVAE(**args)


@pytest.fixture(scope="module")
def binary_digits():
    from keras_ae import data

    return data.load_arrays("digits", "test", binarize="static", seed=0)[0]


# -- Gumbel-softmax ----------------------------------------------------------------------------
LOGITS = tf.constant(np.random.default_rng(0).normal(size=(2000, 5)).astype("float32"))


def test_gumbel_softmax_samples_lie_on_the_simplex():
    y = gumbel_softmax(LOGITS, 0.7, seed=tf.constant([1, 2])).numpy()
    assert np.all(y >= 0) and np.all(y <= 1)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)


def test_gumbel_softmax_approaches_one_hot_as_temperature_falls():
    seed = tf.constant([3, 4])
    # distance to the nearest vertex, averaged: shrinks monotonically with the temperature
    gaps = [float(np.mean(1.0 - gumbel_softmax(LOGITS, t, seed=seed).numpy().max(-1))) for t in (5.0, 1.0, 0.3, 0.05, 0.005)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 0.01
    # at every temperature the argmax is the Gumbel-max sample of the same noise
    for t in (5.0, 0.05):
        np.testing.assert_array_equal(gumbel_softmax(LOGITS, t, seed=seed).numpy().argmax(-1),
                                      (LOGITS + gumbel_noise(tf.shape(LOGITS), seed)).numpy().argmax(-1))


def test_gumbel_max_frequencies_match_softmax():
    logits = tf.constant([[1.0, 0.0, -1.0, 2.0]])
    n = 20000
    y = one_hot_argmax(tf.broadcast_to(logits, [n, 4]) + gumbel_noise([n, 4], tf.constant([5, 6]))).numpy()
    p = tf.nn.softmax(logits).numpy()[0]
    freq = y.mean(0)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) < 4 * se), (freq, p)


def test_hard_samples_are_exactly_one_hot_with_relaxed_gradients():
    logits = tf.Variable(LOGITS[:50])
    with tf.GradientTape() as tape:
        y = gumbel_softmax(logits, 0.5, seed=tf.constant([7, 8]), hard=True)
        loss = tf.reduce_sum(y * tf.range(5, dtype=tf.float32))
    values = y.numpy()
    assert set(np.unique(values)) <= {0.0, 1.0}
    np.testing.assert_array_equal(values.sum(-1), 1.0)
    grad = tape.gradient(loss, logits)
    assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0


def test_relaxed_head_and_bad_temperature():
    head = RelaxedCategoricalHead(3, 4, temperature=0.5)
    dist = head(tf.zeros((2, 6)))
    y = dist.sample(seed=tf.constant([1, 1])).numpy()
    assert y.shape == (2, 3, 4)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match=f"temperature must be > 0, got {bad}"):
            gumbel_softmax(LOGITS, bad)
        with pytest.raises(ValueError, match="temperature must be > 0"):
            tiny_categorical(temperature=bad)


# -- the model -----------------------------------------------------------------------------------
def test_codes_are_one_hot_and_deterministic(binary_digits):
    model = tiny_categorical()
    x = binary_digits[:10]
    code = model.encode(x).numpy().reshape(10, 3, 4)
    np.testing.assert_array_equal(code.sum(-1), 1.0)
    np.testing.assert_array_equal(model.encode(x).numpy(), model.encode(x).numpy())
    np.testing.assert_array_equal(model.score(x).numpy(), model.score(x).numpy())
    samples = model.sample(4, seed=2)
    np.testing.assert_array_equal(samples.numpy(), model.sample(4, seed=2).numpy())
    assert samples.shape == (4, 8, 8, 1)
    assert model.export_endpoints()["sample"].fn(tf.constant(3), tf.constant(1.0))["x"].shape == (3, 8, 8, 1)
    # evaluation codes are exact one-hot samples, training codes relaxed
    q = model.posterior(x)
    hard = model.draw_codes(q, 2, tf.constant([1, 2]), training=False).numpy().reshape(2, 10, 3, 4)
    soft = model.draw_codes(q, 2, tf.constant([1, 2]), training=True).numpy().reshape(2, 10, 3, 4)
    assert set(np.unique(hard)) <= {0.0, 1.0}
    assert not set(np.unique(soft)) <= {0.0, 1.0}
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-5)


def test_kl_to_uniform_prior_is_exact(binary_digits):
    model = tiny_categorical()
    q = model.posterior(binary_digits[:6])
    probs = tf.nn.softmax(model.posterior_part.logits(q)).numpy()  # [B, N, K]
    expected = np.sum(probs * np.log(probs * 4), axis=(1, 2))
    np.testing.assert_allclose(objectives.kl_divergence(q, model.prior()).numpy(), expected, rtol=1e-4, atol=1e-6)


def test_log_likelihood_is_exact_for_a_tiny_latent(binary_digits):
    # one variable of four classes: log p(x) = logsumexp_y [log p(x|y) - log 4], enumerable
    model = tiny_categorical(num_variables=1)
    x = tf.convert_to_tensor(binary_digits[:5])
    ys = tf.eye(4)
    exact = tf.reduce_logsumexp(tf.stack([model.likelihood(tf.tile(y[None], [5, 1])).log_prob(x) for y in ys]), 0)
    exact -= np.log(4.0)
    estimate = model.log_likelihood(x, num_samples=4000, seed=1).numpy()
    # importance sampling with q: the estimate is a consistent lower bound; with 4000 samples of a
    # 4-state posterior its error is far below 0.05 nats
    np.testing.assert_allclose(estimate, exact.numpy(), atol=0.05)


def test_fit_with_annealing_and_save_load(tmp_path, binary_digits):
    model = tiny_categorical(straight_through=True)
    model.compile(optimizer="adam")
    anneal = callbacks.TemperatureAnnealing(initial=1.0, minimum=0.5, rate=0.05)
    history = model.fit(binary_digits[:128], epochs=2, batch_size=32, verbose=0, callbacks=[anneal]).history
    assert np.all(np.isfinite(history["loss"]))
    # 8 steps: the last batch saw exp(-0.05 * 7)
    assert float(model.temperature.numpy()) == pytest.approx(np.exp(-0.05 * 7), rel=1e-5)
    assert history["temperature"][-1] == pytest.approx(np.exp(-0.05 * 7), rel=1e-5)
    path = str(tmp_path / "cat.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = binary_digits[:5]
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.encode(x).numpy(), model.encode(x).numpy())
    np.testing.assert_allclose(loaded.score(x).numpy(), model.score(x).numpy(), rtol=1e-6)
    assert float(loaded.temperature.numpy()) == pytest.approx(float(model.temperature.numpy()))


@pytest.mark.parametrize("args, message", [
    (dict(num_variables=0), "num_variables must be an integer >= 1, got 0"),
    (dict(num_classes=1), "num_classes must be an integer >= 2, got 1"),
    (dict(beta=-2.0), "beta must be >= 0, got -2.0"),
    (dict(num_samples=0), "num_samples must be an integer >= 1, got 0"),
])
def test_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        tiny_categorical(**args)


def test_bad_data():
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        tiny_categorical().encode(np.full((1, 8, 8, 1), -0.5, "float32"))


# -- callbacks -------------------------------------------------------------------------------
def test_kl_warmup_schedules():
    linear = callbacks.KLWarmup(epochs=4)
    assert [linear.value(t) for t in (0, 1, 2, 4, 9)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    cyclical = callbacks.KLWarmup(epochs=4, schedule="cyclical", ratio=0.5, cycles=2)
    assert [cyclical.value(t) for t in (0, 1, 2, 3, 4, 5, 8.5)] == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0]
    temperature = callbacks.TemperatureAnnealing(initial=2.0, minimum=0.5, rate=0.1, every=10)
    assert temperature.value(0, 9) == 2.0 and temperature.value(0, 10) == pytest.approx(2 * np.exp(-1.0))
    assert temperature.value(0, 10**6) == 0.5


def test_kl_warmup_sets_the_model_weight_per_batch(binary_digits):
    model = VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,), seed=0)
    model.compile(optimizer="adam")
    warmup = callbacks.KLWarmup(epochs=2)
    history = model.fit(binary_digits[:64], epochs=1, batch_size=16, verbose=0, callbacks=[warmup]).history
    # 4 batches in epoch 0 of a 2-epoch warm-up: the last saw 0.5 * 3/4
    assert history["kl_weight"][0] == pytest.approx(0.375)
    with pytest.raises(ValueError, match="does not declare the schedulable variable 'temperature'"):
        model.fit(binary_digits[:16], epochs=1, verbose=0, callbacks=[callbacks.TemperatureAnnealing()])


@pytest.mark.parametrize("name, kwargs, message", [
    ("KLWarmup", {"epochs": 0}, "epochs must be > 0"),
    ("KLWarmup", {"schedule": "cosine"}, "schedule must be one of"),
    ("KLWarmup", {"ratio": 1.5}, "ratio must be > 0 and <= 1, got 1.5"),
    ("TemperatureAnnealing", {"minimum": 0}, "minimum must be > 0"),
    ("TemperatureAnnealing", {"initial": -1}, "initial must be > 0"),
])
def test_callbacks_by_name_and_bad_arguments(name, kwargs, message):
    assert isinstance(getattr(callbacks, name)(), keras.callbacks.Callback)
    with pytest.raises(ValueError, match=message):
        getattr(callbacks, name)(**kwargs)


@pytest.mark.parametrize("make_callback,variable,model_class", [
    (lambda: callbacks.KLWarmup(epochs=3), "kl_weight", "VAE"),
    (lambda: callbacks.KLWarmup(epochs=1, schedule="cyclical", ratio=0.5), "kl_weight", "VAE"),
    (lambda: callbacks.TemperatureAnnealing(initial=1.0, minimum=0.1, rate=0.05, every=2), "temperature",
     "CategoricalVAE"),
])
@pytest.mark.slow
@pytest.mark.parametrize("jit", [False, True])
def test_schedules_are_the_same_with_1_and_10_steps_per_execution(binary_digits, make_callback, variable,
                                                                  model_class, jit):
    # 7 batches per epoch, 2 epochs: with 10 steps per execution a callback acting between
    # executions would see only steps 0, 7 and lag up to 6 steps behind.
    x = binary_digits[:112]
    seen = {}
    for spe in (1, 10):
        if model_class == "VAE":
            model = VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(16,), seed=0)
        else:
            model = CategoricalVAE(input_shape=(8, 8, 1), num_variables=2, num_classes=3, hidden_units=(16,), seed=0)
        model.compile(optimizer="adam", steps_per_execution=spe, jit_compile=jit)
        callback = make_callback()
        history = model.fit(x, epochs=2, batch_size=16, verbose=0, shuffle=False, callbacks=[callback]).history
        seen[spe] = (history[variable], float(getattr(model, variable).numpy()))
        # the value in the last step (step 13) is the schedule's at that step
        assert seen[spe][1] == pytest.approx(callback.value(13 / 7, 13), rel=1e-6)
    assert seen[1] == seen[10]
