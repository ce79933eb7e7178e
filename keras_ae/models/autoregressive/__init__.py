"""Autoregressive models: MADE and the Gated PixelCNN (exact likelihoods) and PixelVAE, a VAE with a
PixelCNN decoder (autoregressive.py); their recipes (presets.py)."""

from keras_ae.models.autoregressive.autoregressive import MADEDensity, PixelCNNDensity, PixelVAE  # noqa: F401
