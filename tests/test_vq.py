"""VQ-VAE and its quantizer against closed forms.

- the straight-through gradient through the quantizer is the identity;
- one EMA codebook update equals the closed form of van den Oord et al. 2017 (appendix A.1),
  computed here with NumPy on a hand-made batch;
- dead codes restart at encoder outputs of the batch;
- under a 2-replica MirroredStrategy the replicas end with identical codebooks, equal to the
  codebook one device computes on the same global batches;
- the contract harness (both training paths, 2 replicas, save/load, SavedModel, TFLite) runs on
  the tiny configurations beside the recipes (``tests/test_harness_configs.py``);
- VQ-VAE-2: the two index grids round-trip through the exported encode/decode, its priors
  (top, and bottom given top) are exactly normalized, the exported seeded sample equals
  ``model.sample`` for the same seed, and the zoo trains both stages on CIFAR-10-shaped images
  (32x32x3) under ``tfds.testing.mock_data``.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import serving
from keras_ae.layers.quantizer import VectorQuantizer, ema_codebook, perplexity, usage
from keras_ae.models import VQVAE2, VQPixelCNNPrior, VQVAE, VQVAE2Prior

SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(0).uniform(size=(16,) + SHAPE) > 0.5).astype("float32")


def test_straight_through_gradient_is_the_identity():
    q = VectorQuantizer(5, 3, restart_threshold=0.0)
    z = tf.constant(np.random.default_rng(1).normal(size=(4, 2, 2, 3)), tf.float32)
    w = tf.constant(np.random.default_rng(2).normal(size=(4, 2, 2, 3)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(z)
        z_q, indices = q(z)
        y = tf.reduce_sum(w * z_q)
    np.testing.assert_allclose(tape.gradient(y, z), w, atol=0)
    # the value is the nearest code
    codebook = np.asarray(q.codebook)
    distances = ((np.asarray(z)[..., None, :] - codebook) ** 2).sum(-1)
    np.testing.assert_array_equal(indices, distances.argmin(-1))
    np.testing.assert_allclose(z_q, codebook[distances.argmin(-1)], atol=1e-6)


def test_ema_update_equals_its_closed_form():
    decay, eps = 0.8, 1e-2
    q = VectorQuantizer(3, 2, ema=True, decay=decay, epsilon=eps, restart_threshold=0.0)
    e0 = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, -5.0]], np.float32)
    q.codebook.assign(e0)
    q.embed_sum.assign(e0)
    z = np.array([[0.1, -0.2], [0.3, 0.1], [0.9, 1.2], [1.1, 0.7], [1.0, 0.8]], np.float32)  # codes 0, 0, 1, 1, 1
    q.update(tf.constant(z), q.indices(tf.constant(z)), tf.constant([0, 0]))
    # by hand: n = (2, 3, 0); s_0 = z0 + z1, s_1 = z2 + z3 + z4, s_2 = 0; N and m start at 1 and e0
    n_k = np.array([2.0, 3.0, 0.0])
    s_k = np.stack([z[:2].sum(0), z[2:].sum(0), np.zeros(2)])
    N = decay * 1.0 + (1 - decay) * n_k
    m = decay * e0 + (1 - decay) * s_k
    smoothed = (N + eps) / (N.sum() + 3 * eps) * N.sum()
    np.testing.assert_allclose(q.cluster_size, N, rtol=1e-6)
    np.testing.assert_allclose(q.embed_sum, m, rtol=1e-6)
    np.testing.assert_allclose(q.codebook, m / smoothed[:, None], rtol=1e-5)
    # and the helper the layer uses agrees with a second update computed the same way by hand
    cs, es, cb = ema_codebook(tf.constant(N, tf.float32), tf.constant(m, tf.float32), tf.constant(n_k, tf.float32),
                              tf.constant(s_k, tf.float32), decay, eps)
    N2, m2 = decay * N + (1 - decay) * n_k, decay * m + (1 - decay) * s_k
    np.testing.assert_allclose(cb, m2 / ((N2 + eps) / (N2.sum() + 3 * eps) * N2.sum())[:, None], rtol=1e-5)


@pytest.mark.parametrize("ema", [False, True])
def test_dead_codes_restart_at_encoder_outputs(ema):
    q = VectorQuantizer(4, 2, ema=ema, decay=0.5, restart_threshold=0.6)
    q.codebook.assign(np.array([[0.0, 0.0], [1.0, 1.0], [50.0, 50.0], [-50.0, 50.0]], np.float32))
    if ema:
        q.embed_sum.assign(q.codebook)
    z = np.array([[0.1, 0.0], [0.0, 0.2], [0.9, 1.0], [1.2, 1.1]], np.float32)  # codes 2 and 3 unused
    q.update(tf.constant(z), q.indices(tf.constant(z)), tf.constant([3, 4]))
    codebook = np.asarray(q.codebook)
    for k in (2, 3):  # N_k = 0.5 < 0.6: restarted at a batch vector, counted once
        assert any(np.allclose(codebook[k], v) for v in z), codebook[k]
    np.testing.assert_allclose(q.cluster_size, [1.5, 1.5, 1.0, 1.0])


def test_usage_and_perplexity():
    k = tf.constant([[0, 0], [1, 2]])
    assert float(usage(k, 8)) == pytest.approx(3 / 8)
    p = np.array([0.5, 0.25, 0.25])
    assert float(perplexity(k, 8)) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-6)


def _fit_ema(strategy, x, restart_threshold, start=None):
    with strategy.scope():
        model = VQVAE(SHAPE, num_codes=6, embedding_dim=3, filters=(4,), ema=True, decay=0.7,
                      restart_threshold=restart_threshold, seed=3)
        model.build()
        if start is not None:
            model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(0.0), jit_compile=False, steps_per_execution=1)
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=2, verbose=0)
    return model, [np.asarray(v) for v in strategy.experimental_local_results(model.quantizer.codebook.value)]


@pytest.mark.slow
def test_two_replicas_keep_identical_codebooks(x):
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:2]]
    mirrored = tf.distribute.MirroredStrategy(devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    start = VQVAE(SHAPE, num_codes=6, embedding_dim=3, filters=(4,), ema=True, seed=3)
    start.build()
    start = start.get_weights()
    _, (reference,) = _fit_ema(tf.distribute.OneDeviceStrategy(devices[0]), x, 0.0, start)
    _, copies = _fit_ema(mirrored, x, 0.0, start)
    assert len(copies) == 2
    np.testing.assert_array_equal(copies[0], copies[1])
    # the counts and sums are summed over the replicas: the codebook one device computes on the global batch
    np.testing.assert_allclose(copies[0], reference, rtol=1e-5, atol=1e-6)
    assert not np.allclose(reference, start[[w.shape for w in start].index((6, 3))])  # the codebook moved
    _, copies = _fit_ema(mirrored, x, 0.9)  # restarts draw from the first replica's batch on both
    np.testing.assert_array_equal(copies[0], copies[1])


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="input_shape must be"):
        VQVAE((64,))
    with pytest.raises(ValueError, match="num_codes"):
        VQVAE(SHAPE, num_codes=1)
    with pytest.raises(ValueError, match="decay"):
        VectorQuantizer(4, 2, decay=1.0)
    model = VQVAE(SHAPE, num_codes=4, embedding_dim=2, filters=(4,), seed=0)
    with pytest.raises(ValueError, match="z must hold integers"):
        model.decode(np.zeros((1, 4, 4), np.float32) + 0.5)
    with pytest.raises(ValueError, match=r"z has values outside \[0, 3\].*codebook of 4 codes"):
        model.decode(np.full((1, 4, 4), 4))


def test_vqvae_codes_are_an_int_grid_and_usage_a_fraction(x):
    # The harness runs on the "vqvae" tiny configuration of keras_ae/models/vq/presets.py (tests/test_harness_configs.py).
    model = VQVAE(SHAPE, num_codes=8, embedding_dim=4, filters=(8,), ema=True, seed=1)
    codes = model.encode(x)
    assert codes.dtype == tf.int32 and tuple(codes.shape) == (16, 4, 4)
    assert 0 < model.codebook_usage(x)["usage"] <= 1


# -- the second stage: a PixelCNN prior over the frozen codes ---------------------------------------
def _tiny_vq(**kw):
    return VQVAE(SHAPE, num_codes=8, embedding_dim=4, filters=(8,), seed=1, **kw)


@pytest.mark.slow
def test_prior_trains_only_the_prior_and_samples_images(x):
    vq = _tiny_vq()
    vq.compile(jit_compile=False, steps_per_execution=1)
    vq.fit(x, batch_size=8, epochs=1, verbose=0)
    frozen = [np.asarray(w).copy() for w in vq.weights]
    model = VQPixelCNNPrior(SHAPE, autoencoder=vq, num_layers=2, filters=4, hidden=4, seed=2)
    model.build()
    model.compile(jit_compile=False, steps_per_execution=1)
    start = [np.asarray(w).copy() for w in model.prior_network.weights]
    assert start
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert all(np.array_equal(a, np.asarray(w)) for a, w in zip(frozen, vq.weights))
    assert any(not np.array_equal(a, np.asarray(w)) for a, w in zip(start, model.prior_network.weights))
    # the logged prior NLL is the exact NLL of the codes
    codes = vq.encode(x)
    np.testing.assert_allclose(model.loss_terms(x)["prior_nll"], -model.prior_log_prob(codes), rtol=1e-5)
    assert history.history["prior_nll"][0] > 0
    images = model.sample(3, seed=4)
    assert tuple(images.shape) == (3,) + SHAPE
    np.testing.assert_array_equal(images, model.sample(3, seed=4))
    with pytest.raises(ValueError, match="VQVAE"):
        VQPixelCNNPrior(SHAPE, autoencoder=object())


@pytest.mark.slow
def test_two_stage_zoo_training_needs_and_uses_from(tmp_path):
    import zoo
    from keras_ae.presets import RECIPES
    from zoo.runner import CliError, previous_stage

    with pytest.raises(CliError, match="--from RUN_DIR"):
        previous_stage(RECIPES["vqvae-prior-digits"], None)
    with pytest.raises(CliError, match="leave out --from"):
        previous_stage(RECIPES["vqvae-digits"], str(tmp_path))
    first = zoo.train("vqvae-digits", out=str(tmp_path / "vq"), epochs=1, num_codes=8, embedding_dim=4, filters=[4])
    second = zoo.train("vqvae-prior-digits", out=str(tmp_path / "prior"), epochs=1, from_run=first.run_dir,
                       num_layers=1, filters=4, hidden=4)
    assert "samples.png" in second.files
    assert second.metrics["reconstruction_mse"] == pytest.approx(first.metrics["reconstruction_mse"], rel=1e-6)
    loaded = zoo.load(second.run_dir)
    assert isinstance(loaded, VQPixelCNNPrior) and loaded.autoencoder.num_codes == 8


# -- VQ-VAE-2: two levels of codes and a prior per level ----------------------------------------------
def _tiny_vq2(**kw):
    return VQVAE2(SHAPE, num_codes=8, num_top_codes=5, embedding_dim=4, filters=(8,), top_filters=(8,), seed=1, **kw)


def _randomize(layer, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for v in layer.trainable_weights:
        v.assign(rng.normal(scale=scale, size=v.shape).astype("float32"))


def test_vqvae2_codes_round_trip(x):
    model = _tiny_vq2()
    model.build()
    codes = model.encode(x)
    assert set(codes) == {"top", "bottom"}
    assert codes["top"].dtype == tf.int32 and tuple(codes["top"].shape) == (16, 2, 2)
    assert codes["bottom"].dtype == tf.int32 and tuple(codes["bottom"].shape) == (16, 4, 4)
    assert {k: tuple(s.shape) for k, s in model.code_spec.items()} == {"top": (2, 2), "bottom": (4, 4)}
    np.testing.assert_array_equal(model.decode(codes), model.reconstruct(x))
    np.testing.assert_array_equal(model.decode((codes["top"], codes["bottom"])), model.decode(codes))
    # the top codes reach the decoder: other top codes, another image
    other = {"top": (codes["top"] + 1) % 5, "bottom": codes["bottom"]}
    assert not np.allclose(model.decode(other), model.decode(codes))
    with pytest.raises(ValueError, match=r"z\['top'\] has values outside \[0, 4\].*top codebook of 5 codes"):
        model.decode({"top": np.full((1, 2, 2), 5), "bottom": np.zeros((1, 4, 4), np.int32)})
    with pytest.raises(ValueError, match="keys 'top' and 'bottom'"):
        model.decode({"bottom": np.zeros((1, 4, 4), np.int32)})
    with pytest.raises(ValueError, match="batch sizes differ"):
        model.decode({"top": np.zeros((2, 2, 2), np.int32), "bottom": np.zeros((1, 4, 4), np.int32)})


def test_vqvae2_trains_both_codebooks():
    rng = np.random.default_rng(5)
    x = (rng.uniform(size=(64,) + SHAPE) > 0.5).astype("float32")
    model = _tiny_vq2(ema=True, restart_threshold=1.0)
    model.build()
    start = {q.name: np.asarray(q.codebook).copy() for q in (model.top_quantizer, model.bottom_quantizer)}
    model.compile(jit_compile=False, steps_per_execution=1)
    history = model.fit(x, batch_size=16, epochs=1, verbose=0)
    assert {"usage_top", "usage_bottom", "perplexity_top", "perplexity_bottom"} <= set(history.history)
    for q in (model.top_quantizer, model.bottom_quantizer):
        assert not np.allclose(np.asarray(q.codebook), start[q.name]), q.name
    used = model.codebook_usage(x)
    assert 0 < used["usage_top"] <= 1 and 0 < used["usage_bottom"] <= 1


def test_vqvae2_prior_is_exactly_normalized_per_level():
    vq = VQVAE2((4, 4, 1), num_codes=3, num_top_codes=2, embedding_dim=2, filters=(2,), top_filters=(2,), seed=0)
    model = VQVAE2Prior((4, 4, 1), autoencoder=vq, num_layers=2, filters=4, hidden=4, seed=1)
    model.build()
    _randomize(model)
    # top grids 1x1 of 2 codes, bottom grids 2x2 of 3 codes: every pair (2 * 81)
    tops = np.array([[[t]] for t in range(2)], np.int32)
    bottoms = np.array(list(itertools.product(range(3), repeat=4)), np.int32).reshape(-1, 2, 2)
    top, bottom = (np.repeat(tops, len(bottoms), 0), np.tile(bottoms, (2, 1, 1)))
    p = np.exp(model.prior_log_prob({"top": top, "bottom": bottom}).numpy().astype(np.float64))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    # p(b | t) is a distribution for each t, and it depends on t
    assert p[:81].sum() + p[81:].sum() == pytest.approx(1.0, abs=1e-5)
    conditional = p.reshape(2, 81) / p.reshape(2, 81).sum(1, keepdims=True)
    assert not np.allclose(conditional[0], conditional[1])


def test_vqvae2_codes_round_trip_through_the_saved_model(x, tmp_path):
    # The harness (both paths, 2 replicas, save/load, TFLite) runs on the "vqvae2" tiny configuration.
    model = _tiny_vq2(ema=True)
    model.build()
    _randomize(model, 3)
    codes = model.encode(x)
    signatures = tf.saved_model.load(serving.export_saved_model(model, str(tmp_path), "vq2")).signatures
    exported = signatures["encode"](x=tf.constant(x))
    assert sorted(exported) == ["bottom", "top"]
    for level in ("top", "bottom"):
        np.testing.assert_array_equal(exported[level], codes[level])
    decoded = signatures["decode"](top=exported["top"], bottom=exported["bottom"])["reconstruction"]
    np.testing.assert_allclose(decoded, model.decode(codes), atol=1e-5)


@pytest.mark.slow
def test_vqvae2_prior_exported_seeded_sample_is_model_sample(tmp_path):
    # The harness (2 replicas too; both sampling loops in TFLite) runs on the "vqvae2-prior" tiny configuration.
    model = VQVAE2Prior(SHAPE, autoencoder=dict(num_codes=8, num_top_codes=5, embedding_dim=4, filters=(8,),
                                                top_filters=(8,), seed=1),
                        num_layers=2, filters=4, hidden=4, seed=2)
    model.build()
    _randomize(model.top_prior, 1)
    _randomize(model.bottom_prior, 2)
    loaded = tf.saved_model.load(serving.export_saved_model(model, str(tmp_path / "again"), "vq2-prior"))
    exported = loaded.signatures["sample_seeded"](n=tf.constant(5), seed=tf.constant(11), temperature=tf.constant(1.0))["x"]
    expected = model.sample(5, seed=11)
    np.testing.assert_array_equal(exported, expected)
    codes = model._prior_codes(5, tf.constant([11, 0]))  # the drawn grids (a tiny untrained decoder may blur them)
    assert len(np.unique(codes["top"])) > 1 and len(np.unique(codes["bottom"])) > 1  # not one constant draw
    assert not np.array_equal(model.sample(5, seed=12), expected)


@pytest.mark.slow
def test_vqvae2_two_stages_on_cifar10_under_tfds_mock(mock_tfds, tmp_path):
    import zoo

    small = dict(num_codes=8, num_top_codes=4, embedding_dim=4, filters=[4, 4], top_filters=[4])
    with mock_tfds(num_examples=8):
        first = zoo.train("vqvae2-cifar10", out=str(tmp_path / "vq2"), epochs=1, batch_size=4, **small)
        second = zoo.train("vqvae2-prior-cifar10", out=str(tmp_path / "prior"), epochs=1, batch_size=4,
                           from_run=first.run_dir, num_layers=1, filters=4, hidden=4)
    assert first.status == "completed" and second.status == "completed"
    assert np.isfinite(first.metrics["reconstruction_mse"]) and "test_usage_bottom" in first.metrics
    assert np.isfinite(second.metrics["test_prior_nll"]) and "samples.png" in second.files
    model = zoo.load(second.run_dir)
    assert isinstance(model, VQVAE2Prior)
    assert {k: tuple(s.shape) for k, s in model.code_spec.items()} == {"top": (4, 4), "bottom": (8, 8)}
    images = model.sample(2, seed=0)
    assert tuple(images.shape) == (2, 32, 32, 3)
