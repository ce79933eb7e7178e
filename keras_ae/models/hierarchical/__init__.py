"""Hierarchical VAEs: TwoLayerVAE and LadderVAE (hierarchical.py); their recipes (presets.py)."""

from keras_ae.models.hierarchical.hierarchical import LadderVAE, TwoLayerVAE  # noqa: F401
