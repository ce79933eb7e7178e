"""Shared fixtures: quiet TensorFlow, deterministic seeds, digits arrays."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# XLA's LLVM backend without its optimisation passes, and its CPU fusions emitted by the classic
# elemental emitter instead of the MLIR fusion emitters (inherited by the commands the tests
# start): the suite compiles a few hundred tiny programs that run a few steps each, so compiling
# is most of their cost. The same HLO is compiled, without fast-math either way, so results do not
# change; only the machine code is slower. A tiny VAE's first XLA fit: 2.0 -> 1.5 CPU s (opt level 0)
# -> 1.0 (classic emitter); both training paths of the harness (CPU s, without -> with the classic
# emitter, two runs each): vae 4.1 -> 2.7, iaf 7.8 -> 5.0, maf-prior 7.4 -> 5.2, vqvae2-prior
# 8.7 -> 6.3, pixelcnn 3.6 -> 2.5 (DRAW trains without XLA: unchanged).
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, set before TensorFlow initializes, so the contract harness
# (keras_ae.testing.check_model) trains every model under a 2-replica MirroredStrategy too.
# The default strategy still runs on the first device only.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(scope="session")
def digits():
    """The offline default dataset as ``(x_train, y_train, x_test, y_test)``, float32 8x8x1 in [0, 1]."""
    from keras_ae import data

    x_train, y_train = data.load_arrays("digits", "train")
    x_test, y_test = data.load_arrays("digits", "test")
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="session")
def binary_digits():
    """Digits binarized once (train seed 0, test seed 1): data for Bernoulli likelihoods."""
    from keras_ae import data

    x_train, _ = data.load_arrays("digits", "train", binarize="static", seed=0)
    x_test, _ = data.load_arrays("digits", "test", binarize="static", seed=1)
    return x_train, x_test


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def mock_tfds(tmp_path):
    """Mock TFDS offline (``tfds.testing.mock_data``: random images of each builder's shape).

    data_dir is an empty folder so no real metadata or data is picked up.

    ``mock_data`` stands for a prepared dataset, so the builder also says it is prepared (the
    loader checks that before reading, to fail fast on an unprepared one).
    """
    import contextlib
    from unittest import mock

    import tensorflow_datasets as tfds

    @contextlib.contextmanager
    def _mock(num_examples, **kwargs):
        with tfds.testing.mock_data(num_examples=num_examples, policy=tfds.testing.MockPolicy.USE_CODE,
                                    data_dir=str(tmp_path / "tfds"), **kwargs), \
                mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", return_value=True):
            yield

    return _mock


#: test files handed out first under ``-n 2 --dist loadfile`` (the README's and CI's command): a
#: worker takes a whole file, so a large file handed out last keeps one worker busy while the
#: other has nothing left. The contract-harness shards are the largest files of the suite.
FIRST_FILES = ("test_harness_configs",)


def pytest_collection_modifyitems(config, items):
    """Put the :data:`FIRST_FILES` first; the rest keeps its order (the sort is stable)."""
    items.sort(key=lambda item: not item.path.name.startswith(FIRST_FILES))
