"""The keras-ae model zoo: named recipes and the ``python -m zoo`` command line (used from a checkout)."""
