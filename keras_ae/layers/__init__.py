"""Network bodies (tensor -> features) and distribution heads (features -> tfd distribution)."""

from keras_ae.layers.bodies import DecoderBody, EncoderBody  # noqa: F401
from keras_ae.layers.heads import (  # noqa: F401
    BernoulliHead,
    GaussianHead,
    get_likelihood_head,
)
from keras_ae.layers.made import MADE  # noqa: F401
from keras_ae.layers.flows import AutoregressiveFlow, PlanarBijector, PlanarFlow  # noqa: F401
from keras_ae.layers.quantizer import VectorQuantizer  # noqa: F401
from keras_ae.layers.pixelcnn import GatedPixelCNN, GatedPixelCNNBlock, MaskedConv2D  # noqa: F401
from keras_ae.layers.spatial_softmax import SpatialSoftmax  # noqa: F401
from keras_ae.layers.attention import FilterbankRead, FilterbankWrite  # noqa: F401
