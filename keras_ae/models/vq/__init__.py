"""The vector-quantized family: VQ-VAE, VQ-VAE-2 and the PixelCNN priors over their codes (vq.py);
their recipes (presets.py)."""

from keras_ae.models.vq.vq import VQVAE2, VQPixelCNNPrior, VQVAE, VQVAE2Prior  # noqa: F401
