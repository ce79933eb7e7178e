"""Flows and learned priors: named VAE configurations with flow posteriors (flows.py: IAFVAE,
PlanarVAE) and learned priors (priors.py: MoGPriorVAE, VampPriorVAE, MAFPriorVAE); their recipes
(presets.py)."""

from keras_ae.models.flows.flows import IAFVAE, PlanarVAE  # noqa: F401
from keras_ae.models.flows.priors import MAFPriorVAE, MoGPriorVAE, VampPriorVAE  # noqa: F401
