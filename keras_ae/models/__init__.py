"""Model families, one folder each (its model modules and its recipes, ``presets.py``); every model
follows :class:`keras_ae.models.base.BaseAutoencoder`, and ``steps.py`` holds the training steps
they share."""

from keras_ae.models.base import BaseAutoencoder  # noqa: F401
from keras_ae.models.deterministic import (  # noqa: F401
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
)
from keras_ae.models.vae import IWAE, VAE, CategoricalVAE  # noqa: F401
from keras_ae.models.regularized import RAE, ConstantVarianceVAE  # noqa: F401
from keras_ae.models.flows import IAFVAE, PlanarVAE, MAFPriorVAE, MoGPriorVAE, VampPriorVAE  # noqa: F401
from keras_ae.models.autoregressive import MADEDensity, PixelCNNDensity, PixelVAE  # noqa: F401
from keras_ae.models.divergences import WAE, AdversarialAutoencoder, InfoVAE  # noqa: F401
from keras_ae.models.disentangling import BetaTCVAE, CapacityVAE, DIPVAE, FactorVAE  # noqa: F401
from keras_ae.models.vq import VQVAE2, VQPixelCNNPrior, VQVAE, VQVAE2Prior  # noqa: F401
from keras_ae.models.conditional import ADGM, M1M2, M2, ConditionalVAE  # noqa: F401
from keras_ae.models.hierarchical import LadderVAE, TwoLayerVAE  # noqa: F401
from keras_ae.models.spatial import DeepSpatialAutoencoder  # noqa: F401
from keras_ae.models.draw import DRAW  # noqa: F401

# Each family's recipes and tiny test configurations (keras_ae.presets.registry), registered in
# this order: the order of the README's model table.
from keras_ae.models.deterministic import presets as _deterministic  # noqa: E402,F401
from keras_ae.models.vae import presets as _variational  # noqa: E402,F401
from keras_ae.models.regularized import presets as _regularized  # noqa: E402,F401
from keras_ae.models.flows import presets as _flows  # noqa: E402,F401
from keras_ae.models.disentangling import presets as _disentangling  # noqa: E402,F401
from keras_ae.models.divergences import presets as _divergences  # noqa: E402,F401
from keras_ae.models.vq import presets as _vq  # noqa: E402,F401
from keras_ae.models.autoregressive import presets as _autoregressive  # noqa: E402,F401
from keras_ae.models.hierarchical import presets as _hierarchical  # noqa: E402,F401
from keras_ae.models.spatial import presets as _spatial  # noqa: E402,F401
from keras_ae.models.draw import presets as _draw  # noqa: E402,F401
from keras_ae.models.conditional import presets as _conditional  # noqa: E402,F401
from keras_ae.models.vae import composed_presets as _composed  # noqa: E402,F401
