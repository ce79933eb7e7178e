"""Distribution heads against closed-form densities computed independently in NumPy."""

import numpy as np
import pytest

from keras_ae.layers.heads import BernoulliHead, ContinuousBernoulliHead, GaussianHead


def _features(rng, n=4, f=6):
    return rng.normal(size=(n, f)).astype("float32")


@pytest.mark.parametrize("scale", ["learned", "global", "fixed"])
def test_gaussian_head_log_prob_is_the_diagonal_normal_density(rng, scale):
    head = GaussianHead((3,), scale=scale, fixed_scale=0.5, min_scale=1e-3)
    h = _features(rng)
    dist = head(h)
    loc, sd = (t.numpy() for t in head.parameters(h))
    if scale == "fixed":
        np.testing.assert_allclose(sd, 0.5)
    if scale == "global":
        np.testing.assert_allclose(sd, np.broadcast_to(sd[0], sd.shape))  # one scale for every example
    assert np.all(sd >= 1e-3)
    x = rng.normal(size=(4, 3)).astype("float32")
    expected = (-0.5 * ((x - loc) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)).sum(axis=1)
    np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dist.mean().numpy(), loc, rtol=1e-6)


def test_bernoulli_head_log_prob_and_mean(rng):
    head = BernoulliHead((2, 2, 1))
    h = _features(rng)
    logits = head.logits(h).numpy()
    p = 1 / (1 + np.exp(-logits))
    x = (rng.uniform(size=logits.shape) < 0.5).astype("float32")
    expected = (x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(4, -1).sum(axis=1)
    dist = head(h)
    np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(dist.mean().numpy(), p, rtol=1e-5)


def test_continuous_bernoulli_head_matches_its_normalized_density(rng):
    # Loaiza-Ganem & Cunningham 2019: p(x|l) = C(l) l^x (1-l)^(1-x),
    # C(l) = 2 atanh(1 - 2l) / (1 - 2l), mean = l / (2l - 1) + 1 / (2 atanh(1 - 2l)).
    head = ContinuousBernoulliHead((5,))
    h = _features(rng)
    lam = 1 / (1 + np.exp(-head.logits(h).numpy().astype("float64")))
    lam = np.where(np.abs(lam - 0.5) < 1e-2, 0.5 + 1e-2, lam)  # keep away from the removable singularity
    logits = np.log(lam / (1 - lam)).astype("float32")
    from keras_ae.layers.heads import continuous_bernoulli

    x = rng.uniform(size=lam.shape)
    log_c = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    expected = (x * np.log(lam) + (1 - x) * np.log(1 - lam) + log_c).sum(axis=1)
    dist = continuous_bernoulli(logits)
    np.testing.assert_allclose(dist.log_prob(x.astype("float32")).numpy(), expected, rtol=1e-4, atol=1e-4)
    mean = lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))
    np.testing.assert_allclose(dist.mean().numpy(), mean, rtol=1e-4, atol=1e-4)
    assert head(h).event_shape == (5,)


def test_gaussian_head_sigmoid_mean_is_the_sigmoid_of_the_linear_one(rng):
    """``mean="sigmoid"``: the same projection, ``loc = sigmoid(loc_linear)``; the scale is untouched."""
    h = rng.normal(size=(3, 5)).astype("float32")
    linear = GaussianHead((4,), scale="fixed", fixed_scale=0.5, kernel_initializer="glorot_uniform")
    squashed = GaussianHead.from_config({**linear.get_config(), "mean": "sigmoid"})
    linear(h), squashed(h)
    squashed.set_weights(linear.get_weights())
    loc, scale = (np.asarray(t) for t in linear.parameters(h))
    loc_s, scale_s = (np.asarray(t) for t in squashed.parameters(h))
    np.testing.assert_allclose(loc_s, 1 / (1 + np.exp(-loc)), rtol=1e-6)
    np.testing.assert_allclose(scale_s, scale)
    assert squashed.get_config()["mean"] == "sigmoid" and linear.get_config()["mean"] == "linear"
    with pytest.raises(ValueError, match=r"mean must be one of \('linear', 'sigmoid'\), got 'tanh'"):
        GaussianHead((4,), mean="tanh")
