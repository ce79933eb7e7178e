"""Recipes of discrete codes and autoregressive models: VQ-VAE, the PixelCNN prior over its codes
(the second stage, ``--from`` a finished VQ-VAE run) and the Gated PixelCNN density model.

The Bernoulli recipes train on dynamically binarized data and are tested on a fixed binarization,
like ``vae-digits`` / ``vae-mnist``, so reconstruction errors and NLLs compare with theirs.
"""

from zoo.recipes.registry import Recipe, register

#: digits (8 x 8): one halving, a 4 x 4 grid of 32 codes (16 cells x 5 bits = 80 bits).
VQ_DIGITS = dict(filters=(32,), num_codes=32, embedding_dim=8, ema=True)
#: MNIST (28 x 28): two halvings, a 7 x 7 grid of 64 codes (49 cells x 6 bits = 294 bits).
VQ_MNIST = dict(filters=(32, 64), num_codes=64, embedding_dim=16, ema=True)

register(
    Recipe("vqvae-digits", "VQVAE", VQ_DIGITS, "digits", "VQ-VAE, EMA codebook, 4x4 grid of 32 codes (digits)",
           epochs=100, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae-mnist", "VQVAE", VQ_MNIST, "mnist", "VQ-VAE, EMA codebook, 7x7 grid of 64 codes (MNIST)",
           epochs=30, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae-prior-digits", "VQPixelCNNPrior", dict(autoencoder=VQ_DIGITS, num_layers=5, filters=32),
           "digits", "Gated PixelCNN prior over the codes of a vqvae-digits run (--from RUN_DIR)",
           epochs=100, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae-prior-mnist", "VQPixelCNNPrior", dict(autoencoder=VQ_MNIST, num_layers=5, filters=64),
           "mnist", "Gated PixelCNN prior over the codes of a vqvae-mnist run (--from RUN_DIR)",
           epochs=30, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
    Recipe("pixelcnn-digits", "PixelCNNDensity", dict(num_layers=5, filters=32), "digits",
           "Gated PixelCNN, exact log p(x) of binary images (digits)",
           epochs=100, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("pixelcnn-mnist", "PixelCNNDensity", dict(num_layers=7, filters=32, first_kernel_size=7), "mnist",
           "Gated PixelCNN, exact log p(x) of binary images (MNIST)",
           epochs=20, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
)
