"""Hierarchical VAEs (TwoLayerVAE, LadderVAE): the bounds, the per-layer terms and the contract."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import evaluation, objectives
from keras_ae.models import VAE, LadderVAE, TwoLayerVAE

TINY = dict(input_shape=(8, 8, 1), latent_dims=(3, 2), hidden_units=(16,), top_hidden_units=(8,), seed=0)


def _collapse(head):
    """Make a Gaussian head output N(0, I) whatever its input: zero kernel, bias at loc 0 and scale 1."""
    kernel, bias = head.projection.proj.get_weights()
    bias = bias.reshape(-1, 2)  # [size, (loc, raw scale)]
    bias[:, 0] = 0.0
    bias[:, 1] = np.log(np.expm1(1.0 - head.min_scale))  # softplus(raw) + min_scale = 1
    head.projection.proj.set_weights([np.zeros_like(kernel), bias.reshape(-1)])


@pytest.fixture(scope="module")
def trained(binary_digits):
    """A TwoLayerVAE and a LadderVAE trained briefly on binarized digits."""
    x_train, _ = binary_digits
    models = {}
    for cls in (TwoLayerVAE, LadderVAE):
        model = cls(input_shape=(8, 8, 1), latent_dims=(6, 3), hidden_units=(64,), top_hidden_units=(32,), seed=0)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        model.fit(x_train, epochs=8, batch_size=64, verbose=0)
        models[cls.__name__] = model
    return models


def test_collapsed_top_layer_has_the_one_layer_vae_bound(binary_digits):
    """p(z1|z2) = N(0, I) ignoring z2 and q(z2|z1) = p(z2): the two-layer bound is the VAE's, draw by draw."""
    x = binary_digits[1][:20]
    hvae = TwoLayerVAE(**TINY)
    vae = VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0)
    hvae.build()
    vae.build()
    for name in ("encoder_body", "encoder_head", "decoder_body", "decoder_head"):
        getattr(vae, name).set_weights(getattr(hvae, name).get_weights())
    _collapse(hvae.prior_heads[0])      # p(z1 | z2) = N(0, I)
    _collapse(hvae.posterior_heads[0])  # q(z2 | z1) = N(0, I) = p(z2)

    record = hvae.importance_samples(x, num_samples=64, seed=3)
    z1 = record.codes[..., :3]
    vae_log_weights = (vae.log_prob_of_codes(tf.constant(x), z1) + vae.prior().log_prob(z1)
                       - vae.posterior(x).log_prob(z1))
    np.testing.assert_allclose(record.log_weights(), vae_log_weights, atol=2e-4)
    # ... so every per-example bound on these draws is the VAE's: the ELBO and the importance-weighted one.
    np.testing.assert_allclose(tf.reduce_mean(record.log_weights(), 0), tf.reduce_mean(vae_log_weights, 0), atol=2e-4)
    np.testing.assert_allclose(objectives.importance_weighted_bound(record.log_weights()),
                               objectives.importance_weighted_bound(vae_log_weights), atol=2e-4)
    # The top layer carries nothing: its KL is 0, and the bottom layer's is the VAE's KL.
    kl = hvae.kl_per_layer(hvae.posterior(x), seed=5, num_samples=4000)
    np.testing.assert_allclose(kl["z2"], 0.0, atol=1e-4)
    np.testing.assert_allclose(kl["z1"], vae.kl(vae.posterior(x)), atol=0.1, rtol=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [TwoLayerVAE, LadderVAE])
def test_per_layer_kls_sum_to_the_total_kl(cls, trained, binary_digits):
    model = trained[cls.__name__]
    x = binary_digits[1][:32]
    terms = model.loss_terms(x, training=True)
    np.testing.assert_allclose(terms["kl"], terms["kl_z1"] + terms["kl_z2"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(terms["elbo"], -(terms["reconstruction"] + terms["kl"]), rtol=1e-6, atol=1e-5)
    # The per-layer estimates (closed form where there is one) agree with the joint Monte Carlo KL.
    q = model.posterior(x)
    kl = model.kl_per_layer(q, seed=1, num_samples=4000)
    record = model.importance_samples(x, num_samples=4000, seed=2)
    joint = record.log_qz - record.log_pz  # [k, B]
    stderr = np.std(joint, axis=0) / np.sqrt(4000)
    difference = np.abs((kl["z1"] + kl["z2"]) - np.mean(joint, axis=0))
    assert np.all(difference <= 5 * stderr + 1e-3), (difference, stderr)
    # evaluation.elbo reports each layer's KL, and their sum as kl.
    parts = evaluation.elbo(model, x, num_samples=4)
    np.testing.assert_allclose(parts["kl"], parts["kl_z1"] + parts["kl_z2"], rtol=1e-6)
    # kl_z1 of the two-layer model is a Monte Carlo estimate (4 draws): per example it may dip
    # below 0 by its noise, so its mean over the 32 examples is what must be positive
    assert np.mean(parts["kl_z1"]) > 0 and np.all(parts["kl_z2"] > -1e-6)


@pytest.mark.parametrize("cls", [TwoLayerVAE, LadderVAE])
def test_importance_sampled_log_likelihood_is_above_the_bound_and_tightens_with_k(cls, trained, binary_digits):
    model = trained[cls.__name__]
    x = binary_digits[1][:200]
    per_elbo = np.asarray(evaluation.elbo(model, x, num_samples=10)["elbo"])
    per_k = {k: np.asarray(evaluation.log_likelihood(model, x, num_samples=k, seed=4)) for k in (1, 10, 100)}
    elbo, log_px = per_elbo.mean(), {k: v.mean() for k, v in per_k.items()}

    def below(a, b):
        """Mean of ``a`` below that of ``b`` up to 3 paired standard errors of the per-example difference:
        when the posterior is tight the bounds differ by less than their Monte Carlo noise (4e-4 nats seen)."""
        diff = np.asarray(b, np.float64) - np.asarray(a, np.float64)
        return diff.mean() > -3 * diff.std(ddof=1) / np.sqrt(len(diff))

    assert abs(log_px[1] - elbo) < 0.5  # k = 1 is the ELBO, up to Monte Carlo noise
    assert below(per_elbo, per_k[10]) and below(per_k[10], per_k[100]) and below(per_k[1], per_k[10])
    assert log_px[1] < log_px[100]  # over two decades of k the bound does tighten


def test_precision_weighted_gaussian_is_the_normalized_product():
    loc_a, scale_a, loc_b, scale_b = 1.0, 0.5, -2.0, 2.0
    loc, scale = (float(t) for t in objectives.precision_weighted_gaussian(loc_a, scale_a, loc_b, scale_b))
    z = np.linspace(-3, 3, 7)

    def log_normal(z, m, s):
        return -0.5 * ((z - m) / s) ** 2 - np.log(s)

    gap = log_normal(z, loc_a, scale_a) + log_normal(z, loc_b, scale_b) - log_normal(z, loc, scale)
    np.testing.assert_allclose(gap, gap[0], atol=1e-5)  # the product is proportional to N(loc, scale^2)
    np.testing.assert_allclose(scale ** -2, scale_a ** -2 + scale_b ** -2, rtol=1e-6)


def test_ladder_posterior_combines_the_bottom_up_estimate_with_the_generative_layer(binary_digits):
    model = LadderVAE(**TINY)
    x = binary_digits[1][:5]
    q = model.posterior(x)
    z = q.sample(2, seed=1)
    params = q.conditional_params(z)
    (loc_hat_1, scale_hat_1), (loc_hat_2, scale_hat_2) = model.posterior_features(tf.constant(x))
    loc_p, scale_p = model.prior_conditional(0, q.split(z))
    np.testing.assert_allclose(params[1][0], loc_hat_2)  # the top layer: bottom-up only
    np.testing.assert_allclose(params[1][1], scale_hat_2)
    np.testing.assert_allclose(params[0][1] ** -2, scale_hat_1 ** -2 + scale_p ** -2, rtol=1e-4)
    # The generative networks are shared: the prior's conditional is the same function.
    np.testing.assert_allclose(model.prior().conditional_params(z)[0][0], loc_p, rtol=1e-6)


def test_evaluation_reports_kl_and_active_units_per_layer(trained, binary_digits):
    from zoo import runner

    model = trained["TwoLayerVAE"]
    x = binary_digits[1][:64]
    metrics = runner.test_metrics(model, x, num_samples=5)  # what zoo train and zoo eval write
    for name, size in (("z1", 6), ("z2", 3)):
        assert isinstance(metrics[f"active_units_{name}"], int) and metrics[f"latent_units_{name}"] == size
        assert metrics[f"kl_{name}"] >= 0 and f"test_kl_{name}" in metrics
    assert metrics["active_units"] == metrics["active_units_z1"] + metrics["active_units_z2"]
    assert metrics["latent_units"] == 9
    np.testing.assert_allclose(metrics["kl"], metrics["kl_z1"] + metrics["kl_z2"], rtol=1e-6)
    definitions = evaluation.describe_metrics(metrics)
    assert "z2" in definitions["active_units_z2"] and "z1" in definitions["kl_z1"]
    counts = evaluation.active_units(model, x, per_layer=True)
    assert counts == {"z1": metrics["active_units_z1"], "z2": metrics["active_units_z2"]}
    # A one-layer model keeps its single count.
    vae = VAE(input_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0)
    assert set(evaluation.active_units(vae, x, per_layer=True)) == {"z"}
    assert "active_units_z" not in evaluation.evaluate_model(vae, x[:8], num_samples=2)


def test_encode_is_the_mean_path_and_decode_reads_the_bottom_layer(binary_digits):
    model = TwoLayerVAE(**TINY)
    x = binary_digits[1][:4]
    outputs = model.encode_outputs(x)
    code = model.encode(x)
    np.testing.assert_allclose(code, np.concatenate([outputs["mean_z1"], outputs["mean_z2"]], axis=1))
    q = model.posterior(x)
    np.testing.assert_allclose(outputs["mean_z1"], q.conditional_params(code)[0][0])  # E_q[z1|x], exact
    moved = np.array(code)
    moved[:, 3:] += 5.0  # the top layer does not reach p(x | z1)
    np.testing.assert_allclose(model.decode(moved), model.decode(code))
    assert model.sample(5, seed=2).shape == (5, 8, 8, 1)


def test_deeper_ladders_and_bad_arguments():
    model = LadderVAE(input_shape=(8, 8, 1), latent_dims=(4, 3, 2), hidden_units=(8,), top_hidden_units=(6,), seed=0)
    x = (np.random.default_rng(0).uniform(size=(4, 8, 8, 1)) > 0.5).astype("float32")
    terms = model.loss_terms(x)
    assert {"kl_z1", "kl_z2", "kl_z3"} <= set(terms) and model.TERMS[-1] == "kl_z3"
    np.testing.assert_allclose(terms["kl"], terms["kl_z1"] + terms["kl_z2"] + terms["kl_z3"], rtol=1e-6)
    assert model.analytic_layers() == (0, 1, 2)
    assert TwoLayerVAE(**TINY).analytic_layers() == (1,)
    assert TwoLayerVAE.from_config(TwoLayerVAE(**TINY).get_config()).latent_dims == (3, 2)
    with pytest.raises(ValueError, match="at least two"):
        TwoLayerVAE(input_shape=(8, 8, 1), latent_dims=(4,))
    with pytest.raises(ValueError, match="sum"):
        LadderVAE(input_shape=(8, 8, 1), latent_dims=(4, 2), latent_dim=5)
    with pytest.raises(ValueError, match="free_bits"):
        LadderVAE(input_shape=(8, 8, 1), latent_dims=(4, 2), free_bits=0.1)
