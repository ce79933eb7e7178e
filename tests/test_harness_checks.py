"""The harness's own checks fail on a model that breaks the contract (so they are not vacuous).

Each broken toy is a small ``VAE`` subclass with one promise broken: a code that does not match
``code_spec``, data that is not refused, an ``elbo`` term that is not the mean of the ``k = 1``
importance weights. The unbroken model passes the same check.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import testing
from keras_ae.models import VAE

SHAPE = (4, 4, 1)


def _x(n=16):
    return (np.random.default_rng(0).uniform(size=(n,) + SHAPE) > 0.5).astype("float32")


def _vae(cls=VAE):
    model = cls(input_shape=SHAPE, latent_dim=2, hidden_units=(8,), seed=0)
    model.build()
    return model


class WideCodeSpec(VAE):
    """Declares a 3-number code but encodes 2."""

    @property
    def code_spec(self):
        return tf.TensorSpec((3,), tf.float32, name="z")


class IntCodeSpec(VAE):
    """Declares integer codes but encodes floats."""

    @property
    def code_spec(self):
        return tf.TensorSpec((2,), tf.int32, name="z")


class AcceptsAnything(VAE):
    """Checks nothing: NaN and out-of-range data go through."""

    def check_inputs(self, x, name="x"):
        return tf.convert_to_tensor(np.asarray(x, np.float32))


class OptimisticElbo(VAE):
    """Reports an ELBO one nat above the true one."""

    def _loss_terms(self, x, training=False, **condition):
        terms = super()._loss_terms(x, training, **condition)
        return {**terms, "elbo": terms["elbo"] + 1.0}


def test_codes_of_the_declared_spec_pass_and_others_fail():
    x = _x()
    testing.check_codes(_vae(), x)
    with pytest.raises(AssertionError, match=r"has shape \(16, 2\), code_spec says \(16, 3\)"):
        testing.check_codes(_vae(WideCodeSpec), x)
    with pytest.raises(AssertionError, match="has dtype float32, code_spec says int32"):
        testing.check_codes(_vae(IntCodeSpec), x)


def test_data_that_is_not_refused_fails():
    x = _x()
    assert testing.check_refusals(_vae(), x) == ["a NaN", "a value above 1", "a value below 0"]
    with pytest.raises(AssertionError, match="accepted a NaN in x"):
        testing.check_refusals(_vae(AcceptsAnything), x)


def test_an_elbo_term_off_by_one_nat_fails_the_importance_weight_check():
    x = _x(32)
    difference, error = testing.check_importance_weights(_vae(), x)
    assert abs(difference) <= testing.ELBO_SIGMAS * error
    assert error < 0.2  # 1 nat is well outside the allowed band: the check can tell
    with pytest.raises(AssertionError, match=r"differs from the elbo term by -[01]\.\d+ nats"):
        testing.check_importance_weights(_vae(OptimisticElbo), x)
