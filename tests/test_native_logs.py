"""The command lines keep TensorFlow's native start-up noise off stderr, and nothing else."""

import subprocess
import sys

import pytest

from zoo.native_logs import is_noise

SCRIPT = """
import sys
from zoo.native_logs import filtered_stderr
with filtered_stderr():
    import tensorflow as tf
    tf.constant(1.0) + 1.0
    print("a real warning", file=sys.stderr)
    sys.stderr.write("no newline at the end")
"""


def test_noise_lines_are_recognised_and_others_are_not():
    assert is_noise(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    assert is_noise(b"I0000 00:00:1796151967.202448   28814 cudart_stub.cc:31] Could not find cuda drivers")
    assert is_noise(b"E0000 00:00:1796148258.109632    2894 cuda_platform.cc:52] failed call to cuInit: INTERNAL")
    assert not is_noise(b"E0000 00:00:1796148258.109632    2894 some_kernel.cc:52] OOM when allocating tensor")
    assert not is_noise(b"Traceback (most recent call last):")
    assert not is_noise(b"error: unknown recipe 'x'")


@pytest.mark.slow
def test_importing_tensorflow_inside_the_filter_prints_only_real_lines():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, timeout=300,
                          env={"PYTHONPATH": ".", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines() == ["a real warning", "no newline at the end"]
