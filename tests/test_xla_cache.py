"""The opt-in persistent XLA cache (issue 27): a second process loads the compiled program instead of compiling it."""

import os
import subprocess
import sys

import pytest

SCRIPT = """
import tensorflow as tf
from zoo import runner
runner.setup_strategy(runner.Speed(), 4)  # reads KERAS_AE_XLA_CACHE before anything is compiled

@tf.function(jit_compile=True, autograph=False)
def step(x):
    return tf.reduce_sum(tf.tanh(x @ tf.transpose(x)))

print(float(step(tf.ones([4, 3]))))
"""


def _run(cache):
    env = {**os.environ, "KERAS_AE_XLA_CACHE": str(cache), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("TF_XLA_FLAGS", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return {name: os.stat(cache / name).st_mtime_ns for name in os.listdir(cache)}


def test_the_zoo_variable_fills_the_cache_and_a_second_process_reads_it(tmp_path):
    cache = tmp_path / "xla"
    first = _run(cache)
    assert len(first) == 1 and next(iter(first)).startswith("xla_compile_cache__")  # the step; the probe is removed
    assert _run(cache) == first  # loaded, not compiled again: nothing written, not even the same file again


def test_the_cache_is_refused_once_xla_has_compiled(tmp_path, monkeypatch):
    import tensorflow as tf

    from keras_ae import training

    monkeypatch.setenv("TF_XLA_FLAGS", "")  # restored after the test
    tf.function(jit_compile=True)(lambda x: x + 1.0)(tf.ones([2]))  # the flags are read now, if not before
    with pytest.raises(RuntimeError, match="was not used: TensorFlow read TF_XLA_FLAGS before this call"):
        training.enable_xla_cache(tmp_path / "late")
