"""The deep spatial autoencoder: feature points learned from video (spatial.py); its recipes (presets.py)."""

from keras_ae.models.spatial.spatial import DeepSpatialAutoencoder  # noqa: F401
