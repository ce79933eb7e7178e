"""The variational family: the VAE composed of parts and the IWAE (vae.py), the categorical VAE
(categorical.py); their recipes (presets.py) and the recipes composed of parts with no class of
their own (composed_presets.py)."""

from keras_ae.models.vae.categorical import CategoricalVAE  # noqa: F401
from keras_ae.models.vae.vae import IWAE, VAE  # noqa: F401
