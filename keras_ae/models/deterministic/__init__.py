"""The deterministic family: plain, linear, sparse, denoising and contractive autoencoders
(deterministic.py) and their recipes (presets.py)."""

from keras_ae.models.deterministic.deterministic import (  # noqa: F401
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
)
