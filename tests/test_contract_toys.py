"""Each extension point of the model contract, proved by a toy model through the public harness.

Every toy passes :func:`keras_ae.testing.check_model`: config round trip, both training paths
(per step and fused multi-step XLA) with equal weights, 2 replicas, save/load, its declared
signatures, seeded determinism, SavedModel and TFLite export. Then what is special about it.
"""

import numpy as np
import keras
import pytest
import tensorflow as tf

from keras_ae import serving, testing
from tests.contract_toys import (AutoregressiveDecoderAE, CriticAutoencoder, GridCodeAutoencoder,
                                 LabelledAutoencoder, MixturePriorVAE)

SHAPE = (4, 4, 1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(32,) + SHAPE) > 0.5).astype("float32")
    y = rng.integers(0, 3, size=32).astype("int32")
    return x, y


def check(make_model, x, extras=None, **kwargs):
    report = testing.check_model(make_model, x, extras, **kwargs)
    assert report["replicas"] == 2  # conftest splits the CPU into two logical devices
    return report


def _small(cls, **kwargs):
    return lambda: cls(input_shape=SHAPE, hidden_units=(8,), seed=3, **kwargs)


@pytest.mark.slow
def test_label_conditioned_loss_passes_the_harness_and_exports_classify(data, tmp_path):
    x, y = data
    report = check(_small(LabelledAutoencoder, latent_dim=2), x, {"y": y}, tmp_dir=str(tmp_path))
    assert "classification" in report["terms"] and "classify" in report["signatures"]
    assert "classify" in report["tflite_signatures"]
    model = _small(LabelledAutoencoder, latent_dim=2)()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"needs the batch entries \['y'\]"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="y must have shape"):
        model.loss_terms(x[:4], y=y[:4, None])


@pytest.mark.slow
def test_grid_of_integer_codes_passes_the_harness_and_exports_int_codes(data, tmp_path):
    x, _ = data
    report = check(_small(GridCodeAutoencoder), x, tmp_dir=str(tmp_path))
    loaded = tf.saved_model.load(report["saved_model"])
    code = loaded.signatures["encode"](x=tf.constant(x[:3]))["code"]
    assert code.dtype == tf.int32 and code.shape == (3, 4)
    assert loaded.signatures["decode"].structured_input_signature[1]["z"].dtype == tf.int32
    model = _small(GridCodeAutoencoder)()
    with pytest.raises(ValueError, match="z must hold integers"):
        model.decode(np.full((2, 4), 0.5, "float32"))


@pytest.mark.slow
def test_learned_mixture_prior_is_what_sample_and_the_exported_sample_draw(data, tmp_path):
    x, _ = data
    report = check(_small(MixturePriorVAE, latent_dim=2), x, tmp_dir=str(tmp_path))
    model = keras.models.load_model(str(tmp_path / "model.keras"))
    # Move the learned prior far from N(0, I): its samples must follow.
    model.prior_part.locs.assign(np.full((3, 2), 4.0, "float32"))
    model.prior_part.log_scales.assign(np.full((3, 2), np.log(0.01), "float32"))
    far = model.decode(np.full((1, 2), 4.0, "float32")).numpy()[0]
    np.testing.assert_allclose(model.sample(5, seed=1).numpy(), np.repeat(far[None], 5, 0), atol=2e-2)
    path = serving.export_saved_model(model, str(tmp_path / "moved"), "m")
    drawn = tf.saved_model.load(path).signatures["sample"](n=tf.constant(5), temperature=tf.constant(1.0))["x"].numpy()
    np.testing.assert_allclose(drawn, np.repeat(far[None], 5, 0), atol=2e-2)
    seeded = tf.saved_model.load(path).signatures["sample_seeded"](n=tf.constant(5), seed=tf.constant(1), temperature=tf.constant(1.0))["x"]
    np.testing.assert_allclose(seeded.numpy(), model.sample(5, seed=1).numpy(), atol=1e-6)
    # KL has no closed form for a mixture prior: the model uses Monte Carlo, and says so by working.
    assert np.all(np.isfinite(model.loss_terms(x[:4])["kl"]))
    assert report["tflite_signatures"]  # what converts is exported; a skipped sampler is stated
    assert set(report["tflite_skipped"]) <= {"sample", "sample_seeded"}


@pytest.mark.slow
def test_second_optimizer_updates_only_its_own_parameter_group(data, tmp_path):
    x, _ = data
    report = check(_small(CriticAutoencoder, latent_dim=2), x, tmp_dir=str(tmp_path))
    assert "critic_loss" in report["terms"]
    model = _small(CriticAutoencoder, latent_dim=2)()
    model.build()
    critic_before = [v.numpy().copy() for v in model.critic.weights]
    encoder_before = [v.numpy().copy() for v in model.encoder_body.weights]
    # A zero learning rate for the critic's own optimizer: the main optimizer must leave it alone.
    model.compile(optimizer=keras.optimizers.Adam(1e-2), group_optimizers={"critic": keras.optimizers.SGD(0.0)})
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(critic_before, model.critic.weights))
    assert not all(np.array_equal(a, b.numpy()) for a, b in zip(encoder_before, model.encoder_body.weights))
    assert int(model._group_optimizers["critic"].iterations) == 4
    with pytest.raises(ValueError, match="unknown groups"):
        model.compile(optimizer="adam", group_optimizers={"discriminator": "adam"})


@pytest.mark.slow
def test_stochastic_step_by_step_decoder_passes_the_harness_and_samples_in_a_graph(data, tmp_path):
    x, _ = data
    report = check(_small(AutoregressiveDecoderAE, latent_dim=2), x, tmp_dir=str(tmp_path))
    model = keras.models.load_model(str(tmp_path / "model.keras"))
    z = model.encode(x[:3])
    a, b = model.decode(z, seed=1).numpy(), model.decode(z, seed=2).numpy()
    assert set(np.unique(a)) <= {0.0, 1.0} and not np.array_equal(a, b)
    # The exported decode runs the pixel loop in the graph: binary pixels, fresh at every call.
    decode = tf.saved_model.load(report["saved_model"]).signatures["decode"]
    draws = [decode(z=tf.constant(np.asarray(z)))["reconstruction"].numpy() for _ in range(2)]
    assert all(set(np.unique(d)) <= {0.0, 1.0} for d in draws) and not np.array_equal(*draws)
