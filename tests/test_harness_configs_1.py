"""Shard 1 of the tiny configurations through the contract harness (see ``tests/test_harness_configs.py``)."""

import pytest

from tests.test_harness_configs import run_harness, serve_plainly, shard


@pytest.mark.slow
@pytest.mark.parametrize("name", shard(1))
def test_tiny_configuration_passes_the_contract_harness(name, tmp_path):
    run_harness(name, tmp_path)


@pytest.mark.slow
def test_harnessed_exports_serve_without_keras_ae(tmp_path):
    serve_plainly(shard(1), tmp_path)
