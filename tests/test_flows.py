"""MADE, normalizing flows and learned priors, checked against closed forms and autodiff.

- MADE's Jacobian is strictly triangular in its order, measured with gradients (not read off the masks);
- every flow's log-det-Jacobian equals log |det| of the autodiff Jacobian; the planar flow stays
  invertible under its constraint;
- a flow posterior's ``log q`` from the sampling direction equals TFP's ``log_prob`` through the
  inverse, and its density integrates to 1 on a grid (2-D latent);
- the mixture prior's and the VampPrior's ``log_prob`` equal a direct NumPy computation;
- samples of each learned prior agree with its density (moments, or the flow's inverse);
- the exported ``sample`` draws from the learned prior.

The contract harness, with SavedModel and TFLite export (every fresh sampler on builtin ops), runs
on each class's tiny configuration beside its recipes (``tests/test_harness_configs.py``).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from keras_ae import models, serving
from keras_ae.layers.flows import AutoregressiveFlow, PlanarBijector, PlanarFlow
from keras_ae.layers.made import MADE

SHAPE = (4, 4, 1)


@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(0).uniform(size=(8,) + SHAPE) > 0.5).astype("float32")


def _randomize(layer, scale=0.5, seed=0):
    """Random weights everywhere (MADE output kernels start at zero, which would hide any dependence)."""
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(scale=scale, size=v.shape).astype("float32"))


def _jacobian(fn, z):
    z = tf.convert_to_tensor(z, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = fn(z)
    return tape.batch_jacobian(y, z).numpy()


# -- MADE --------------------------------------------------------------------------------------
@pytest.mark.parametrize("order,hidden,context", [("natural", (32, 32), 0), ("reversed", (32,), 3),
                                                   ("random", (40,), 2), ([2, 0, 4, 1, 3], (), 0)])
def test_made_jacobian_is_strictly_triangular_in_its_order(order, hidden, context):
    d = 5
    made = MADE(d, num_params=2, hidden_units=hidden, order=order, context_size=context, seed=7, activation="tanh")
    _randomize(made, seed=1)
    rng = np.random.default_rng(2)
    z = rng.normal(size=(6, d)).astype("float32")
    c = tf.constant(rng.normal(size=(6, context)).astype("float32")) if context else None
    rank = np.empty(d, int)
    rank[made.order] = np.arange(d)
    allowed = rank[None, :] < rank[:, None]  # [i, j]: x_j comes strictly before x_i
    for p in range(2):
        jac = np.abs(_jacobian(lambda v: made(v, context=c)[..., p], z))  # [B, i, j]
        assert np.all(jac[:, ~allowed] == 0.0), f"output depends on itself or a later input (order {order})"
        # Every allowed dependence is present (random weights, enough hidden units): the masks are
        # not simply all zero.
        assert np.all(jac.max(axis=0)[allowed] > 0.0)
    if context:  # the context reaches every output
        with tf.GradientTape() as tape:
            tape.watch(c)
            y = made(z, context=c)
        assert np.all(np.abs(tape.jacobian(y, c).numpy()).sum(axis=(0, 3, 4)) > 0)


def test_made_broadcasts_samples_against_a_batch_context_and_checks_arguments():
    made = MADE(3, num_params=2, hidden_units=(8,), context_size=2)
    assert made(tf.zeros([4, 5, 3]), context=tf.zeros([5, 2])).shape == (4, 5, 3, 2)
    with pytest.raises(ValueError, match="order must be one of"):
        MADE(3, order=[0, 0, 1])
    with pytest.raises(ValueError, match="order must be one of"):
        MADE(3, order="sideways")
    with pytest.raises(ValueError, match="num_params must be an integer >= 1"):
        MADE(3, num_params=0)
    with pytest.raises(ValueError, match="context_size=2 got context None"):
        made(tf.zeros([5, 3]))
    clone = MADE.from_config(MADE(4, order="random", seed=3).get_config())
    np.testing.assert_array_equal(clone.order, MADE(4, order="random", seed=3).order)


# -- flows ---------------------------------------------------------------------------------------
def _planar(seed=0, d=4, batch=5, u_scale=3.0):
    rng = np.random.default_rng(seed)
    u, w = rng.normal(scale=u_scale, size=(batch, d)), rng.normal(size=(batch, d))
    u[0] = -4.0 * w[0]  # violates w.u >= -1 before the constraint: u_hat must fix it
    return PlanarBijector(u.astype("float32"), w.astype("float32"), rng.normal(size=batch).astype("float32"))


def _autoregressive(iaf, context_size=0, seed=0):
    flow = AutoregressiveFlow(4, num_steps=3, hidden_units=(16,), context_size=context_size,
                              inverse_autoregressive=iaf, activation="tanh")
    _randomize(flow, seed=seed)
    return flow


@pytest.mark.parametrize("kind", ["planar", "iaf", "maf", "planar_stack"])
def test_flow_log_det_matches_the_log_abs_det_of_the_autodiff_jacobian(kind):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 4)).astype("float32")
    if kind == "planar":
        bijector = _planar()
    elif kind == "planar_stack":
        layer = PlanarFlow(4, num_steps=4)
        bijector = layer.bijector(tf.constant(rng.normal(size=(5, 6)).astype("float32")))
    else:
        context = tf.constant(rng.normal(size=(5, 3)).astype("float32"))
        bijector = _autoregressive(kind == "iaf", 3).bijector(context)
    _, logdet = np.linalg.slogdet(_jacobian(bijector.forward, z).astype(np.float64))
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(z, event_ndims=1).numpy(), logdet, atol=1e-4)
    assert np.ptp(logdet) > 1e-3  # a flow that does something, not the identity


def test_planar_flow_stays_invertible_under_its_constraint():
    bijector = _planar(u_scale=10.0)
    assert np.all(bijector.wu.numpy() > -1.0)
    z = np.random.default_rng(4).normal(scale=3.0, size=(5, 4)).astype("float32")
    y = tf.constant(bijector.forward(z).numpy())  # a new tensor: TFP's cache cannot answer the inverse
    np.testing.assert_allclose(_planar(u_scale=10.0).inverse(y).numpy(), z, atol=1e-4)
    # Along w the map is increasing (the constraint's point): no two inputs share an output.
    w = bijector._w.numpy()[0]
    line = np.linspace(-10, 10, 2001)[:, None] * w[None] / np.linalg.norm(w) ** 2  # [t, D], w.z = t
    u_hat, b = bijector._u_hat.numpy()[0], bijector._b.numpy()[0]
    along = (line + u_hat * np.tanh(line @ w[:, None] + b)) @ w
    assert np.all(np.diff(along) > 0)


def test_iaf_and_maf_invert_and_maf_sampler_matches_tfp():
    z = np.random.default_rng(5).normal(size=(6, 4)).astype("float32")
    context = tf.constant(np.random.default_rng(6).normal(size=(6, 2)).astype("float32"))
    for iaf in (True, False):
        bijector = _autoregressive(iaf, 2).bijector(context)
        y = tf.constant(bijector.forward(z).numpy())
        np.testing.assert_allclose(_autoregressive(iaf, 2).bijector(context).inverse(y).numpy(), z, atol=1e-4)
    maf = _autoregressive(False)
    np.testing.assert_allclose(maf.sample_forward(z).numpy(), maf.bijector().forward(z).numpy(), atol=1e-5)


# -- flow posteriors ---------------------------------------------------------------------------------
def _flow_vae(cls, latent_dim=2, scale=0.7, **kwargs):
    keras.utils.set_random_seed(2)  # the bodies' initial weights too, whatever ran before
    model = getattr(models, cls)(input_shape=SHAPE, latent_dim=latent_dim, hidden_units=(8,), seed=2, **kwargs)
    model.build()
    _randomize(model.posterior_part.flow, scale=scale, seed=3)
    return model


@pytest.mark.parametrize("cls,kwargs", [("IAFVAE", dict(flow_steps=2, flow_hidden_units=(8,))),
                                        ("IAFVAE", dict(flow_steps=2, flow_hidden_units=(8,), flow_amortized=True)),
                                        ("PlanarVAE", dict(flow_steps=3))])
def test_flow_posterior_log_q_is_the_change_of_variables_and_integrates_to_one(cls, kwargs, x):
    model = _flow_vae(cls, **kwargs)
    record = model.importance_samples(x[:3], num_samples=4, seed=1)
    z = tf.constant(record.codes.numpy())  # fresh tensor: TFP inverts the flow to score it
    np.testing.assert_allclose(record.posterior.log_prob(z).numpy(), record.log_qz.numpy(), atol=2e-4)
    # The density of q(z|x) over a grid covering its mass sums to 1 (2-D latent).
    q = model.posterior(x[:1])
    draws = model.importance_samples(x[:1], num_samples=2000, seed=2).codes.numpy()[:, 0]
    low, high = draws.min(0) - 1.5, draws.max(0) + 1.5
    grid = np.stack(np.meshgrid(*[np.linspace(l, h, 301) for l, h in zip(low, high)], indexing="ij"), -1)
    density = np.exp(q.log_prob(grid.reshape(-1, 1, 2).astype("float32")).numpy())
    cell = np.prod((high - low) / 300)
    assert abs(density.sum() * cell - 1.0) < 0.02


def test_flow_vae_codes_kl_and_arguments(x):
    # Moderate random flow weights: large ones make log q - log p heavy-tailed (hundreds of nats).
    model = _flow_vae("IAFVAE", latent_dim=3, scale=0.2, flow_steps=2, flow_hidden_units=(8,))
    q = model.posterior(x[:2])
    np.testing.assert_allclose(model.encode(x[:2]), q.bijector.forward(q.distribution.mean()).numpy(), atol=1e-6)
    outputs = model.encode_outputs(x[:2])
    assert set(outputs) == {"code", "base_mean", "base_scale"}
    kl = model.kl(q).numpy()  # deterministic Monte Carlo without a seed
    np.testing.assert_array_equal(kl, model.kl(q).numpy())
    # ... an estimate of the same KL as fresh seeded draws: within the two estimates' standard errors.
    z, log_q = model.posterior_part.sample(q, 2000, tf.constant([1, 0]))
    draws = (log_q - model.prior().log_prob(z)).numpy()  # [2000, B]
    sigma = draws.std(axis=0, ddof=1)
    assert np.all(np.abs(draws.mean(0) - kl) < 4 * sigma * np.sqrt(1 / 16 + 1 / 2000))
    seeded = model.kl(q, seed=tf.constant([3, 0])).numpy()  # one fresh draw
    assert np.all(np.abs(seeded - draws.mean(0)) < 5 * sigma)
    # The ELBO never beats the importance-sampled log-likelihood (on average).
    elbo = model.loss_terms(x)["elbo"].numpy().mean()
    assert model.log_likelihood(x, num_samples=200, seed=0).numpy().mean() >= elbo - 0.05
    with pytest.raises(ValueError, match="free_bits must be 0 .* per-dimension KL"):
        models.IAFVAE(input_shape=SHAPE, latent_dim=2, free_bits=0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        models.PlanarVAE(input_shape=SHAPE, latent_dim=2, flow_steps=0)


def test_iaf_starts_as_the_gaussian_posterior_up_to_its_permutation(x):
    model = models.IAFVAE(input_shape=SHAPE, latent_dim=3, hidden_units=(8,), flow_steps=2, seed=2)
    q = model.posterior(x[:2])
    z = q.distribution.sample(3, seed=(1, 2))
    # Zero output kernels: each step is the identity; the one reversal between the two steps remains.
    np.testing.assert_allclose(q.bijector.forward(z).numpy(), z.numpy()[..., ::-1], atol=1e-6)
    np.testing.assert_allclose(q.bijector.forward_log_det_jacobian(z, event_ndims=1).numpy(), 0.0, atol=1e-6)


def test_iaf_reads_the_encoder_features_only_when_amortized(x):
    maps = {}
    for amortized in (False, True):
        model = _flow_vae("IAFVAE", latent_dim=3, scale=0.5, flow_steps=2, flow_hidden_units=(8,),
                          flow_amortized=amortized)
        assert model.posterior_part.arguments()["amortized"] is amortized
        assert bool(model.posterior_part.flow.mades[0].context_kernels) is amortized
        z0 = tf.random.stateless_normal([4, 1, 3], seed=[5, 6])
        # The same base points pushed through the flows of two different digits.
        maps[amortized] = [model.posterior(x[i:i + 1]).bijector.forward(z0).numpy() for i in (0, 1)]
    np.testing.assert_allclose(*maps[False], atol=1e-6)
    assert np.abs(maps[True][0] - maps[True][1]).max() > 1e-3
    clone = models.VAE.from_config(_flow_vae("IAFVAE", latent_dim=3, flow_hidden_units=(8,)).get_config())
    assert clone.posterior_part.amortized is False
    with pytest.raises(ValueError, match="amortized must be True or False, got 'yes'"):
        models.IAFVAE(input_shape=SHAPE, latent_dim=2, flow_amortized="yes")


# -- learned priors ----------------------------------------------------------------------------------
def _prior_vae(cls, **kwargs):
    model = getattr(models, cls)(input_shape=SHAPE, latent_dim=2, hidden_units=(8,), seed=4, **kwargs)
    model.build()
    return model


def _normal_log_pdf(z, loc, scale):
    return np.sum(-0.5 * ((z - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi), axis=-1)


def test_mixture_prior_log_prob_equals_numpy():
    model = _prior_vae("MoGPriorVAE", prior_components=3)
    rng = np.random.default_rng(5)
    prior = model.prior_part
    prior.logits.assign(rng.normal(size=3).astype("float32"))
    prior.log_scales.assign(rng.normal(scale=0.3, size=(3, 2)).astype("float32"))
    logits, locs, scales = prior.logits.numpy(), prior.locs.numpy(), np.exp(prior.log_scales.numpy())
    z = rng.normal(scale=2.0, size=(7, 2)).astype("float32")
    log_w = logits - logsumexp(logits)
    expected = logsumexp(log_w[None] + _normal_log_pdf(z[:, None], locs[None], scales[None]), axis=1)
    np.testing.assert_allclose(model.prior().log_prob(z).numpy(), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="components must be an integer >= 1"):
        models.MoGPriorVAE(input_shape=SHAPE, latent_dim=2, prior_components=0)
    with pytest.raises(ValueError, match="free_bits must be 0 with .*VampPrior.*per-dimension KL"):
        models.VampPriorVAE(input_shape=SHAPE, latent_dim=2, free_bits=0.1)


def test_vampprior_log_prob_is_the_log_mean_exp_of_the_pseudo_input_posteriors():
    model = _prior_vae("VampPriorVAE", pseudo_inputs=5)
    u = np.clip(model.prior_part.pseudo_inputs.numpy(), 0, 1)
    q = model.posterior(u)  # the encoder on the pseudo-inputs, through the public method
    loc, scale = q.mean().numpy(), q.stddev().numpy()
    z = np.random.default_rng(6).normal(size=(9, 2)).astype("float32")
    expected = logsumexp(_normal_log_pdf(z[:, None], loc[None], scale[None]), axis=1) - np.log(5)
    np.testing.assert_allclose(model.prior().log_prob(z).numpy(), expected, rtol=1e-5, atol=1e-5)
    # Pseudo-inputs outside [0, 1] are clipped (the paper's hard tanh).
    model.prior_part.pseudo_inputs.assign(np.full(model.prior_part.pseudo_inputs.shape, 3.0, "float32"))
    ones = model.posterior(np.ones((1,) + SHAPE, "float32"))
    np.testing.assert_allclose(model.prior().log_prob(z).numpy(), ones.log_prob(z).numpy(), atol=1e-5)


@pytest.mark.parametrize("cls,kwargs", [("MoGPriorVAE", dict(prior_components=3)),
                                        ("VampPriorVAE", dict(pseudo_inputs=4))])
def test_mixture_prior_samples_have_the_mixture_moments(cls, kwargs):
    model = _prior_vae(cls, **kwargs)
    if cls == "MoGPriorVAE":
        model.prior_part.logits.assign(np.array([0.0, 1.0, -1.0], "float32"))
    prior = model.prior()
    mean, var = prior.mean().numpy(), prior.variance().numpy()  # TFP's closed forms for a mixture
    n = 20000
    z = model._prior_codes(n, tf.constant([3, 4])).numpy()
    stderr = np.sqrt(var / n)
    assert np.all(np.abs(z.mean(0) - mean) < 4 * stderr)
    assert np.all(np.abs(z.var(0) - var) < 4 * var * np.sqrt(2.0 / n) * 2)  # kurtosis of a mixture: x2
    # The draws are what the density says: their mean log-density matches TFP's own sampler's.
    tfp_draws = prior.sample(n, seed=(5, 6))
    ours, theirs = prior.log_prob(z).numpy(), prior.log_prob(tfp_draws).numpy()
    assert abs(ours.mean() - theirs.mean()) < 4 * np.sqrt(ours.var() / n + theirs.var() / n)


def test_maf_prior_samples_map_back_to_a_standard_normal():
    model = _prior_vae("MAFPriorVAE", prior_flow_steps=2, prior_hidden_units=(8,))
    _randomize(model.prior_part.flow, scale=0.7, seed=8)
    n = 20000
    z = model._prior_codes(n, tf.constant([1, 2]))
    e = model.prior().bijector.inverse(tf.constant(z.numpy())).numpy()  # TFP's inverse, not our sampler
    assert np.all(np.abs(e.mean(0)) < 4 / np.sqrt(n)) and np.all(np.abs(e.var(0) - 1) < 4 * np.sqrt(2 / n))
    assert np.abs(np.corrcoef(e.T)[0, 1]) < 4 / np.sqrt(n)
    assert np.abs(np.corrcoef(z.numpy().T)[0, 1]) > 0.05 or np.any(np.abs(z.numpy().var(0) - 1) > 0.1)


def test_sample_and_the_exported_sample_draw_from_the_learned_prior(x, tmp_path):
    model = _prior_vae("MoGPriorVAE", prior_components=3)
    model.prior_part.locs.assign(np.full((3, 2), 4.0, "float32"))
    model.prior_part.log_scales.assign(np.full((3, 2), np.log(1e-3), "float32"))
    far = model.decode(np.full((1, 2), 4.0, "float32")).numpy()[0]
    np.testing.assert_allclose(model.sample(5, seed=1).numpy(), np.repeat(far[None], 5, 0), atol=1e-2)
    np.testing.assert_array_equal(model.sample(5, seed=1), model.sample(5, seed=1))
    path = serving.export_saved_model(model, str(tmp_path / "m"), "m")
    drawn = tf.saved_model.load(path).signatures["sample"](n=tf.constant(5), temperature=tf.constant(1.0))["x"].numpy()
    np.testing.assert_allclose(drawn, np.repeat(far[None], 5, 0), atol=1e-2)


@pytest.mark.parametrize("order", ["natural", "random"])
def test_made_bernoulli_probabilities_of_all_binary_vectors_sum_to_one(order):
    """``p(x) = prod_i Bernoulli(x_i | sigmoid(MADE(x)_i))`` is normalized only if MADE is autoregressive."""
    d = 6
    made = MADE(d, num_params=1, hidden_units=(16, 16), order=order, seed=5, activation="tanh")
    _randomize(made, scale=1.0, seed=2)
    every = ((np.arange(2**d)[:, None] >> np.arange(d)[None]) & 1).astype("float32")  # [2^d, d]
    logits = made(every)[..., 0].numpy().astype(np.float64)
    log_p = -np.sum(np.logaddexp(0.0, np.where(every > 0, -logits, logits)), axis=1)
    np.testing.assert_allclose(np.exp(logsumexp(log_p)), 1.0, atol=1e-5)
    assert np.ptp(log_p) > 1.0  # not the uniform distribution
    # A non-autoregressive network (every mask on) is not normalized: the check can fail.
    dense = [tf.cast(k, tf.float64).numpy() for k in made.kernels]
    h = np.tanh(np.tanh(every @ dense[0] + made.biases[0].numpy()) @ dense[1] + made.biases[1].numpy())
    leaky = h @ dense[2] + made.biases[2].numpy()
    leaky_log_p = -np.sum(np.logaddexp(0.0, np.where(every > 0, -leaky, leaky)), axis=1)
    assert abs(np.exp(logsumexp(leaky_log_p)) - 1.0) > 1e-3


# -- the MADE density model ----------------------------------------------------------------------
def test_made_density_is_exact_normalized_and_samples_its_own_probabilities():
    model = models.MADEDensity(input_shape=(3, 2, 1), hidden_units=(16,), order="random", seed=1)
    _randomize(model.made, scale=1.0, seed=4)
    every = ((np.arange(64)[:, None] >> np.arange(6)[None]) & 1).astype("float32").reshape(64, 3, 2, 1)
    p = np.exp(model.exact_log_likelihood(every).numpy().astype(np.float64))
    np.testing.assert_allclose(p.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.score(every).numpy(), -np.log(p), rtol=1e-5)
    n = 20000
    draws = model.sample(n, seed=3).numpy().reshape(n, 6).astype(int)
    freq = np.bincount((draws << np.arange(6)).sum(1), minlength=64) / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-3)  # each cell within 5 standard errors
    np.testing.assert_array_equal(model.sample(4, seed=3), model.sample(4, seed=3))
    # reconstruct gives p(x_i = 1 | x_<i): the conditionals whose product is p(x).
    cond = model.reconstruct(every).numpy().reshape(64, 6)
    bits = every.reshape(64, 6)
    np.testing.assert_allclose(np.prod(np.where(bits > 0, cond, 1 - cond), axis=1), p, rtol=1e-4)
    with pytest.raises(ValueError, match="hidden_units must name at least one hidden layer"):
        models.MADEDensity(input_shape=(4,), hidden_units=())
