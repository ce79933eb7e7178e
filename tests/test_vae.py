"""VAE and IWAE: closed forms against Monte Carlo, bounds, free bits, beta, seeds, save/load, bad input.

Statistical comparisons use a tolerance of a few standard errors of the estimator.
"""

import numpy as np
import pytest
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import objectives
from keras_ae.models import IWAE, VAE

tfd = tfp.distributions


def tiny_vae(cls=VAE, **kwargs):
    args = dict(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(32,), seed=3)
    args.update(kwargs)
    return cls(**args)


@pytest.fixture(scope="module")
def trained_vae(binary_digits):
    x_train, _ = binary_digits
    keras.utils.set_random_seed(0)
    model = VAE(input_shape=(8, 8, 1), latent_dim=8, hidden_units=(64,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x_train, epochs=15, batch_size=64, verbose=0)
    return model


def mean_and_se(values):
    values = np.asarray(values, np.float64)
    return values.mean(), values.std(ddof=1) / np.sqrt(values.size)


# -- the KL ------------------------------------------------------------------------------------
def test_analytic_kl_matches_monte_carlo():
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(5, 3)).astype("float32")
    scale = rng.uniform(0.2, 2.0, size=(5, 3)).astype("float32")
    q = tfd.Independent(tfd.Normal(loc, scale), 1)
    p = tfd.Independent(tfd.Normal(tf.zeros(3), 1.0), 1)
    analytic = objectives.kl_divergence(q, p).numpy()
    n = 20000
    z = q.sample(n, seed=tf.constant([1, 2]))
    log_ratio = (q.log_prob(z) - p.log_prob(z)).numpy()  # [n, 5]
    mc = log_ratio.mean(axis=0)
    se = log_ratio.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(mc - analytic) < 4 * se), (mc, analytic, se)
    # the Monte Carlo branch of the same function, forced
    forced = objectives.kl_divergence(q, p, seed=tf.constant([1, 2]), num_samples=n, analytic=False).numpy()
    np.testing.assert_allclose(forced, mc, rtol=1e-4, atol=1e-4)
    # the per-dimension KL sums to the total
    np.testing.assert_allclose(objectives.kl_per_dimension(q, p).numpy().sum(1), analytic, rtol=1e-5)


def test_kl_falls_back_to_monte_carlo_without_a_closed_form():
    q = tfd.Independent(tfd.Normal(tf.constant([[0.5, -1.0]]), 0.7), 1)
    p = tfd.Independent(tfd.StudentT(3.0, tf.zeros(2), 1.0), 1)  # no registered KL(Normal || StudentT)
    with pytest.raises(NotImplementedError):
        objectives.kl_divergence(q, p, analytic=True)
    n = 20000
    estimate = objectives.kl_divergence(q, p, seed=tf.constant([3, 3]), num_samples=n).numpy()
    z = q.sample(n, seed=tf.constant([9, 9]))
    ratio = (q.log_prob(z) - p.log_prob(z)).numpy()[:, 0]
    se = ratio.std(ddof=1) / np.sqrt(n)
    assert abs(estimate[0] - ratio.mean()) < 4 * np.sqrt(2) * se


def test_model_kl_is_analytic_and_matches_sampled_log_ratio(binary_digits):
    model = tiny_vae()
    x = binary_digits[1][:6]
    q = model.posterior(x)
    kl = model.kl(q).numpy()
    assert model.analytic_kl
    z = model.draw_codes(q, 20000, tf.constant([4, 5]))
    log_qz, log_pz = model.latent_log_probs(q, z)
    ratio = (log_qz - log_pz).numpy()
    se = ratio.std(axis=0, ddof=1) / np.sqrt(ratio.shape[0])
    assert np.all(np.abs(ratio.mean(0) - kl) < 4 * se + 1e-6)


def test_fixed_noise_monte_carlo_kl_agrees_with_a_large_sample(binary_digits):
    """Without a seed a model with no closed-form KL (mixture prior) reparameterizes
    ``SCORE_KL_SAMPLES`` fixed draws: deterministic, and within a few of its own standard errors
    ``std(log q - log p) / sqrt(S)`` of a 20,000-sample estimate."""
    from keras_ae.models import MoGPriorVAE
    from keras_ae.models.vae.vae import SCORE_KL_SAMPLES
    model = tiny_vae(MoGPriorVAE, prior_components=3)
    x = binary_digits[1][:6]
    q = model.posterior(x)
    fixed = model.kl(q).numpy()
    np.testing.assert_array_equal(fixed, model.kl(q).numpy())
    z = model.draw_codes(q, 20000, tf.constant([6, 7]))
    log_qz, log_pz = model.latent_log_probs(q, z)
    ratio = (log_qz - log_pz).numpy()
    se_fixed = ratio.std(axis=0, ddof=1) / np.sqrt(SCORE_KL_SAMPLES)
    assert np.all(np.abs(ratio.mean(0) - fixed) < 4 * se_fixed)


# -- bounds --------------------------------------------------------------------------------------
def test_iw_bound_of_one_sample_is_its_log_weight():
    lw = tf.constant([[-3.0, -7.5]])
    np.testing.assert_allclose(objectives.importance_weighted_bound(lw).numpy(), lw.numpy()[0], rtol=1e-6)
    # logmeanexp of equal weights is that weight, whatever k
    np.testing.assert_allclose(objectives.importance_weighted_bound(tf.fill([50, 2], -4.0)).numpy(), [-4.0, -4.0],
                               rtol=1e-6)


def test_iw_bound_does_not_decrease_with_k_and_k1_is_the_elbo(trained_vae, binary_digits):
    model = trained_vae
    x = binary_digits[1][:300]
    bounds = {k: model.log_likelihood(x, num_samples=k, seed=10 + k).numpy() for k in (1, 5, 50)}
    for small, large in ((1, 5), (5, 50)):
        mean, se = mean_and_se(bounds[large] - bounds[small])
        assert mean > -3 * se, (small, large, mean, se)
    assert bounds[50].mean() > bounds[1].mean()

    # k = 1: a one-sample ELBO estimate; its mean over seeds matches the analytic-KL ELBO
    q = model.posterior(x)
    ones = np.stack([model.log_likelihood(x, num_samples=1, seed=s).numpy() for s in range(20)])  # [20, B]
    elbo_terms = []
    for s in range(20):
        log_px = model.importance_samples(x, 1, seed=1000 + s).log_px_given_z
        elbo_terms.append(log_px.numpy()[0] - objectives.kl_divergence(q, model.prior()).numpy())
    mean, se = mean_and_se(ones.mean(0) - np.mean(elbo_terms, axis=0))
    assert abs(mean) < 4 * se, (mean, se)

    # log_likelihood with many samples is at least the ELBO on average
    nll_gap = bounds[50] - np.mean(elbo_terms, axis=0)
    mean, se = mean_and_se(nll_gap)
    assert mean > -3 * se and mean > 0


def test_iwae_k1_objective_is_the_one_sample_elbo(binary_digits):
    x = tf.convert_to_tensor(binary_digits[1][:16])
    model = tiny_vae(IWAE, num_samples=1)
    terms = model.loss_terms(x, training=True)
    seed = model.noise_seed(stream=1)
    log_px, log_pz, log_qz = model._importance_samples(x, 1, seed)[:3]
    one_sample_elbo = (log_px + log_pz - log_qz).numpy()[0]
    np.testing.assert_allclose(terms["iw_bound"].numpy(), one_sample_elbo, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(-terms["iw_objective"].numpy(), one_sample_elbo, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(terms["reconstruction"].numpy(), -log_px.numpy()[0], rtol=1e-6)


def test_iwae_trains_on_the_bound(binary_digits):
    model = tiny_vae(IWAE, num_samples=3)
    model.compile(optimizer="adam")
    history = model.fit(binary_digits[0][:128], epochs=1, batch_size=64, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert history["loss"][0] == pytest.approx(-history["iw_bound"][0], rel=1e-5)
    assert set(history) >= {"reconstruction", "kl", "elbo", "iw_bound"}


# -- free bits and beta --------------------------------------------------------------------------
def test_free_bits_kl_floors_each_dimension():
    kl_dims = tf.constant([[0.1, 2.0, 0.5], [0.3, 4.0, 0.9]])
    per_example = objectives.free_bits_kl(kl_dims, 1.0).numpy()
    # dimension means 0.2 (floored), 3.0 (kept), 0.7 (floored)
    np.testing.assert_allclose(per_example.mean(), 1.0 + 3.0 + 1.0, rtol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(kl_dims)
        value = tf.reduce_mean(objectives.free_bits_kl(kl_dims, 1.0))
    np.testing.assert_allclose(tape.gradient(value, kl_dims).numpy(), [[0, 0.5, 0], [0, 0.5, 0]])


def test_free_bits_model_holds_kl_at_floor_without_gradient(binary_digits):
    floor = 5.0  # far above the KL of an untrained encoder in every dimension
    model = tiny_vae(free_bits=floor)
    x = tf.convert_to_tensor(binary_digits[1][:32])
    with tf.GradientTape() as tape:
        terms = model.loss_terms(x, training=True)
        penalty = tf.reduce_mean(terms["kl_objective"])
    np.testing.assert_allclose(penalty.numpy(), floor * model.latent_dim, rtol=1e-6)
    assert np.all(terms["kl"].numpy() < penalty.numpy())
    grads = tape.gradient(penalty, model.trainable_variables)
    assert all(g is None or float(tf.reduce_max(tf.abs(g))) == 0.0 for g in grads)


@pytest.mark.parametrize("setting", [dict(beta=0.0), dict(kl_weight=0.0)])
def test_zero_kl_weight_removes_the_kl_gradient(binary_digits, setting):
    model = tiny_vae(beta=setting.get("beta", 1.0))
    if "kl_weight" in setting:
        model.kl_weight.assign(setting["kl_weight"])
    x = tf.convert_to_tensor(binary_digits[1][:32])
    model.build()
    seed_stream = model.noise_seed(stream=1)
    with tf.GradientTape(persistent=True) as tape:
        terms = model.loss_terms(x, training=True)
        total = tf.reduce_mean(model.per_example_objective(terms))
        reconstruction = tf.reduce_mean(terms["reconstruction"])
    for g_total, g_rec in zip(tape.gradient(total, model.trainable_variables),
                              tape.gradient(reconstruction, model.trainable_variables)):
        if g_rec is None:
            assert g_total is None or float(tf.reduce_max(tf.abs(g_total))) == 0.0
        else:
            np.testing.assert_allclose(g_total.numpy(), g_rec.numpy(), rtol=1e-6, atol=1e-7)
    assert seed_stream.shape == (2,)
    # the KL itself is still reported
    assert float(tf.reduce_mean(terms["kl"])) > 0


# -- determinism ---------------------------------------------------------------------------------
def test_same_seed_same_samples():
    model = tiny_vae()
    a, b, c = model.sample(5, seed=7), model.sample(5, seed=7), model.sample(5, seed=8)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())
    assert a.shape == (5, 8, 8, 1)
    exported = model.export_endpoints()["sample"].fn(tf.constant(4), tf.constant(1.0))["x"]
    assert exported.shape == (4, 8, 8, 1)
    assert 0.0 <= float(tf.reduce_min(exported)) and float(tf.reduce_max(exported)) <= 1.0


def test_posterior_mean_path_is_deterministic(binary_digits):
    model = tiny_vae()
    x = binary_digits[1][:10]
    for method in (model.encode, model.reconstruct, model.score):
        np.testing.assert_array_equal(method(x).numpy(), method(x).numpy())
    q = model.posterior(x)
    np.testing.assert_allclose(model.encode(x).numpy(), q.mean().numpy(), rtol=1e-6)
    expected = -model.likelihood(q.mean()).log_prob(x) + objectives.kl_divergence(q, model.prior())
    np.testing.assert_allclose(model.score(x).numpy(), expected.numpy(), rtol=1e-5)
    outputs = model.encode_outputs(x)
    assert set(outputs) == {"code", "mean", "scale"} and np.all(outputs["scale"].numpy() > 0)
    np.testing.assert_array_equal(model.log_likelihood(x, 20, seed=1).numpy(),
                                  model.log_likelihood(x, 20, seed=1).numpy())


def test_log_likelihood_chunks_cover_all_samples(binary_digits):
    model = tiny_vae()
    x = binary_digits[1][:4]
    # chunking changes which samples are drawn, not what is estimated: compare within the noise
    a = np.stack([model.log_likelihood(x, 30, seed=s, chunk_size=30).numpy() for s in range(8)])
    b = np.stack([model.log_likelihood(x, 30, seed=s, chunk_size=7).numpy() for s in range(8)])
    se = np.sqrt(a.var(0, ddof=1) / 8 + b.var(0, ddof=1) / 8)
    assert np.all(np.abs(a.mean(0) - b.mean(0)) < 4 * se + 1e-3)


# -- likelihoods, save/load, config --------------------------------------------------------------
@pytest.mark.parametrize("args", [
    dict(likelihood="gaussian", decoder_scale="learned"),
    dict(likelihood="gaussian", decoder_scale="global"),
    dict(likelihood="gaussian", decoder_scale="fixed", decoder_fixed_scale=0.3),
    dict(likelihood="continuous_bernoulli"),
    dict(likelihood="bernoulli", architecture="conv", filters=(8, 16), hidden_units=()),
])
def test_likelihoods_fit_one_step(digits, args):
    model = tiny_vae(**args)
    model.compile(optimizer="adam")
    history = model.fit(digits[0][:64], epochs=1, batch_size=32, verbose=0).history
    assert all(np.isfinite(v[0]) for v in history.values())
    mean = model.decode(np.zeros((2, 4), "float32")).numpy()
    assert mean.shape == (2, 8, 8, 1)
    if args["likelihood"] == "continuous_bernoulli":
        assert mean.min() >= 0 and mean.max() <= 1


def test_save_load_round_trip(tmp_path, binary_digits):
    model = tiny_vae(beta=2.0, free_bits=0.1, likelihood="continuous_bernoulli")
    model.compile(optimizer="adam")
    model.fit(binary_digits[0][:64], epochs=1, batch_size=32, verbose=0)
    model.kl_weight.assign(0.25)
    path = str(tmp_path / "vae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is VAE and loaded.get_config() == model.get_config()
    x = binary_digits[1][:5]
    for name in ("encode", "reconstruct", "score"):
        np.testing.assert_allclose(getattr(loaded, name)(x).numpy(), getattr(model, name)(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(loaded.sample(3, seed=1).numpy(), model.sample(3, seed=1).numpy(), rtol=1e-6)
    assert float(loaded.kl_weight.numpy()) == 0.25


def test_iwae_config_round_trip():
    model = tiny_vae(IWAE, num_samples=7)
    clone = VAE.from_config(model.get_config())  # IWAE is a named configuration: VAE(bound="iwae")
    assert clone.get_config() == model.get_config() and clone.num_samples == 7 and clone.bound == "iwae"


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, args, message", [
    (VAE, dict(latent_dim=0), "latent_dim must be an integer >= 1, got 0"),
    (VAE, dict(num_samples=0), "num_samples must be an integer >= 1, got 0"),
    (IWAE, dict(num_samples=0), "num_samples must be an integer >= 1, got 0"),
    (VAE, dict(beta=-1.0), "beta must be >= 0, got -1.0"),
    (VAE, dict(free_bits=-0.5), "free_bits must be >= 0, got -0.5"),
    (VAE, dict(likelihood="poisson"), "likelihood must be one of"),
    (VAE, dict(likelihood="gaussian", decoder_scale="per-pixel"), "decoder_scale must be one of"),
    (IWAE, dict(free_bits=1.0), "free_bits must be 0 for the IWAE"),
])
def test_bad_arguments(cls, args, message):
    with pytest.raises(ValueError, match=message):
        tiny_vae(cls, **args)


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous_bernoulli"])
def test_data_outside_unit_interval_is_rejected(likelihood):
    model = tiny_vae(likelihood=likelihood)
    bad = np.full((2, 8, 8, 1), 1.5, "float32")
    for call in (model.encode, model.score, model.reconstruct, model.posterior):
        with pytest.raises(ValueError, match=rf"outside \[0, 1\].*{likelihood}"):
            call(bad)
    with pytest.raises(ValueError, match="outside"):
        model.fit(bad, epochs=1, verbose=0)


def test_gaussian_accepts_any_real_data_but_not_nan_or_wrong_shape():
    model = tiny_vae(likelihood="gaussian")
    assert model.score(np.full((2, 8, 8, 1), 3.0, "float32")).shape == (2,)
    with pytest.raises(ValueError, match="NaN"):
        model.score(np.full((2, 8, 8, 1), np.nan, "float32"))
    with pytest.raises(ValueError, match="shape"):
        model.encode(np.zeros((2, 64), "float32"))
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        model.sample(-1)
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        model.log_likelihood(np.zeros((2, 8, 8, 1), "float32"), num_samples=0)
