"""tf.distribute exactness on two logical CPU devices, strategy choice and precision options."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_ae import training

SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_script.py")


def _run_script(*args):
    out = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_several_mirrored_steps_equal_single_device_steps():
    result = _run_script("5")
    assert result["replicas"] == 2
    assert result["max_weight_change"] > 1e-3
    assert result["max_weight_diff"] <= 1e-5
    assert abs(result["single_loss"] - result["mirrored_loss"]) <= 1e-4 * abs(result["single_loss"])


@pytest.mark.slow
def test_vae_replicas_draw_their_own_noise_and_log_the_same_elbo_statistically():
    result = _run_script("vae")
    assert result["replicas"] == 2
    assert result["codes_equal"]  # same weights, same posterior on both replicas ...
    assert result["noise_differs"]  # ... but each replica samples its own z
    assert abs(result["single_elbo"] - result["mirrored_elbo"]) <= 4 * result["standard_error"]


@pytest.mark.parametrize("name", ["auto", "default"])
def test_make_strategy_on_cpu_is_single_replica(name):
    assert training.make_strategy(name).num_replicas_in_sync == 1


def test_unknown_strategy_is_a_value_error():
    with pytest.raises(ValueError, match="unknown strategy 'gpu'; choose one of auto, default"):
        training.make_strategy("gpu")


@pytest.mark.parametrize("text,message", [
    ("", "needs TF_CONFIG"),
    ("{not json", "not valid JSON"),
    ("[1]", "must be a JSON object"),
    ('{"task": {"type": "worker", "index": 0}}', '"cluster"'),
    ('{"cluster": {"worker": ["nohostport"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}}', '"task"'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}', "not a job"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}', "out of range"),
])
def test_malformed_tf_config_is_a_one_line_value_error(text, message):
    with pytest.raises(ValueError, match=message) as info:
        training.parse_tf_config(text)
    assert "\n" not in str(info.value)


def test_global_batch_must_split_over_replicas():
    class ThreeReplicas:
        num_replicas_in_sync = 3

    assert training.check_global_batch(96, ThreeReplicas()) == 96
    with pytest.raises(ValueError, match="64 is not divisible by the 3 replicas"):
        training.check_global_batch(64, ThreeReplicas())


def test_is_chief_on_the_default_strategy():
    assert training.is_chief(training.make_strategy("default"))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_keeps_loss_terms_float32_and_close_to_float32(policy, digits):
    import keras

    from keras_ae.models import VAE

    x = digits[0][:128]
    losses = {}
    try:
        for name in ("float32", policy):
            training.set_precision(name)
            keras.utils.set_random_seed(0)
            model = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(32,), seed=0)
            model.build()
            if name != "float32":
                model.set_weights(start)
            start = model.get_weights()
            terms = model.loss_terms(x, training=False)
            assert all(t.dtype.name == "float32" for t in terms.values())
            training.compile_model(model, learning_rate=1e-3)
            history = model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0)
            losses[name] = history.history["loss"][-1]
    finally:
        training.set_precision("float32")
    assert np.isfinite(losses[policy])
    assert abs(losses[policy] - losses["float32"]) <= 0.02 * abs(losses["float32"])


def test_unknown_precision_is_a_value_error():
    with pytest.raises(ValueError, match="unknown precision 'float8'"):
        training.set_precision("float8")
