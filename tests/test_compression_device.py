"""Bits-back coding on a device: integer networks that Keras, the SavedModel and the TFLite file compute alike.

The coder's inputs must agree exactly between the sender's runtime and the receiver's, or the ANS
stack desynchronizes: checked on the full binarized digits test split (360 images) of a VAE
trained here (the ``vae-digits`` architecture, fewer epochs).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from export import coder as server_coder
from export import device_coder
from keras_ae.evaluation import integer_coder
from keras_ae.layers.integer_dense import IntegerDense, accumulator_bound, integer_dense_numpy
from keras_ae.models import VAE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the integer layer ---------------------------------------------------------------------------
def test_the_integer_layer_rounds_half_up_and_matches_its_int64_reference():
    rng = np.random.default_rng(0)
    w = rng.integers(-2047, 2048, (128, 16))
    s = rng.integers(0, 9, 16)
    b = rng.integers(-5000, 5000, 16) + np.where(s > 0, 2 ** np.maximum(s - 1, 0), 0)
    h = rng.integers(0, 64, (300, 128))
    layer = IntegerDense(w, b, s, lo=-2 ** 24, hi=2 ** 24, max_input=63)
    # floor((a + 2^(s-1)) / 2^s) is a / 2^s rounded half up, checked against exact rationals
    acc = h @ w + b - np.where(s > 0, 2 ** np.maximum(s - 1, 0), 0)
    expected = np.floor(acc / 2.0 ** s + 0.5).astype(np.int64)
    np.testing.assert_array_equal(layer.numpy(h), expected)
    np.testing.assert_array_equal(np.asarray(layer(tf.constant(h, tf.float32))), expected)
    half = integer_dense_numpy([[3], [-3], [5]], [[1]], [1], [1], -9, 9)   # 1.5, -1.5, 2.5 -> 2, -1, 3
    np.testing.assert_array_equal(half.ravel(), [2, -1, 3])


def test_a_layer_whose_sums_could_leave_the_exact_float32_range_is_refused():
    w = np.full((128, 1), 2047)
    assert accumulator_bound(w, [0], 63) == 128 * 2047 * 63
    with pytest.raises(ValueError, match="2\\^24"):
        IntegerDense(w, [0], [0], 0, 10, max_input=1023)


# -- a trained VAE, its coder, its files ---------------------------------------------------------
@pytest.fixture(scope="module")
def trained(binary_digits):
    keras.utils.set_random_seed(0)
    model = VAE(input_shape=(8, 8, 1), latent_dim=8, hidden_units=(128,), likelihood="bernoulli", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    model.fit(binary_digits[0], epochs=15, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def coder_dir(trained, binary_digits, tmp_path_factory):
    coder = integer_coder.quantize_vae(trained, binary_digits[0])
    path = str(tmp_path_factory.mktemp("coder") / "coder")
    integer_coder.write_coder(coder, path)
    return coder, path


@pytest.mark.slow
def test_keras_savedmodel_and_tflite_return_the_same_integers_on_the_whole_test_split(coder_dir, binary_digits):
    coder, path = coder_dir
    x = binary_digits[1]
    assert len(x) == 360
    module = integer_coder.CodingModule(coder)             # the Keras layers, eagerly
    runtimes = {"keras": module, "savedmodel": server_coder.network(path, "savedmodel"),
                "tflite": device_coder.LiteRTNetwork(os.path.join(path, integer_coder.TFLITE_NAME))}
    means, scales = coder.posterior_indices(x)                # the exact int64 reference
    # latent indices the decoder sees while coding: posterior means, plus draws across the prior's range
    rng = np.random.default_rng(0)
    limit = int(coder.tables["latent_limit"])
    latents = np.concatenate([means, rng.integers(-limit, limit + 1, means.shape)])
    logits = coder.logit_indices(latents)
    for name, net in runtimes.items():
        if name == "keras":
            out = {k: v.numpy() for k, v in net.posterior_indices(tf.constant(x, tf.float32)).items()}
            got_means, got_scales = out["mean_index"], out["scale_index"]
            got_logits = net.logit_indices(tf.constant(latents, tf.int32))["logit_index"].numpy()
        else:
            got_means, got_scales = net.posterior_indices(x)
            got_logits = net.logit_indices(latents)
            for key, table in coder.tables.items():
                np.testing.assert_array_equal(np.ravel(net.tables[key]), np.ravel(table), err_msg=f"{name} {key}")
        np.testing.assert_array_equal(got_means, means, err_msg=name)
        np.testing.assert_array_equal(got_scales, scales, err_msg=name)
        np.testing.assert_array_equal(got_logits, logits, err_msg=name)
    # the integers are not degenerate: the codes spread over their grids
    assert np.ptp(means) > 100 and np.ptp(logits) > 500


@pytest.mark.slow
def test_a_savedmodel_message_of_the_full_test_split_decompresses_bit_exact_with_the_tflite_file(coder_dir, binary_digits):
    coder, path = coder_dir
    x = binary_digits[1].astype(np.uint8)
    tflite = device_coder.LiteRTNetwork(os.path.join(path, integer_coder.TFLITE_NAME))
    from_server = device_coder.compress(server_coder.network(path, "savedmodel"), x, seed=3)
    from_device = device_coder.compress(tflite, x, seed=3)
    np.testing.assert_array_equal(from_server.words, from_device.words)   # the same message, word for word
    np.testing.assert_array_equal(device_coder.decompress(tflite, from_server), x)
    # The rate is the integer coder's negative ELBO: one draw of Q(i|x) per image, so the net
    # bits differ from their expectation by about sqrt(sum_x Var_Q c) (c: one image's cost; the
    # expectation's own Monte Carlo error is 1/sqrt(200) of that); + 32: whole 32-bit words.
    expected, std = integer_coder.expected_bits(coder, x, num_samples=200, seed=1)
    noise = np.sqrt(np.sum(std ** 2))
    assert abs(from_server.net_bits() - expected.sum()) < 4 * noise + 32, (from_server.net_bits(), expected.sum(), noise)


@pytest.mark.slow
def test_the_device_side_runs_without_tensorflow_and_round_trips_a_savedmodel_message(coder_dir, binary_digits,
                                                                                       tmp_path):
    _, path = coder_dir
    x = binary_digits[1].astype(np.uint8)
    message = device_coder.compress(server_coder.network(path, "savedmodel"), x, seed=0)
    device_coder.save_message(str(tmp_path / "msg.npz"), message)
    np.savez(tmp_path / "x.npz", x=x)
    script = (
        "import sys, numpy as np\n"
        "from export import device_coder as dc\n"
        f"net = dc.LiteRTNetwork({os.path.join(path, integer_coder.TFLITE_NAME)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npz')!r})['x']\n"
        f"images = dc.decompress(net, dc.load_message({str(tmp_path / 'msg.npz')!r}))\n"
        "assert np.array_equal(images, x), 'SavedModel message'\n"
        "again = dc.decompress(net, dc.compress(net, x, seed=9))\n"
        "assert np.array_equal(again, x), 'TFLite round trip'\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'keras_ae', 'tf_keras'))\n"
        "assert not leaked, leaked\n"
        "print('ok', len(images))\n"
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok 360")


@pytest.mark.slow
def test_another_coder_a_damaged_message_and_bad_images_are_clear_errors(coder_dir, trained, binary_digits, tmp_path):
    coder, path = coder_dir
    x = binary_digits[1][:5].astype(np.uint8)
    tflite = device_coder.LiteRTNetwork(os.path.join(path, integer_coder.TFLITE_NAME))
    message = device_coder.compress(tflite, x, seed=0)
    other = integer_coder.quantize_vae(trained, binary_digits[0], activation_bits=8)

    class Other:  # the same interface, another coder (another fingerprint)
        tables = other.tables
        posterior_indices = staticmethod(other.posterior_indices)
        logit_indices = staticmethod(other.logit_indices)

    with pytest.raises(ValueError, match="another coding network"):
        device_coder.decompress(Other(), message)
    words = message.words.copy()
    words[len(words) // 2] ^= 0x5A5A5A5A
    damaged = message._replace(words=words)
    try:
        result = device_coder.decompress(tflite, damaged)
    except (ValueError, KeyError) as e:  # a symbol the tables cannot hold, or the initial bits differ
        assert "initial bits" in str(e) or "probability" in str(e)
    else:
        raise AssertionError(f"a damaged message decompressed without an error: {result.shape}")
    with pytest.raises(ValueError, match="binary"):
        device_coder.compress(tflite, np.full((1, 8, 8, 1), 0.5))
    (tmp_path / "foreign.npz").write_bytes(b"not a message")
    with pytest.raises(ValueError, match="not a message"):
        device_coder.load_message(str(tmp_path / "foreign.npz"))


def test_models_the_integer_coder_cannot_read_are_clear_errors(binary_digits):
    x = binary_digits[0][:8]
    gaussian = VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,), likelihood="gaussian")
    with pytest.raises(ValueError, match="bernoulli"):
        integer_coder.quantize_vae(gaussian, x)
    conv = VAE(input_shape=(8, 8, 1), latent_dim=2, architecture="conv", filters=(4,), hidden_units=(8,))
    with pytest.raises(ValueError, match="MLP body"):
        integer_coder.quantize_vae(conv, x)
    mlp = VAE(input_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,))
    with pytest.raises(ValueError, match="calibration_x must be binary"):
        integer_coder.quantize_vae(mlp, np.full((2, 8, 8, 1), 0.5))
    with pytest.raises(ValueError, match="activation_bits"):
        integer_coder.quantize_vae(mlp, x, activation_bits=40)
