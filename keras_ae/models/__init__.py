"""Model families, one file each; every model follows :class:`keras_ae.models.base.BaseAutoencoder`."""

from keras_ae.models.base import BaseAutoencoder  # noqa: F401
from keras_ae.models.deterministic import (  # noqa: F401
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
)
from keras_ae.models.vae import IWAE, VAE  # noqa: F401
from keras_ae.models.categorical import CategoricalVAE  # noqa: F401
from keras_ae.models.regularized import RAE, ConstantVarianceVAE  # noqa: F401
from keras_ae.models.flows import IAFVAE, PlanarVAE  # noqa: F401
from keras_ae.models.priors import MAFPriorVAE, MoGPriorVAE, VampPriorVAE  # noqa: F401
from keras_ae.models.autoregressive import MADEDensity, PixelCNNDensity, PixelVAE  # noqa: F401
from keras_ae.models.divergences import WAE, AdversarialAutoencoder, InfoVAE  # noqa: F401
from keras_ae.models.disentangling import BetaTCVAE, CapacityVAE, DIPVAE, FactorVAE  # noqa: F401
from keras_ae.models.vq import VQVAE2, VQPixelCNNPrior, VQVAE, VQVAE2Prior  # noqa: F401
from keras_ae.models.conditional import ConditionalVAE  # noqa: F401
from keras_ae.models.semisupervised import ADGM, M2  # noqa: F401
from keras_ae.models.hierarchical import LadderVAE, TwoLayerVAE  # noqa: F401
from keras_ae.models.spatial import DeepSpatialAutoencoder  # noqa: F401
from keras_ae.models.draw import DRAW  # noqa: F401
from keras_ae.models.semisupervised import M1M2  # noqa: F401
