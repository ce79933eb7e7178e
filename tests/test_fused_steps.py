"""Several XLA training steps in one program (the single-replica fast path) and the fused Bernoulli.

The fused train function must be an optimisation only: the same steps on the same batches as
Keras's own per-step loop, so the weights and the logged losses agree to float32 round-off.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae.layers.heads import LogitBernoulli
from keras_ae.models.deterministic.deterministic import Autoencoder
from keras_ae.models.vae.vae import VAE

tfd = tfp.distributions


@pytest.mark.parametrize("events", ["binary", "grey"])
def test_logit_bernoulli_log_prob_and_gradient_equal_tfp_bernoulli(rng, events):
    logits = tf.constant(rng.uniform(-30, 30, size=(64, 50)).astype("float32"))
    x = rng.uniform(size=(64, 50))
    x = tf.constant((x < 0.5) if events == "binary" else x, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = LogitBernoulli(logits=logits, dtype=tf.float32).log_prob(x)
        reference = tfd.Bernoulli(logits=logits, dtype=tf.float32).log_prob(x)
    # both are x*s - softplus(s) evaluated in float32: |error| <= a few ulp of max(|s|, 1)
    tolerance = 8 * np.finfo(np.float32).eps * np.maximum(np.abs(logits.numpy()), 1.0)
    assert np.all(np.abs(ours.numpy() - reference.numpy()) <= tolerance)
    np.testing.assert_allclose(tape.gradient(ours, logits).numpy(), tape.gradient(reference, logits).numpy(),
                               rtol=1e-6, atol=1e-6)


def _models(kind, seed=3):
    if kind == "ae":
        return [Autoencoder(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=seed) for _ in range(2)]
    return [VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=seed) for _ in range(2)]


def _fit(model, x, steps_per_execution, batch_size, epochs, known_length=True):
    model.compile(optimizer="adam", jit_compile=True,
                  steps_per_execution=steps_per_execution)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch_size)
    if not known_length:  # Keras learns the epoch's end from the iterator running out
        ds = ds.filter(lambda batch: True)
    history = model.fit(ds, epochs=epochs, verbose=0)
    return history.history


# The plain case (equal batches, every family) is in the contract harness for every recipe; these
# are the edge cases of the fused function, on the VAE (its noise makes the order of steps visible).
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["vae"])
@pytest.mark.parametrize("num_examples,known_length", [(101, True), (37, True), (101, False)])
def test_fused_steps_equal_keras_per_step_loop(binary_digits, kind, num_examples, known_length):
    # 101: 7 batches (3+3+1 per epoch); 37: 3 batches of unequal size; unknown length: the third
    # call of an epoch finds one batch, the fourth none (StopIteration ends the epoch)
    x = binary_digits[0][:num_examples].reshape(num_examples, 64)
    fused, reference = _models(kind)
    for model in (fused, reference):
        model.build()
    reference.set_weights(fused.get_weights())
    start = [w.copy() for w in fused.get_weights()]
    fused_logs = _fit(fused, x, steps_per_execution=3, batch_size=16, epochs=2, known_length=known_length)
    reference_logs = _fit(reference, x, steps_per_execution=1, batch_size=16, epochs=2, known_length=known_length)
    assert getattr(fused.train_function, "fused_steps", None) == 3
    assert getattr(reference.train_function, "fused_steps", None) is None
    assert fused.optimizer.iterations.numpy() == reference.optimizer.iterations.numpy() == 2 * -(-num_examples // 16)
    change = max(np.abs(a - b).max() for a, b in zip(fused.get_weights(), start))
    diff = max(np.abs(a - b).max() for a, b in zip(fused.get_weights(), reference.get_weights()))
    assert change > 1e-3  # it trained ...
    assert diff <= 1e-5  # ... exactly as Keras's loop, up to round-off
    for name in reference_logs:
        np.testing.assert_allclose(fused_logs[name], reference_logs[name], rtol=1e-5, atol=1e-5)


def test_train_on_batch_goes_through_the_fused_function(binary_digits):
    x = binary_digits[0][:16].reshape(16, 64)
    fused, reference = _models("ae")
    for model, spe in ((fused, 4), (reference, 1)):
        model.build()
        model.compile(optimizer="adam", jit_compile=True, steps_per_execution=spe)
    reference.set_weights(fused.get_weights())
    for model in (fused, reference):
        logs = model.train_on_batch(x, return_dict=True)
        assert np.isfinite(logs["loss"])
    assert getattr(fused.train_function, "fused_steps", None) == 4
    diff = max(np.abs(a - b).max() for a, b in zip(fused.get_weights(), reference.get_weights()))
    assert diff <= 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_fused_steps_under_mixed_precision_are_finite_and_close_to_float32(binary_digits, policy):
    from keras_ae import training

    x = binary_digits[0][:128].reshape(128, 64)  # a numpy array: Keras's array adapter, not a Dataset
    losses = {}
    try:
        for name in ("float32", policy):
            training.set_precision(name)
            model = VAE(input_shape=(64,), latent_dim=4, hidden_units=(32,), seed=0)
            model.build()
            if name != "float32":
                model.set_weights(start)
            start = model.get_weights()
            model.compile(optimizer="adam", jit_compile=True, steps_per_execution=2)
            history = model.fit(x, batch_size=32, epochs=2, shuffle=False, verbose=0)
            assert getattr(model.train_function, "fused_steps", None) == 2
            losses[name] = history.history["loss"][-1]
    finally:
        training.set_precision("float32")
    assert np.isfinite(losses[policy])
    assert abs(losses[policy] - losses["float32"]) <= 0.02 * abs(losses["float32"])
