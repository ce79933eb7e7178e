"""The one checks module: every message names the argument and the value received."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import _checks

SPEC = tf.TensorSpec((3,), tf.float32)


@pytest.mark.parametrize("value,message", [
    (np.zeros((2, 4)), r"x must have shape \(batch,\) \+ \(3,\), got \(2, 4\)"),
    (np.zeros(3), r"x has shape \(3,\), one example: add a batch axis"),
    (np.array([[0.0, np.nan, 1.0]]), "x contains NaN or infinite values"),
    (np.array([["a", "b", "c"]]), "x must be numeric, got dtype <U1"),
    (np.array([[0.0, 2.0, 1.0]]), r"x has values outside \[0, 1\] \(min 0, max 2\); a bernoulli likelihood"),
])
def test_check_batch_names_the_problem(value, message):
    with pytest.raises(ValueError, match=message):
        _checks.check_batch(value, SPEC, "x", (0.0, 1.0), "a bernoulli likelihood")


def test_check_batch_casts_and_checks_integer_codes():
    spec = tf.TensorSpec((2,), tf.int32)
    assert _checks.check_batch(np.array([[1.0, 2.0]]), spec, "z").dtype == tf.int32
    with pytest.raises(ValueError, match="z must hold integers"):
        _checks.check_batch(np.array([[1.5, 2.0]]), spec, "z")


def test_check_batch_passes_tensors_through_inside_a_graph():
    traced = tf.function(lambda t: _checks.check_batch(t, SPEC, "x", (0.0, 1.0)))
    assert traced(tf.constant([[5.0, 0.0, 0.0]])).shape == (1, 3)  # no eager values to check


@pytest.mark.parametrize("call,message", [
    (lambda: _checks.check_positive_int(0, "n"), "n must be an integer >= 1, got 0"),
    (lambda: _checks.check_positive_int(True, "n"), "n must be an integer >= 1, got True"),
    (lambda: _checks.check_positive_int(2.5, "n"), "n must be an integer >= 1, got 2.5"),
    (lambda: _checks.check_integer(7, "k", 0, 5), r"k must be an integer in \[0, 5\], got 7"),
    (lambda: _checks.check_number(-1, "beta", minimum=0), "beta must be >= 0, got -1"),
    (lambda: _checks.check_number(float("nan"), "beta", minimum=0), "beta must be >= 0, got nan"),
    (lambda: _checks.check_number(1.0, "p", 0, 1, exclusive_maximum=True), "p must be >= 0 and < 1, got 1.0"),
    (lambda: _checks.check_number("x", "p"), "p must be a number, got 'x'"),
    (lambda: _checks.check_choice("gpu", "device", ("cpu",)), r"device must be one of \('cpu',\), got 'gpu'"),
    (lambda: _checks.check_seed(-5), "seed must be an integer >= 0, got -5"),
])
def test_argument_checks_name_the_argument_and_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_argument_checks_return_the_normalised_value():
    assert _checks.check_positive_int(np.int64(3), "n") == 3 and _checks.check_positive_int(4.0, "n") == 4
    assert _checks.check_number(np.float32(0.5), "p", 0, 1) == 0.5
    assert _checks.check_seed(None) is None
