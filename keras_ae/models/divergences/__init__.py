"""Matching the aggregate posterior to the prior: InfoVAE, WAE-MMD and the adversarial autoencoder
as named VAE configurations (divergences.py); their recipes (presets.py)."""

from keras_ae.models.divergences.divergences import WAE, AdversarialAutoencoder, InfoVAE  # noqa: F401
