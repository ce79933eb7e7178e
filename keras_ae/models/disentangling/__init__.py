"""The disentangling family: beta-TCVAE, FactorVAE, DIP-VAE and the capacity VAE as named VAE
configurations (disentangling.py); their recipes on digits and the procedural dSprites (presets.py)."""

from keras_ae.models.disentangling.disentangling import BetaTCVAE, CapacityVAE, DIPVAE, FactorVAE  # noqa: F401
