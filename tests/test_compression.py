"""Bits-back ANS: an exact round trip, and a rate at the negative ELBO within its noise."""

import keras
import numpy as np
import pytest

from keras_ae.evaluation import compression
from keras_ae.models import VAE, Autoencoder


@pytest.fixture(scope="module")
def vae(binary_digits):
    keras.utils.set_random_seed(0)
    model = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(64,), likelihood="bernoulli", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.fit(binary_digits[0], epochs=10, batch_size=64, verbose=0)
    return model


def test_round_trip_is_bit_exact_and_the_rate_is_the_negative_elbo(vae, binary_digits):
    x = binary_digits[1][:40]
    message = compression.compress(vae, x, seed=5)
    np.testing.assert_array_equal(compression.decompress(vae, message), x)
    # The expected net cost is sum_x E_q[-log2 w(x, z)], w = p(x|z) p(z) / q(z|x): one posterior
    # draw per image, so its noise is sqrt(sum_x Var_q log2 w) (discretizing z at 12 bits and
    # ANS's fixed-point probabilities add well under that); + 32: the message is whole 32-bit words.
    log2_w = vae.log_importance_weights(x, num_samples=200, seed=1).numpy() / np.log(2)  # [k, N]
    expected = -log2_w.mean(axis=0).sum()
    noise = np.sqrt(log2_w.var(axis=0, ddof=1).sum())
    assert abs(message.net_bits() - expected) < 4 * noise + 32, (message.net_bits(), expected, noise)


def test_a_damaged_message_or_another_model_is_detected(vae, binary_digits):
    x = binary_digits[1][:3]
    message = compression.compress(vae, x, seed=0)
    other = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(64,), likelihood="bernoulli", seed=1)
    with pytest.raises(ValueError, match="initial bits"):
        compression.decompress(other, message)


@pytest.mark.parametrize("make,x,match", [
    (lambda: Autoencoder(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,)), np.zeros((1, 8, 8, 1)),
     "Autoencoder does not declare is_probabilistic"),
    (None, np.full((1, 8, 8, 1), 0.5), "binary"),
    (None, np.zeros((1, 4, 4, 1)), "shape"),
])
def test_bad_models_and_images_are_clear_errors(vae, make, x, match):
    with pytest.raises(ValueError, match=match):
        compression.compress(make() if make else vae, x)
