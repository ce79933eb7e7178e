"""Shard 2 of the tiny configurations through the contract harness (see ``tests/test_harness_configs.py``)."""

import pytest

from tests.test_harness_configs import run_harness, shard


@pytest.mark.slow
@pytest.mark.parametrize("name", shard(2))
def test_tiny_configuration_passes_the_contract_harness(name, tmp_path):
    run_harness(name, tmp_path)
