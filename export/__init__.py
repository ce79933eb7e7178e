"""Deployment from a checkout: ``python -m export RUN_DIR`` (see ``export/SERVING.md``).

The reusable export code lives in :mod:`keras_ae.serving`; this package only wires it to zoo run
directories and writes the TF Serving assets.
"""
