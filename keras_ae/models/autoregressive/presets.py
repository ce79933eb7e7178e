"""Recipes of the autoregressive densities: MADE, the Gated PixelCNN and PixelVAE, on digits and MNIST.

MADE's recipes take the variational family's budget and binarization (its ``_pair``, no latent),
so its exact test NLL stands beside the VAEs'. Every recipe here trains on dynamically binarized
data and is tested on a fixed binarization, like ``vae-digits`` / ``vae-mnist``, so the NLLs
compare with the VAE's.
"""

from keras_ae.models.vae.presets import _pair
from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

register(
    *_pair("made", "MADEDensity", dict(), "MADE density model, exact log p(x) of binary data (Germain et al. 2015)",
           digits_args=dict(hidden_units=(256,)), mnist_args=dict(hidden_units=(500,)), latent_dims=(None, None)),
    Recipe("pixelcnn-digits", "PixelCNNDensity", dict(num_layers=5, filters=32), "digits",
           "Gated PixelCNN, exact log p(x) of binary images (digits)",
           epochs=100, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("pixelcnn-mnist", "PixelCNNDensity", dict(num_layers=7, filters=32, first_kernel_size=7), "mnist",
           "Gated PixelCNN, exact log p(x) of binary images (MNIST)",
           epochs=20, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
    Recipe("pixelvae-digits", "PixelVAE", dict(latent_dim=8, hidden_units=(128,), free_bits=0.25, num_layers=3,
                                               pixel_filters=32), "digits",
           "PixelVAE: VAE with a Gated PixelCNN decoder conditioned on z, free bits 0.25 nat/dim (digits)",
           epochs=100, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("pixelvae-mnist", "PixelVAE", dict(latent_dim=16, hidden_units=(512,), free_bits=0.25, num_layers=5,
                                              pixel_filters=32, first_kernel_size=7), "mnist",
           "PixelVAE: VAE with a Gated PixelCNN decoder conditioned on z, free bits 0.25 nat/dim (MNIST)",
           epochs=20, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
register_test_configs(
    TestConfig("made", "MADEDensity", dict(hidden_units=(8,))),
    TestConfig("pixelcnn", "PixelCNNDensity", dict(num_layers=2, filters=4, hidden=4, first_kernel_size=3)),
    TestConfig("pixelvae", "PixelVAE", dict(latent_dim=2, hidden_units=(8,), free_bits=0.25, num_layers=2,
                                            pixel_filters=4, pixel_hidden=4, first_kernel_size=3)),
)
