"""Semi-supervised models (M2, ADGM, SDGM) and their data, against exact identities.

- the unlabelled bound equals the q(y|x)-weighted sum of the labelled bounds plus the entropy
  of q(y|x), by enumerating the classes on a tiny model (training bound and deterministic score);
- the deterministic labelled bound equals ``-log p(x | y, z = mean) + KL + log K`` built by hand
  from the public posterior and likelihood;
- with the auxiliary networks switched off (``q(a|x) = p(a|...)``, ``a`` unused), ADGM's bounds
  equal M2's with the same weights;
- the labelled split is balanced and seeded; mixed batches keep their ratio on every replica;
- the exported ``classify`` (SavedModel and TFLite) agrees with the model on
  every example;
- ``evaluate_model`` of a semi-supervised model: ``test_error`` is the error of ``classify`` on
  every example; ``nll`` is ``-log p(x)`` (the label summed out) with or without the labels;
- M1+M2: its bounds and ``classify`` equal an M2's with the same weights on the precomputed codes
  of the first stage, which stays frozen in ``fit``. The harness runs on the tiny configurations
  beside the recipes (``tests/test_harness_configs.py``).
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import evaluation, objectives, serving
from keras_ae.data import semisupervised
from keras_ae.models import ADGM, M2, VAE, Autoencoder, M1M2, PlanarVAE

SHAPE = (4, 4, 1)
K = 3


def _make(cls=M2, **kwargs):
    args = dict(input_shape=SHAPE, latent_dim=2, num_classes=K, hidden_units=(8,), seed=1)
    return cls(**{**args, **kwargs})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(12,) + SHAPE) > 0.5).astype("float32")
    y = (np.arange(12) % K).astype("int32")
    y[::2] = semisupervised.UNLABELLED
    return x, y


@pytest.fixture(scope="module")
def m2():
    model = _make()
    model.build()
    return model


def test_unlabelled_bound_is_the_weighted_labelled_bounds_plus_entropy(m2, data):
    x, _ = data
    q = m2.classify(x)["probabilities"].numpy().astype(np.float64)
    entropy = -np.sum(q * np.log(q), axis=1)
    # the training bound (seeded draws): one call per label, the same draws (same model seed)
    unlabelled = -m2.loss_terms(x, y=np.full(len(x), -1))["elbo"].numpy()
    labelled = np.stack([-m2.loss_terms(x, y=np.full(len(x), k))["elbo"].numpy() for k in range(K)], axis=1)
    np.testing.assert_allclose(unlabelled, np.sum(q * labelled, axis=1) - entropy, rtol=1e-5, atol=1e-4)
    # the deterministic score, the same identity
    scores = np.stack([m2.score(x, y=np.full(len(x), k)).numpy() for k in range(K)], axis=1)
    np.testing.assert_allclose(m2.score(x), np.sum(q * scores, axis=1) - entropy, rtol=1e-5, atol=1e-4)


def test_the_labelled_bound_by_hand(m2, data):
    x, _ = data
    for k in range(K):
        y = np.full(len(x), k)
        posterior = m2.posterior(x, y=y)
        z = posterior.mean()
        by_hand = (objectives.negative_log_likelihood(m2.likelihood(z, y=y), x)
                   + objectives.kl_divergence(posterior, m2.prior(), analytic=True) + np.log(K))
        np.testing.assert_allclose(m2.score(x, y=y), by_hand, rtol=1e-5)


def test_labelled_examples_train_the_classifier(m2, data):
    x, y = data
    terms = m2.loss_terms(x, y=y)
    labelled = y >= 0
    log_q = np.log(m2.classify(x)["probabilities"].numpy())
    xent = -log_q[np.flatnonzero(labelled), y[labelled]]
    # per example: the labelled cross-entropy scaled to the batch's labelled mean, 0 elsewhere
    np.testing.assert_allclose(terms["classification"].numpy()[labelled], xent / labelled.mean(), rtol=1e-5)
    assert np.all(terms["classification"].numpy()[~labelled] == 0)
    # the objective is the bound (beta = 1, no warm-up)
    np.testing.assert_allclose(terms["objective"], -terms["elbo"], rtol=1e-6)


def _copy_switched_off(source, target):
    """Give ``target`` (an ADGM) ``source``'s (an M2) weights; every auxiliary weight zero.

    Kernels that take ``a`` as extra input rows get zeros there, so ``a`` is unused; the
    auxiliary heads give the same N(0, s) for ``q(a|x)`` and ``p(a|...)``, so their log-ratio is 0.
    """
    def key(v):  # the path without the model and Keras's numbering of layer names
        return re.sub(r"_\d+", "", v.path.split("/", 1)[1])

    shared = [v for v in target.weights if "auxiliary" not in v.path]
    assert [key(v) for v in shared] == [key(v) for v in source.weights]
    weights = {id(v): w.numpy() for v, w in zip(shared, source.weights)}
    for v in target.weights:
        value = np.zeros(v.shape, np.float32)
        if id(v) in weights:
            w = weights[id(v)]
            if w.shape == tuple(v.shape):
                value = w
            else:  # the a rows of an input kernel stay zero
                assert w.shape[1:] == tuple(v.shape[1:]) and w.shape[0] < v.shape[0], v.path
                value[:w.shape[0]] = w
        v.assign(value)


def test_adgm_with_the_auxiliary_networks_off_is_m2(m2, data):
    x, y = data
    adgm = _make(ADGM, auxiliary_dim=2)
    adgm.build()
    _copy_switched_off(m2, adgm)
    m2_terms, adgm_terms = m2.loss_terms(x, y=y), adgm.loss_terms(x, y=y)
    np.testing.assert_allclose(adgm_terms["auxiliary"], 0.0, atol=1e-6)
    for term in ("elbo", "reconstruction", "kl", "classification"):
        np.testing.assert_allclose(adgm_terms[term], m2_terms[term], rtol=1e-5, atol=1e-5, err_msg=term)
    np.testing.assert_allclose(adgm.score(x), m2.score(x), rtol=1e-5)
    np.testing.assert_allclose(adgm.classify(x)["probabilities"], m2.classify(x)["probabilities"], atol=1e-6)
    # and the auxiliary variable matters once switched on
    rng = np.random.default_rng(0)
    for v in adgm.auxiliary_encoder_body.weights + adgm.auxiliary_encoder_head.weights:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    assert np.max(np.abs(adgm.loss_terms(x, y=y)["auxiliary"])) > 1e-3


def test_the_label_is_used_and_samples_repeat(m2):
    z = np.random.default_rng(3).normal(size=(4, 2)).astype("float32")
    a, b = m2.decode(z, y=np.zeros(4, np.int32)), m2.decode(z, y=np.ones(4, np.int32))
    assert np.max(np.abs(a - b)) > 1e-4
    np.testing.assert_array_equal(m2.sample(4, seed=2, y=np.full(4, 2)), m2.sample(4, seed=2, y=np.full(4, 2)))
    with pytest.raises(ValueError, match="needs the condition y"):
        m2.decode(z)
    with pytest.raises(ValueError, match="takes labels"):
        M2(SHAPE, 2, condition_dim=3)


# -- data --------------------------------------------------------------------------------------
def test_labelled_split_is_balanced_and_seeded(digits):
    x, y, _, _ = digits
    split = semisupervised.labelled_split(x, y, labels_per_class=10, seed=3)
    assert np.bincount(split.y_labelled, minlength=10).tolist() == [10] * 10
    np.testing.assert_array_equal(split.y_labelled, y[split.labelled_indices])
    assert len(split.x_labelled) + len(split.x_unlabelled) == len(x)
    again = semisupervised.labelled_split(x, y, labels_per_class=10, seed=3)
    np.testing.assert_array_equal(again.labelled_indices, split.labelled_indices)
    other = semisupervised.labelled_split(x, y, labels_per_class=10, seed=4)
    assert not np.array_equal(other.labelled_indices, split.labelled_indices)
    odd = semisupervised.labelled_split(x, y, num_labels=25, seed=0)
    assert sorted(np.bincount(odd.y_labelled).tolist()) == [2] * 5 + [3] * 5
    with pytest.raises(ValueError, match="class 0 has"):
        semisupervised.labelled_split(x[:20], y[:20], labels_per_class=5, num_classes=10)
    with pytest.raises(ValueError, match="exactly one of"):
        semisupervised.labelled_split(x, y)


def test_mixed_batches_keep_the_ratio_on_every_replica(digits):
    x, y, _, _ = digits
    split = semisupervised.labelled_split(x, y, labels_per_class=2, seed=0)
    ds = semisupervised.mixed_pipeline(split, batch_size=16, labelled_per_batch=4, seed=0)
    batches = list(ds)
    assert len(batches) == len(split.x_unlabelled) // 12
    seen = set()
    for batch in batches:
        labels = batch["y"].numpy()
        assert batch["x"].shape == (16, 8, 8, 1)
        assert [int(np.sum(half >= 0)) for half in (labels[:8], labels[8:])] == [2, 2]
        seen.update(map(bytes, batch["x"].numpy()[labels >= 0]))
    assert len(seen) == len(split.x_labelled)  # every labelled example comes round
    with pytest.raises(ValueError, match="labelled_per_batch"):
        semisupervised.mixed_pipeline(split, batch_size=16, labelled_per_batch=16)


@pytest.mark.slow
def test_mixed_batches_train_under_two_replicas(digits):
    x, y, _, _ = digits
    split = semisupervised.labelled_split(x[:200], y[:200], labels_per_class=2, seed=0)
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py splits the CPU into two logical devices"
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]],
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        model = M2(input_shape=(8, 8, 1), latent_dim=2, num_classes=10, hidden_units=(16,), seed=0)
        model.compile(optimizer="adam", jit_compile=False)
    history = model.fit(semisupervised.mixed_pipeline(split, 32, 8, seed=0).take(3), epochs=1, verbose=0)
    assert np.isfinite(history.history["classification"][0]) and history.history["classification"][0] > 0


# -- the contract and the export ------------------------------------------------------------------
@pytest.mark.slow
def test_exported_classify_agrees_on_every_example(data, tmp_path):
    # The harness runs on the "m2", "adgm", "sdgm" and "m1m2" tiny configurations of
    # keras_ae/models/conditional/presets.py (tests/test_harness_configs.py); here the exported classify.
    x, _ = data
    model = _make(M2)
    model.build()
    expected = model.classify(x)
    loaded = tf.saved_model.load(serving.export_saved_model(model, str(tmp_path), "m2"))
    exported = loaded.signatures["classify"](x=tf.constant(x))
    np.testing.assert_array_equal(exported["label"].numpy(), expected["label"].numpy())
    np.testing.assert_allclose(exported["probabilities"], expected["probabilities"], atol=1e-5)
    serving.export_tflite(model, str(tmp_path / "model.tflite"), "none", probe_data=x)
    run = serving.tflite_runner(serving.litert_interpreter(str(tmp_path / "model.tflite")))
    lite = run("classify", {"x": x})
    np.testing.assert_array_equal(np.asarray(lite["label"]), expected["label"].numpy())


def test_evaluate_model_records_the_classification_error(m2, data):
    x, _ = data
    y = (np.arange(len(x)) % K).astype("int32")
    labelled = evaluation.evaluate_model(m2, x, num_samples=3, batch_size=5, extras={"y": y})
    expected = np.mean(m2.classify(x)["label"].numpy() != y)
    assert labelled["test_error"] == expected
    alone = evaluation.evaluate_model(m2, x, num_samples=3, batch_size=5)
    assert "test_error" not in alone
    for key in ("nll", "elbo", "kl", "score", "reconstruction_mse"):  # of x alone either way
        assert labelled[key] == alone[key], key
    # the ELBO's KL without labels is the Monte Carlo KL of q(y, z | x) from p(y, z): >= 0 on average
    assert np.isfinite(alone["elbo"]) and alone["kl"] > 0
    np.testing.assert_allclose(labelled["test_classification"],
                               -np.mean(np.log(m2.classify(x)["probabilities"].numpy()[np.arange(len(x)), y])),
                               rtol=1e-5)


# -- M1+M2 ----------------------------------------------------------------------------------------
def _make_m1m2(first_stage=None):
    vae = first_stage or VAE(SHAPE, latent_dim=3, hidden_units=(8,), seed=2)
    return M1M2(SHAPE, autoencoder=vae, latent_dim=2, num_classes=K, hidden_units=(8,), seed=1)


@pytest.fixture(scope="module")
def m1m2():
    model = _make_m1m2()
    model.build()
    return model


def test_m1m2_is_m2_on_the_first_stage_codes(m1m2, data):
    x, y = data
    codes = m1m2.autoencoder.posterior(x).mean().numpy()
    m2 = M2((3,), 2, num_classes=K, hidden_units=(8,), likelihood="gaussian", seed=1)
    m2.build()
    m2.set_weights(m1m2.m2.get_weights())
    for labels in (y, np.full(len(x), -1), np.full(len(x), 1)):
        ours, theirs = m1m2.loss_terms(x, y=labels), m2.loss_terms(codes, y=labels)
        for term in M2.TERMS:
            np.testing.assert_array_equal(ours[term], theirs[term], err_msg=term)
    np.testing.assert_array_equal(m1m2.score(x), m2.score(codes))
    np.testing.assert_array_equal(m1m2.classify(x)["probabilities"], m2.classify(codes)["probabilities"])
    np.testing.assert_array_equal(m1m2.encode(x), m2.encode(codes))
    # images out: M1's decoder mean at M2's mean of p(z1 | y, z2)
    z = np.random.default_rng(1).normal(size=(3, 2)).astype("float32")
    np.testing.assert_allclose(m1m2.decode(z, y=[0, 1, 2]), m1m2.autoencoder.decode(m2.decode(z, y=[0, 1, 2])),
                               atol=1e-6)
    assert m1m2.sample(4, seed=3).shape == (4,) + SHAPE


def test_m1m2_keeps_the_first_stage_frozen(data):
    x, y = data
    model = _make_m1m2()
    model.build()
    first, second = model.autoencoder.get_weights(), model.m2.get_weights()
    assert not model.autoencoder.trainable_weights
    assert {v.path for v in model.trainable_weights} == {v.path for v in model.m2.trainable_weights}
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    model.fit(tf.data.Dataset.from_tensor_slices({"x": x, "y": y}).batch(6), epochs=2, verbose=0)
    for before, after in zip(first, model.autoencoder.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(second, model.m2.get_weights())) > 1e-4


def test_m1m2_needs_a_vector_gaussian_code(data):
    with pytest.raises(ValueError, match="vector Gaussian code"):
        _make_m1m2(Autoencoder(SHAPE, latent_dim=3, hidden_units=(8,)))
    with pytest.raises(ValueError, match="vector Gaussian code"):
        _make_m1m2(PlanarVAE(SHAPE, latent_dim=3, hidden_units=(8,), flow_steps=1))
    with pytest.raises(ValueError, match="input_shape"):
        M1M2((8, 8, 1), autoencoder=VAE(SHAPE, latent_dim=3, hidden_units=(8,)), latent_dim=2, num_classes=K)
    with pytest.raises(ValueError, match="needs the condition y"):
        M1M2(SHAPE, autoencoder=dict(latent_dim=3, hidden_units=(8,)), latent_dim=2, num_classes=K).decode(
            np.zeros((2, 2), "float32"))


def test_m1m2_exported_classify_agrees(data, tmp_path):
    x, _ = data
    model = _make_m1m2()
    model.build()
    exported = tf.saved_model.load(serving.export_saved_model(model, str(tmp_path), "m1m2")).signatures["classify"](
        x=tf.constant(x))
    np.testing.assert_array_equal(exported["label"].numpy(), model.classify(x)["label"].numpy())
