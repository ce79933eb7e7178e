"""Autoregressive densities with an exact likelihood: MADE, the Gated PixelCNN, and PixelVAE
(autoregressive.py)."""

from keras_ae.models.autoregressive.autoregressive import MADEDensity, PixelCNNDensity, PixelVAE  # noqa: F401
