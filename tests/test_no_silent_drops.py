"""Nothing a caller gives is silently dropped: sample weights, batch entries, constructor arguments.

Sample weights follow Keras's convention for losses (``keras_ae.models.steps``): a batch's
objective is ``sum_i w_i loss_i / N``, so an example of integer weight ``n`` counts as ``n``
copies of it in a batch of the same size. The tests train from the same start with plain SGD
(one step per batch, no noise in the deterministic models) and compare with the repeated
examples, on Keras's per-step loop, on the fused multi-step program and under two replicas.
"""

import re

import numpy as np
import keras
import pytest
import tensorflow as tf

from keras_ae import models
from keras_ae.models import AdversarialAutoencoder, Autoencoder, ConditionalVAE, FactorVAE, VQVAE

#: the weights of one batch of 8; they sum to 8, so the repeated batch has 8 examples too.
WEIGHTS = np.array([2, 1, 0, 1, 3, 0, 1, 0], np.float32)
#: float32 round-off of one SGD step on differently ordered sums: below 2e-7 for most weights, 1.9e-5 for
#: the adversarial autoencoder's discriminator in a full CI run.
STEP_TOLERANCE = 5e-5


def _batches(rng, count, shape):
    x = rng.uniform(size=(8 * count,) + shape).astype(np.float32)
    w = np.tile(WEIGHTS, count)
    # The same batches with every example repeated as often as its weight says, batch by batch.
    repeated = np.concatenate([np.repeat(x[8 * b:8 * b + 8], WEIGHTS.astype(int), axis=0) for b in range(count)])
    return x, w, repeated


def _autoencoder():
    return Autoencoder((6,), 2, hidden_units=(5,), seed=0)


def _weights_after(make, fit, start, path):
    model = make()
    model.build()
    model.set_weights(start)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=path == "fused",
                  steps_per_execution=2 if path == "fused" else 1)
    history = fit(model)
    return [np.asarray(v) for v in model.weights], history


def _max_difference(a, b):
    return max(float(np.max(np.abs(u - v))) if u.size else 0.0 for u, v in zip(a, b))


def _start(make):
    model = make()
    model.build()
    return model.get_weights()


@pytest.mark.parametrize("path", ["per step", "fused"])
@pytest.mark.parametrize("form", ["arrays", "(x, None, w)", "dict"])
def test_integer_weights_train_as_repeated_examples(path, form, rng):
    x, w, repeated = _batches(rng, 2, (6,))
    start = _start(_autoencoder)
    if form == "arrays":
        def weighted(model):
            return model.fit(x, sample_weight=w, batch_size=8, shuffle=False, epochs=1, verbose=0)
    else:
        element = (x, None, w) if form == "(x, None, w)" else {"x": x, "sample_weight": w}
        ds = tf.data.Dataset.from_tensor_slices(element).batch(8)

        def weighted(model):
            return model.fit(ds, epochs=1, verbose=0)
    got, history = _weights_after(_autoencoder, weighted, start, path)
    want, reference = _weights_after(
        _autoencoder, lambda m: m.fit(repeated, batch_size=8, shuffle=False, epochs=1, verbose=0), start, path)
    assert _max_difference(got, start) > 1e-3  # the step moved the weights
    assert _max_difference(got, want) < STEP_TOLERANCE
    # The logged loss is the weighted objective, the same number as the repeated batches' mean.
    np.testing.assert_allclose(history.history["loss"], reference.history["loss"], rtol=1e-5)


@pytest.mark.parametrize("path", ["per step", "fused"])
def test_all_zero_weights_change_nothing(path, rng):
    x = rng.uniform(size=(16, 6)).astype(np.float32)
    start = _start(_autoencoder)
    got, history = _weights_after(
        _autoencoder, lambda m: m.fit(x, sample_weight=np.zeros(16), batch_size=8, verbose=0), start, path)
    assert _max_difference(got, start) == 0.0
    assert history.history["loss"] == [0.0]


def test_weights_under_two_replicas_train_as_repeated_examples(rng):
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py splits the CPU into two logical devices"
    x, w, repeated = _batches(rng, 2, (6,))
    start = _start(_autoencoder)
    results = []
    for data, weights in ((x, w), (repeated, None)):
        strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]],
                                                  cross_device_ops=tf.distribute.ReductionToOneDevice())
        with strategy.scope():
            model = _autoencoder()
            model.build()
            model.set_weights(start)
            model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False, steps_per_execution=1)
        history = model.fit(data, sample_weight=weights, batch_size=8, shuffle=False, epochs=1, verbose=0)
        results.append(([np.asarray(v) for v in model.weights], history.history["loss"]))
    (got, loss), (want, reference) = results
    # Each replica holds 4 of a global batch of 8: the weighted sum is divided by 8, not by 4 or sum(w).
    assert _max_difference(got, want) < STEP_TOLERANCE
    np.testing.assert_allclose(loss, reference, rtol=1e-5)
    one_replica, _ = _weights_after(
        _autoencoder, lambda m: m.fit(x, sample_weight=w, batch_size=8, shuffle=False, verbose=0), start, "per step")
    assert _max_difference(got, one_replica) < STEP_TOLERANCE


def test_evaluate_reports_keras_weighted_loss_and_weighted_mean_terms(rng):
    model = _autoencoder()
    model.compile()
    x = rng.uniform(size=(8, 6)).astype(np.float32)
    w = np.array([0.5, 2, 0, 1, 3, 0.25, 1, 0], np.float32)  # sums to 7.75, not 8
    per_example = np.asarray(model.per_example_objective(model.loss_terms(x)))
    logs = model.evaluate(x, sample_weight=w, batch_size=8, verbose=0, return_dict=True)
    # loss: sum_i w_i l_i / N (tf.nn.compute_average_loss); terms: sum_i w_i t_i / sum_i w_i.
    np.testing.assert_allclose(logs["loss"], np.sum(w * per_example) / 8, rtol=1e-5)
    np.testing.assert_allclose(logs["reconstruction"], np.sum(w * per_example) / np.sum(w), rtol=1e-5)
    unweighted = model.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(unweighted["loss"], per_example.mean(), rtol=1e-5)
    # validation_data with weights is weighted the same way
    history = model.fit(x, epochs=1, batch_size=8, verbose=0, validation_data=(x, None, w))
    assert np.isfinite(history.history["val_loss"][0])


def test_weights_reach_labelled_batches_x_y_w(rng):
    """(x, y, w) for a model that takes labels: a uniform weight c is a learning rate times c (SGD)."""
    x = (rng.uniform(size=(16, 6)) > 0.5).astype(np.float32)
    y = rng.integers(0, 3, 16).astype(np.int32)

    def make():
        return ConditionalVAE((6,), 2, num_classes=3, hidden_units=(5,), seed=0)

    start = _start(make)
    results = {}
    for name, weight, rate in (("double", 2.0, 0.05), ("plain", None, 0.1), ("zero", 0.0, 0.1)):
        model = make()
        model.build()
        model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(rate), jit_compile=False, steps_per_execution=1)
        element = (x, y) if weight is None else (x, y, np.full(16, weight, np.float32))
        model.fit(tf.data.Dataset.from_tensor_slices(element).batch(8), epochs=1, verbose=0)
        results[name] = [np.asarray(v) for v in model.weights]
    assert _max_difference(results["double"], results["plain"]) < STEP_TOLERANCE
    assert _max_difference(results["zero"], start) == 0.0


@pytest.mark.parametrize("make", [
    lambda: FactorVAE((6,), 2, hidden_units=(5,), discriminator_units=(4,), seed=0),
    lambda: AdversarialAutoencoder((6,), 2, hidden_units=(5,), discriminator_units=(4,), seed=0),
], ids=["FactorVAE", "AdversarialAutoencoder"])
def test_parameter_groups_weight_their_objective(make, rng):
    """The discriminator's objective is weighted too: weight c is its learning rate times c; 0 is no step."""
    x = (rng.uniform(size=(16, 6)) > 0.5).astype(np.float32)
    start = _start(make)
    results = {}
    for name, weight, rate in (("double", 2.0, 0.05), ("plain", None, 0.1), ("zero", 0.0, 0.1)):
        model = make()
        model.build()
        model.set_weights(start)
        # The group optimizer is a copy of the main one (same learning rate).
        model.compile(optimizer=keras.optimizers.SGD(rate), jit_compile=False, steps_per_execution=1)
        w = None if weight is None else np.full(16, weight, np.float32)
        model.fit(x, sample_weight=w, batch_size=8, shuffle=False, epochs=1, verbose=0)
        results[name] = {group: [np.asarray(v) for v in model.parameter_group_variables(group)]
                         for group in model.PARAMETER_GROUPS}
        results[name]["main"] = [np.asarray(v) for v in model.main_trainable_variables()]
    for part, plain in results["plain"].items():
        before = _part_start(make, start, part)
        assert _max_difference(plain, before) > 0, part
        assert _max_difference(results["double"][part], plain) < STEP_TOLERANCE, part
        assert _max_difference(results["zero"][part], before) == 0.0, part


def _part_start(make, start, part):
    model = make()
    model.build()
    model.set_weights(start)
    if part == "main":
        return [np.asarray(v) for v in model.main_trainable_variables()]
    return [np.asarray(v) for v in model.parameter_group_variables(part)]


@pytest.mark.parametrize("path", ["per step", "fused"])
def test_ema_codebook_counts_weighted_examples_as_repeats(path, rng):
    """The non-gradient updates (EMA codebook) weight each example as the loss does."""
    def make():
        return VQVAE((4, 4, 1), num_codes=4, embedding_dim=2, filters=(3,), ema=True, restart_threshold=0.0,
                     reconstruction="mse", seed=0)

    x, w, repeated = _batches(rng, 2, (4, 4, 1))
    start = _start(make)
    got, _ = _weights_after(make, lambda m: m.fit(x, sample_weight=w, batch_size=8, shuffle=False, verbose=0),
                            start, path)
    want, _ = _weights_after(make, lambda m: m.fit(repeated, batch_size=8, shuffle=False, verbose=0), start, path)
    assert _max_difference(got, want) < STEP_TOLERANCE
    # All-zero weights: a step that saw no example. No gradient moves a weight; the EMA state
    # decays as for an empty batch (N_k <- decay N_k, m_k <- decay m_k), so the codebook
    # m_k / N_k stays put up to the Laplace smoothing (epsilon 1e-5).
    model = make()
    model.build()
    model.set_weights(start)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=path == "fused",
                  steps_per_execution=2 if path == "fused" else 1)
    trainable = [np.asarray(v) for v in model.trainable_variables]
    model.fit(x, sample_weight=np.zeros(16), batch_size=8, verbose=0)
    assert _max_difference([np.asarray(v) for v in model.trainable_variables], trainable) == 0.0
    np.testing.assert_allclose(model.quantizer.cluster_size.numpy(), np.full(4, 0.99 ** 2), rtol=1e-6)
    codebook = make()
    codebook.build()
    codebook.set_weights(start)
    np.testing.assert_allclose(model.quantizer.codebook.numpy(), codebook.quantizer.codebook.numpy(), atol=1e-5)


@pytest.mark.parametrize("weights, message", [
    (np.array([1.0, -1.0, 1.0, 1.0]), "finite and >= 0"),
    (np.array([1.0, np.nan, 1.0, 1.0]), "finite and >= 0"),
    (np.ones(3), r"one weight per example, shape \(4,\)"),
    (np.ones((4, 2)), r"one weight per example"),
])
def test_bad_weights_are_refused(weights, message):
    model = _autoencoder()
    model.compile()
    with pytest.raises(ValueError, match=message):
        model.fit(np.zeros((4, 6), np.float32), sample_weight=weights, verbose=0)


def test_bad_weights_in_a_dataset_are_refused():
    model = _autoencoder()
    model.compile(steps_per_execution=1)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 6), np.float32), None, np.array([1, -2, 1, 1.0]))).batch(4)
    with pytest.raises(ValueError, match="sample_weight has values outside"):
        model.fit(ds, verbose=0)


# -- batch entries a model would not use ------------------------------------------------------------
@pytest.mark.parametrize("path", ["per step", "fused"])
def test_unknown_dict_entries_are_refused_by_the_train_step(path, rng):
    x = rng.uniform(size=(4, 6)).astype(np.float32)
    model = _autoencoder()
    model.compile(jit_compile=path == "fused", steps_per_execution=2 if path == "fused" else 1)
    model.build()
    # train_on_batch reaches the train step (fused: the train function's one-step program) directly.
    with pytest.raises(ValueError, match=r"Autoencoder does not use the batch entries \['labels'\]"):
        model.train_on_batch({"x": x, "labels": np.zeros(4, np.int32)})
    with pytest.raises(ValueError, match=r"does not use the batch entries \['y'\]"):
        model.train_on_batch(x, x)
    # fit refuses the dataset before training, on either path
    ds = tf.data.Dataset.from_tensor_slices({"x": x, "mask": x}).batch(2)
    with pytest.raises(ValueError, match=r"does not use the batch entries \['mask'\] of the dataset's elements"):
        model.fit(ds, verbose=0)


@pytest.mark.parametrize("path", ["per step", "fused"])
def test_labelled_model_refuses_unknown_entries_and_takes_its_own(path, rng):
    x = (rng.uniform(size=(4, 6)) > 0.5).astype(np.float32)
    y = np.zeros(4, np.int32)
    model = ConditionalVAE((6,), 2, num_classes=3, hidden_units=(5,), seed=0)
    model.compile(jit_compile=path == "fused", steps_per_execution=2 if path == "fused" else 1)
    model.build()
    with pytest.raises(ValueError, match=r"ConditionalVAE does not use the batch entries \['z'\]"):
        model.train_on_batch({"x": x, "y": y, "z": x})
    logs = model.train_on_batch({"x": x, "y": y, "sample_weight": np.ones(4, np.float32)}, return_dict=True)
    assert np.isfinite(logs["loss"])


def test_fit_with_targets_is_refused_for_a_model_that_learns_from_x_alone(rng):
    x = rng.uniform(size=(4, 6)).astype(np.float32)
    model = _autoencoder()
    model.compile()
    with pytest.raises(ValueError, match=r"does not use the batch entries \['y'\] of x.*call fit\(x\)"):
        model.fit(x, x, verbose=0)
    with pytest.raises(ValueError, match=r"\['y'\] of validation_data"):
        model.fit(x, verbose=0, validation_data=(x, x))
    with pytest.raises(ValueError, match=r"\['y'\] of the dataset's elements"):
        model.evaluate(tf.data.Dataset.from_tensor_slices((x, x)).batch(2), verbose=0)
    with pytest.raises(ValueError, match=r"does not use class_weight \(got \{0: 2.0\}\).*give sample_weight"):
        model.fit(x, class_weight={0: 2.0}, verbose=0)


# -- constructor arguments a model would not use ------------------------------------------------------
_IMAGE = (8, 8, 1)
_VQ = dict(num_codes=4, embedding_dim=2, filters=(4,))
_VQ2 = dict(num_codes=4, embedding_dim=2, filters=(4,), top_filters=(4,))
#: a tiny instance of every class whose constructor refuses something, by name.
FACTORIES = {
    "VQVAE": lambda **k: models.VQVAE(_IMAGE, **_VQ, **k),
    "VQVAE2": lambda **k: models.VQVAE2(_IMAGE, **_VQ2, **k),
    "VQPixelCNNPrior": lambda **k: models.VQPixelCNNPrior(_IMAGE, autoencoder=_VQ, num_layers=1, hidden=4, **k),
    "VQVAE2Prior": lambda **k: models.VQVAE2Prior(_IMAGE, autoencoder=_VQ2, num_layers=1, hidden=4, **k),
    "MADEDensity": lambda **k: models.MADEDensity(_IMAGE, hidden_units=(8,), **k),
    "PixelCNNDensity": lambda **k: models.PixelCNNDensity(_IMAGE, num_layers=1, filters=4, hidden=4, **k),
    "PixelVAE": lambda **k: models.PixelVAE(_IMAGE, 2, num_layers=1, pixel_filters=4, pixel_hidden=4,
                                            hidden_units=(8,), **k),
    "DeepSpatialAutoencoder": lambda **k: models.DeepSpatialAutoencoder(_IMAGE, num_points=2, filters=(4,), **k),
    "M1M2": lambda **k: models.M1M2(_IMAGE, autoencoder=dict(latent_dim=2, hidden_units=(8,)), latent_dim=2,
                                    num_classes=3, hidden_units=(8,), **k),
    "DRAW": lambda **k: models.DRAW(_IMAGE, 2, steps=2, hidden_units=(8,), **k),
    "VAE": lambda **k: models.VAE(_IMAGE, 2, hidden_units=(8,), **k),
    "SparseAutoencoder": lambda **k: models.SparseAutoencoder(_IMAGE, 2, hidden_units=(8,), **k),
    "SparseAutoencoder-kl": lambda **k: models.SparseAutoencoder(_IMAGE, 2, penalty="kl", hidden_units=(8,), **k),
    "M2": lambda **k: models.M2(_IMAGE, 2, num_classes=3, hidden_units=(8,), **k),
    "ADGM": lambda **k: models.ADGM(_IMAGE, 2, num_classes=3, auxiliary_dim=2, hidden_units=(8,), **k),
}


def _network():
    return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4)])


REFUSED = [
    ("VQVAE", "hidden_units", (999,)), ("VQVAE", "latent_dim", 5), ("VQVAE", "architecture", "mlp"),
    ("VQVAE", "encoder", _network), ("VQVAE", "decoder", _network),
    ("VQVAE2", "hidden_units", (999,)), ("VQVAE2", "latent_dim", 5), ("VQVAE2", "architecture", "mlp"),
    ("VQVAE2", "encoder", _network), ("VQVAE2", "decoder", _network),
    ("VQPixelCNNPrior", "latent_dim", 5), ("VQPixelCNNPrior", "architecture", "conv"),
    ("VQPixelCNNPrior", "hidden_units", (8,)), ("VQPixelCNNPrior", "activation", "tanh"),
    ("VQPixelCNNPrior", "encoder", _network), ("VQPixelCNNPrior", "decoder", _network),
    ("VQVAE2Prior", "latent_dim", 5), ("VQVAE2Prior", "hidden_units", (8,)), ("VQVAE2Prior", "encoder", _network),
    ("MADEDensity", "latent_dim", 5), ("MADEDensity", "architecture", "conv"), ("MADEDensity", "filters", (8,)),
    ("MADEDensity", "encoder", _network), ("MADEDensity", "decoder", _network),
    ("PixelCNNDensity", "latent_dim", 5), ("PixelCNNDensity", "hidden_units", (8,)),
    ("PixelCNNDensity", "activation", "tanh"), ("PixelCNNDensity", "architecture", "mlp"),
    ("PixelCNNDensity", "encoder", _network), ("PixelCNNDensity", "decoder", _network),
    ("PixelVAE", "likelihood", "gaussian"),
    ("DeepSpatialAutoencoder", "latent_dim", 5), ("DeepSpatialAutoencoder", "architecture", "mlp"),
    ("M1M2", "architecture", "conv"), ("M1M2", "filters", (8,)), ("M1M2", "encoder", _network),
    ("M1M2", "decoder", _network),
    ("DRAW", "architecture", "conv"), ("DRAW", "filters", (8,)), ("DRAW", "activation", "tanh"),
    ("DRAW", "encoder", _network), ("DRAW", "decoder", _network),
    ("VAE", "filters", (8,)),  # filters are the channels of architecture="conv"
    # arguments of one mode given in another
    ("VQVAE", "epsilon", 1e-3), ("VQVAE2", "epsilon", 1e-3),  # EMA smoothing without ema=True
    ("SparseAutoencoder", "target_activation", 0.2),  # the rho of penalty="kl", given with "l1"
    ("SparseAutoencoder-kl", "code_activation", "tanh"),  # penalty="kl" makes the codes sigmoid
    ("M2", "free_bits", 0.5), ("ADGM", "free_bits", 0.5),  # their bounds use the whole KL
]


@pytest.mark.parametrize("name, argument, value", REFUSED, ids=[f"{n}-{a}" for n, a, _ in REFUSED])
def test_an_argument_the_model_would_not_use_is_refused(name, argument, value):
    value = value() if callable(value) else value
    shown = type(value).__name__ if isinstance(value, keras.layers.Layer) else repr(value)
    with pytest.raises(ValueError, match=rf"{argument}.*{re.escape(shown)}"):
        FACTORIES[name](**{argument: value})


def test_the_issue_example_names_argument_value_and_reason():
    with pytest.raises(ValueError, match=r"^VQVAE does not use hidden_units \(got \(999,\)\): its encoder and "
                                         r"decoder are convolutions"):
        models.VQVAE(input_shape=(8, 8, 1), hidden_units=(999,))


@pytest.mark.parametrize("name, given", [
    ("VQVAE", dict(architecture="conv", hidden_units=(256,), latent_dim=None, encoder=None, decoder=None)),
    ("MADEDensity", dict(architecture="mlp", filters=(32, 64))),
    ("PixelCNNDensity", dict(architecture="conv", activation="relu")),
    ("PixelVAE", dict(likelihood="bernoulli")),
    ("DRAW", dict(architecture="mlp", filters=[32, 64], activation="relu")),
    ("M1M2", dict(architecture="mlp")),
    ("VAE", dict(architecture="mlp", filters=(32, 64))),
    ("VQVAE", dict(ema=True, epsilon=1e-3)),
    ("SparseAutoencoder-kl", dict(target_activation=0.2, code_activation="sigmoid")),
    ("M2", dict(free_bits=0.0)),
])
def test_the_default_of_an_unused_argument_is_accepted(name, given):
    FACTORIES[name](**given)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_config_round_trip_of_every_family_that_refuses(name):
    model = FACTORIES[name](seed=3)
    config = model.get_config()
    assert not set(config) & set(type(model).UNUSED_ARGUMENTS), "get_config must leave unused arguments out"
    clone = type(model).from_config(config)
    assert clone.get_config() == config


def test_unused_arguments_must_name_base_arguments():
    class Typo(Autoencoder):
        UNUSED_ARGUMENTS = {"hidden_unit": "a typo"}

    with pytest.raises(TypeError, match="names 'hidden_unit', not an argument of BaseAutoencoder"):
        Typo((6,), 2)


# -- the VAE family: shorthands and parts a configuration would not use --------------------------------
def _tiny_vae(fn=None, **k):
    fn = models.VAE if fn is None else fn
    return fn(input_shape=(6,), **{"latent_dim": 2, "hidden_units": (4,), "seed": 0, **k})


GAUSSIAN_SHORTHANDS_REFUSED = [
    (dict(decoder_scale="fixed"), r"^decoder_scale='fixed' does nothing with likelihood='bernoulli'"),
    (dict(likelihood="continuous_bernoulli", decoder_fixed_scale=0.5),
     r"^decoder_fixed_scale=0.5 does nothing with likelihood='continuous_bernoulli'"),
    (dict(decoder_min_scale=0.05), r"^decoder_min_scale=0.05 does nothing with likelihood='bernoulli'"),
    (dict(likelihood="gaussian", decoder_fixed_scale=0.5),
     r"^decoder_fixed_scale=0.5 does nothing with decoder_scale='learned': it is the scale of decoder_scale='fixed'"),
    (dict(likelihood="gaussian", decoder_scale="global", decoder_fixed_scale=0.5),
     r"^decoder_fixed_scale=0.5 does nothing with decoder_scale='global'"),
    (dict(likelihood="gaussian", decoder_scale="fixed", decoder_min_scale=0.05),
     r"^decoder_min_scale=0.05 does nothing with decoder_scale='fixed': it floors a learned scale"),
]


@pytest.mark.parametrize("given, message", GAUSSIAN_SHORTHANDS_REFUSED,
                         ids=[" ".join(f"{k}={v}" for k, v in g.items()) for g, _ in GAUSSIAN_SHORTHANDS_REFUSED])
def test_a_gaussian_shorthand_where_it_does_nothing_is_refused(given, message):
    with pytest.raises(ValueError, match=message):
        _tiny_vae(**given)


def test_the_gaussian_part_refuses_the_same_unused_arguments():
    from keras_ae.parts import Gaussian

    with pytest.raises(ValueError, match=r"^fixed_scale=0.5 does nothing with scale='learned'"):
        Gaussian(fixed_scale=0.5)
    with pytest.raises(ValueError, match=r"^min_scale=0.05 does nothing with scale='fixed'"):
        Gaussian(scale="fixed", min_scale=0.05)


@pytest.mark.parametrize("given", [
    dict(),
    dict(decoder_scale="learned", decoder_fixed_scale=1.0, decoder_min_scale=1e-2),  # the defaults change nothing
    dict(likelihood="gaussian", decoder_fixed_scale=1.0, decoder_min_scale=0.05),
    dict(likelihood="gaussian", decoder_scale="global", decoder_min_scale=0.05),
    dict(likelihood="gaussian", decoder_scale="fixed", decoder_fixed_scale=0.3, decoder_min_scale=1e-2),
], ids=["none", "defaults", "learned", "global", "fixed"])
def test_gaussian_shorthands_that_are_used_round_trip(given):
    model = _tiny_vae(**given)
    config = model.get_config()
    clone = models.VAE.from_config(config)
    assert clone.get_config() == config
    if given.get("likelihood") == "gaussian":
        head = model.likelihood_part.head
        if given.get("decoder_scale") == "fixed":
            assert head.fixed_scale == 0.3
        else:
            assert head.min_scale == given["decoder_min_scale"]


_CATEGORICAL = dict(posterior={"name": "categorical", "num_variables": 2, "num_classes": 2},
                    prior={"name": "uniform_categorical", "num_classes": 2}, latent_dim=4)
_SPHERE = dict(posterior="von_mises_fisher", prior="spherical_uniform", latent_dim=3)


@pytest.mark.parametrize("given", [_CATEGORICAL, _SPHERE], ids=["categorical", "von_mises_fisher"])
def test_posterior_min_scale_without_a_gaussian_scale_is_refused(given):
    with pytest.raises(ValueError, match=r"^posterior_min_scale=0.01 does nothing with the posterior "
                                         r"(CategoricalPosterior|VonMisesFisherPosterior).*has none"):
        _tiny_vae(posterior_min_scale=1e-2, **given)
    model = _tiny_vae(posterior_min_scale=1e-4, **given)  # the default
    config = model.get_config()
    assert models.VAE.from_config(config).get_config() == config


@pytest.mark.parametrize("make", [
    lambda: _tiny_vae(posterior_min_scale=1e-2),
    lambda: _tiny_vae(models.IAFVAE, posterior_min_scale=1e-2, flow_hidden_units=(4,)),
    lambda: models.TwoLayerVAE((6,), latent_dims=(2, 2), hidden_units=(4,), posterior_min_scale=1e-2, seed=0),
], ids=["gaussian", "iaf", "hierarchy"])
def test_posterior_min_scale_floors_the_gaussian_posteriors(make):
    from keras_ae.layers.heads import GaussianHead

    model = make()
    heads = [layer for layer in model._flatten_layers() if isinstance(layer, GaussianHead)]
    assert heads and all(head.min_scale == 1e-2 for head in heads)  # the likelihood is Bernoulli


def test_categorical_vae_latent_dim_is_the_code_size_or_refused():
    with pytest.raises(ValueError, match=r"latent_dim must be num_variables \* num_classes = 6 .*got 5"):
        models.CategoricalVAE((6,), num_variables=2, num_classes=3, latent_dim=5, hidden_units=(4,))
    model = models.CategoricalVAE((6,), num_variables=2, num_classes=3, latent_dim=6, hidden_units=(4,), seed=0)
    assert model.latent_dim == 6
    config = model.get_config()
    assert models.VAE.from_config(config).get_config() == config


KL_FREE_CONFIGURATIONS = {
    "WAE": lambda **k: _tiny_vae(models.WAE, **k),
    "AdversarialAutoencoder": lambda **k: _tiny_vae(models.AdversarialAutoencoder, discriminator_units=(3,), **k),
    "InfoVAE": lambda **k: _tiny_vae(models.InfoVAE, **k),  # alpha = 1: the MMD-VAE
}


@pytest.mark.parametrize("name", sorted(KL_FREE_CONFIGURATIONS))
@pytest.mark.parametrize("argument, value", [("beta", 2.0), ("free_bits", 0.5)])
def test_configurations_without_a_kl_term_refuse_its_arguments(name, argument, value):
    with pytest.raises(ValueError, match=rf"^{argument}={value} does (not apply|nothing)"):
        KL_FREE_CONFIGURATIONS[name](**{argument: value})
    model = KL_FREE_CONFIGURATIONS[name](**{argument: {"beta": 1.0, "free_bits": 0.0}[argument]})  # the default
    config = model.get_config()
    assert not {"beta", "free_bits"} & set(config), "get_config must not emit the KL's shorthands without a KL"
    assert models.VAE.from_config(config).get_config() == config


def test_the_mmd_part_refuses_beta_without_a_kl_term_and_infovae_uses_it_with_one():
    from keras_ae.parts import MMD

    with pytest.raises(ValueError, match=r"^beta=2.0 does nothing with alpha=1: the KL's weight is \(1 - alpha\)"):
        MMD(alpha=1.0, beta=2.0)
    model = _tiny_vae(models.InfoVAE, alpha=0.5, beta=2.0)
    assert model.beta == 2.0 and float(model.loss_weights()["kl_objective"]) == pytest.approx(0.5 * 2.0)
    config = model.get_config()
    assert models.VAE.from_config(config).get_config() == config


def test_wae_takes_alpha_1_only():
    with pytest.raises(ValueError, match=r"alpha is 1 for the WAE \(no KL term\), got 0.5"):
        _tiny_vae(models.WAE, alpha=0.5)
    _tiny_vae(models.WAE, alpha=1.0)


@pytest.mark.parametrize("make, message", [
    (lambda: _tiny_vae(regularizer={"name": "kl", "free_bits": 0.5, "estimator": "monte_carlo"}),
     r"estimator='monte_carlo' does nothing with free_bits=0.5"),
    (lambda: _tiny_vae(models.IWAE, regularizer={"name": "kl", "estimator": "monte_carlo"}),
     r"estimator='monte_carlo' of KL\(.*\) does nothing with bound='iwae'"),
    (lambda: _tiny_vae(models.BetaTCVAE, dataset_size=100),
     r"^dataset_size=100 does nothing with estimator='mws'"),
    (lambda: models.PixelVAE(_IMAGE, 2, num_layers=1, kernel_size=5, pixel_filters=4, pixel_hidden=4, hidden_units=(8,)),
     r"^kernel_size=5 does nothing with num_layers=1"),
], ids=["kl-estimator-free-bits", "kl-estimator-iwae", "tc-dataset-size-mws", "pixelcnn-kernel-size-one-layer"])
def test_part_arguments_of_another_mode_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


SEMISUPERVISED = {
    "M2": lambda **k: models.M2((6,), 2, num_classes=3, hidden_units=(4,), seed=0, **k),
    "ADGM": lambda **k: models.ADGM((6,), 2, num_classes=3, auxiliary_dim=2, hidden_units=(4,), seed=0, **k),
    "SDGM": lambda **k: models.ADGM((6,), 2, num_classes=3, auxiliary_dim=2, skip=True, hidden_units=(4,), seed=0,
                                    **k),
}


@pytest.mark.parametrize("name", sorted(SEMISUPERVISED))
@pytest.mark.parametrize("argument, value, reason", [
    ("regularizer", "mmd", r"its bounds L\(x, y\) and U\(x\) are ELBOs whose latent term is KL"),
    ("regularizer", {"name": "kl", "beta": 2.0}, r"its bounds"),  # even the KL part: beta is the model's
    ("bound", "iwae", r"its unlabelled bound marginalises y"),
])
def test_semisupervised_models_refuse_a_regularizer_or_bound_with_the_reason(name, argument, value, reason):
    with pytest.raises(ValueError, match=rf"^{'ADGM' if name == 'SDGM' else name} takes no {argument}=.*: {reason}"):
        SEMISUPERVISED[name](**{argument: value})


@pytest.mark.parametrize("make", [
    lambda **k: SEMISUPERVISED["M2"](**k),
    lambda **k: models.ConditionalVAE((6,), 2, num_classes=3, hidden_units=(4,), seed=0, **k),
], ids=["M2", "ConditionalVAE"])
def test_conditional_models_refuse_a_prior_that_reads_the_posterior(make):
    with pytest.raises(ValueError, match=r"cannot use the prior VampPrior.*q\(z \| x, y\) also takes the condition y"):
        make(prior="vampprior")


@pytest.mark.parametrize("name", sorted(SEMISUPERVISED))
def test_semisupervised_models_compose_posterior_and_prior_parts(name, rng):
    x = (rng.uniform(size=(4, 6)) > 0.5).astype(np.float32)
    y = np.array([0, 1, -1, 2], np.int32)
    model = SEMISUPERVISED[name](posterior={"name": "planar", "steps": 2}, prior={"name": "mixture", "components": 2})
    assert type(model.posterior_part).__name__ == "PlanarPosterior" and model.prior_part.components == 2
    model.build()
    model.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=False, steps_per_execution=1)
    before = np.asarray(model.prior_part.locs)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"]) and np.isfinite(np.asarray(model.log_likelihood(x, num_samples=3, seed=0))).all()
    assert np.max(np.abs(np.asarray(model.prior_part.locs) - before)) > 0  # the prior is trained on the bounds
    config = model.get_config()
    assert type(model).from_config(config).get_config() == config


def _far_mixture_prior(model, location=6.0):
    """Pin every component of a MixturePrior at ``location`` with a negligible scale (e^-12)."""
    prior = model.prior_part
    prior.locs.assign(np.full(prior.locs.shape, location, np.float32))
    prior.log_scales.assign(np.full(prior.log_scales.shape, -12.0, np.float32))


@pytest.mark.parametrize("make", [
    lambda: models.ConditionalVAE((6,), 2, num_classes=3, hidden_units=(4,), prior="mixture", seed=0),
    lambda: SEMISUPERVISED["M2"](prior="mixture"),
    lambda: SEMISUPERVISED["ADGM"](prior="mixture"),
], ids=["ConditionalVAE", "M2", "ADGM"])
def test_conditional_sampling_draws_from_the_prior_part(make):
    """``sample`` and the exported ``sample(y)`` draw ``z`` with the prior part's sampler, not from N(0, I)."""
    model = make()
    model.build()
    _far_mixture_prior(model)
    y = np.array([0, 1, 2], np.int32)
    expected = np.asarray(model.decode(np.full((3, 2), 6.0, np.float32), y=y))
    exported = model.export_endpoints()["sample"].fn(tf.constant(y), tf.constant(1.0))["x"]  # a fresh key
    np.testing.assert_allclose(np.asarray(exported), expected, atol=1e-3)
    np.testing.assert_allclose(np.asarray(model.sample(3, seed=4, y=y)), expected, atol=1e-3)
    assert np.max(np.abs(expected - np.asarray(model.decode(np.zeros((3, 2), np.float32), y=y)))) > 1e-2


def test_sdgm_sampling_draws_z_from_the_prior_part():
    """SDGM: ``z`` from the prior part, then ``a ~ p(a | y, z)`` and the mean of ``p(x | a, y, z)``."""
    from keras_ae import samplers

    model = SEMISUPERVISED["SDGM"](prior="mixture")
    model.build()
    _far_mixture_prior(model)
    y = tf.constant([0, 1, 2], tf.int32)
    seed = samplers.sampling_seed(5)
    _, aux_seed = samplers.split_seed(seed, 2)
    expected = model._decode_sampled(tf.fill([3, 2], 6.0), y, aux_seed)
    np.testing.assert_allclose(np.asarray(model._sample(3, seed, 1.0, y=y)), np.asarray(expected), atol=1e-3)
    np.testing.assert_allclose(np.asarray(model.sample(3, seed=5, y=y)), np.asarray(expected), atol=1e-3)


def test_conditional_export_records_what_the_parts_cannot_convert():
    model = models.ConditionalVAE((6,), 3, num_classes=3, hidden_units=(4,), posterior="von_mises_fisher",
                                  prior="spherical_uniform", seed=0)
    assert "Bessel" in model.export_endpoints()["score"].tflite_skip
    assert models.ConditionalVAE((6,), 2, num_classes=3, hidden_units=(4,)).export_endpoints()["score"].tflite_skip is None


@pytest.mark.parametrize("argument, value", [
    ("posterior", "iaf"), ("prior", "mixture"), ("regularizer", "mmd"), ("bound", "iwae"), ("num_samples", 2),
    ("beta", 2.0), ("likelihood", "gaussian"),
])
def test_draw_refuses_the_vae_part_arguments(argument, value):
    """DRAW's posterior, prior and objective are its recurrence's own: it takes none of the VAE's parts."""
    with pytest.raises(ValueError, match=rf"{argument}.*{re.escape(repr(value))}"):
        FACTORIES["DRAW"](**{argument: value})


HIERARCHIES = {
    "TwoLayerVAE": lambda **k: models.TwoLayerVAE((6,), latent_dims=(2, 2), hidden_units=(4,), seed=0, **k),
    "LadderVAE": lambda **k: models.LadderVAE((6,), latent_dims=(2, 2), hidden_units=(4,), seed=0, **k),
}


@pytest.mark.parametrize("name", sorted(HIERARCHIES))
@pytest.mark.parametrize("argument, value, reason", [
    ("posterior", "iaf", "its posterior is the hierarchy's chain of Gaussian layers"),
    ("prior", "mixture", r"its prior is the hierarchy's chain"),
    ("regularizer", "mmd", "its latent term is the sum of the layers' KLs"),
    ("bound", "iwae", "it trains on the ELBO with the layers' KLs"),
])
def test_hierarchies_refuse_the_parts_of_their_own_with_the_reason(name, argument, value, reason):
    with pytest.raises(ValueError, match=rf"^{name} takes no {argument}={value!r}: {reason}"):
        HIERARCHIES[name](**{argument: value})


@pytest.mark.parametrize("name", sorted(HIERARCHIES))
def test_hierarchies_use_beta_and_num_samples(name, rng):
    x = (rng.uniform(size=(4, 6)) > 0.5).astype(np.float32)
    plain, tempered = HIERARCHIES[name](), HIERARCHIES[name](beta=0.5)
    tempered.build()
    plain.build()
    tempered.set_weights(plain.get_weights())
    terms = plain.loss_terms(x)
    np.testing.assert_allclose(np.asarray(tempered.per_example_objective(tempered.loss_terms(x))),
                               np.asarray(terms["reconstruction"] + 0.5 * terms["kl"]), rtol=1e-5)
    many = HIERARCHIES[name](num_samples=3)
    many.build()
    many.set_weights(plain.get_weights())
    assert many.num_samples == 3
    assert not np.allclose(np.asarray(many.loss_terms(x)["reconstruction"]), np.asarray(terms["reconstruction"]))


def test_pixel_vae_composes_the_parts_and_scores_deterministic_codes_by_their_cost(rng):
    x = (rng.uniform(size=(3,) + _IMAGE) > 0.5).astype(np.float32)
    model = FACTORIES["PixelVAE"](free_bits=0.0, prior={"name": "mixture", "components": 2},
                                  regularizer={"name": "mmd", "deterministic_codes": True})
    assert model.prior_part.components == 2 and "mmd" in model.TERMS
    code = model.encode(x)
    cost = -np.asarray(model.log_prob_of_codes(tf.constant(x), tf.constant(code)[None])[0])
    np.testing.assert_allclose(np.asarray(model.score(x)), cost, rtol=1e-5)
    config = model.get_config()
    assert models.PixelVAE.from_config(config).get_config() == config


#: every configuration of the VAE family touched by the refusals above, with non-default parts.
ROUND_TRIPS = {
    "IWAE": lambda: _tiny_vae(models.IWAE),
    "IAFVAE": lambda: _tiny_vae(models.IAFVAE, flow_hidden_units=(4,), posterior_min_scale=1e-3),
    "PlanarVAE": lambda: _tiny_vae(models.PlanarVAE, flow_steps=2),
    "MoGPriorVAE": lambda: _tiny_vae(models.MoGPriorVAE, prior_components=2),
    "VampPriorVAE": lambda: _tiny_vae(models.VampPriorVAE, pseudo_inputs=2),
    "MAFPriorVAE": lambda: _tiny_vae(models.MAFPriorVAE, prior_hidden_units=(4,)),
    "InfoVAE-alpha": lambda: _tiny_vae(models.InfoVAE, alpha=0.5, beta=2.0),
    "BetaTCVAE-mss": lambda: _tiny_vae(models.BetaTCVAE, estimator="mss", dataset_size=100),
    "FactorVAE": lambda: _tiny_vae(models.FactorVAE, discriminator_units=(3,), beta=2.0),
    "DIPVAE": lambda: _tiny_vae(models.DIPVAE, dip_type="ii"),
    "CapacityVAE": lambda: _tiny_vae(models.CapacityVAE, free_bits=0.1),
    "CategoricalVAE": lambda: models.CategoricalVAE((6,), num_variables=2, num_classes=2, hidden_units=(4,), seed=0),
    "hyperspherical": lambda: _tiny_vae(**_SPHERE),
    "gaussian-fixed": lambda: _tiny_vae(likelihood="gaussian", decoder_scale="fixed", decoder_fixed_scale=0.5),
    "ConditionalVAE-mixture": lambda: models.ConditionalVAE((6,), 2, num_classes=3, hidden_units=(4,), seed=0,
                                                            prior="mixture", posterior="iaf"),
    "SDGM-parts": lambda: SEMISUPERVISED["SDGM"](posterior="planar", prior="maf", posterior_min_scale=1e-3),
    "TwoLayerVAE": lambda: HIERARCHIES["TwoLayerVAE"](beta=0.5, num_samples=2, posterior_min_scale=1e-3),
    "LadderVAE": lambda: HIERARCHIES["LadderVAE"](likelihood="gaussian", decoder_scale="global"),
    "PixelVAE-iwae": lambda: FACTORIES["PixelVAE"](free_bits=0.0, bound="iwae", num_samples=2),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_every_touched_configuration_round_trips_its_config(name):
    model = ROUND_TRIPS[name]()
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
