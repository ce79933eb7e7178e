"""The default biases of bodies and heads: uniform on +-1/sqrt(fan_in), PyTorch's (keras_ae.layers.bodies).

Checked on a convolutional VAE, whose dense, convolutional and transposed-convolutional layers
each count their fan-in differently; the VQ models' grid bodies keep zeros.
"""

import keras
import numpy as np
import pytest

from keras_ae.layers.bodies import fan_in, fan_in_bias_initializer
from keras_ae.models import VAE, VQVAE


def test_each_bias_is_within_one_over_root_fan_in_and_spreads_over_it():
    keras.utils.set_random_seed(0)
    model = VAE(input_shape=(12, 12, 1), latent_dim=4, architecture="conv", hidden_units=(16,), filters=(8, 16))
    model.build()
    expected = {  # layer -> fan-in: Dense the input size, Conv2D kh*kw*in, Conv2DTranspose kh*kw*filters
        "encoder_body/conv2d": 9 * 1, "encoder_body/conv2d_1": 9 * 8, "encoder_body/dense": 3 * 3 * 16,
        "decoder_body/dense": 4, "decoder_body/conv2d_transpose": 9 * 16, "decoder_body/conv2d_transpose_1": 9 * 8,
    }
    found = {}
    for w in model.weights:
        if not w.path.endswith("/bias"):
            continue
        layer = w.path[len(model.name) + 1:-len("/bias")]
        key = next((k for k in expected if layer.split("/")[0] == k.split("/")[0]
                    and layer.split("/")[-1].rstrip("_0123456789") == k.split("/")[-1].rstrip("_0123456789")
                    and k not in found), None)
        values = np.asarray(w)
        assert np.all(values != 0), w.path  # none left at Keras's zeros
        if key is not None:
            bound = 1 / np.sqrt(expected[key])
            assert np.abs(values).max() <= bound, (w.path, bound)
            if values.size >= 16:  # uniform on the whole interval, not a narrower one
                assert np.abs(values).max() > 0.5 * bound, (w.path, bound)
            found[key] = w.path
    assert len(found) == len(expected), found


def test_vq_grid_bodies_keep_zero_biases_and_other_layers_are_refused():
    model = VQVAE(input_shape=(8, 8, 1), num_codes=4, embedding_dim=2, filters=(4,))
    model.build()
    assert all(np.all(np.asarray(w) == 0) for w in model.encoder_body.weights if w.path.endswith("/bias"))
    assert fan_in(keras.layers.Dense(3), (None, 7)) == 7
    with pytest.raises(ValueError, match="fan_in needs a Dense, Conv2D or Conv2DTranspose layer, got LSTM"):
        fan_in_bias_initializer(keras.layers.LSTM(3), (None, 5, 7))
