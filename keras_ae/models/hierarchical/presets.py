"""Recipes of the hierarchical VAEs: two stochastic layers with bottom-up inference (Burda et al.
2016) and the ladder VAE (Sønderby et al. 2016), on digits and MNIST.

Both use the bodies of ``vae-digits`` / ``vae-mnist`` between ``x`` and ``z_1`` (128 and 512 units)
and a smaller MLP between the stochastic layers, Burda et al.'s proportions (z_2 half of z_1)
scaled down: digits 64-128-8(z_1)-64-4(z_2), MNIST 784-512-32(z_1)-256-16(z_2). The ladder VAE
anneals the KL weight from 0 to 1 (Sønderby et al.'s warm-up, ``KLWarmup``) over the first tenth of
the digits budget and 10 epochs on MNIST; the two-layer VAE trains on the plain ELBO, as Burda
et al.'s VAE did. Bernoulli likelihood on dynamically binarized data, tested on a fixed
binarization, like ``vae-*``.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

HIERARCHICAL_DIGITS = dict(likelihood="bernoulli", hidden_units=(128,), latent_dims=(8, 4), top_hidden_units=(64,))
HIERARCHICAL_MNIST = dict(likelihood="bernoulli", hidden_units=(512,), latent_dims=(32, 16), top_hidden_units=(256,))

register(
    Recipe("hvae2-digits", "TwoLayerVAE", HIERARCHICAL_DIGITS, "digits",
           "VAE with two stochastic layers, bottom-up inference (digits)",
           epochs=150, batch_size=64, learning_rate=3e-3, binarize="dynamic"),
    Recipe("hvae2-mnist", "TwoLayerVAE", HIERARCHICAL_MNIST, "mnist",
           "VAE with two stochastic layers, bottom-up inference (MNIST)",
           epochs=50, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
    Recipe("ladder-vae-digits", "LadderVAE", HIERARCHICAL_DIGITS, "digits",
           "Ladder VAE, two stochastic layers, top-down inference, KL warm-up (digits)",
           epochs=150, batch_size=64, learning_rate=3e-3, binarize="dynamic",
           callbacks=(("KLWarmup", {"epochs": 15}),)),
    Recipe("ladder-vae-mnist", "LadderVAE", HIERARCHICAL_MNIST, "mnist",
           "Ladder VAE, two stochastic layers, top-down inference, KL warm-up (MNIST)",
           epochs=50, batch_size=128, learning_rate=1e-3, binarize="dynamic",
           callbacks=(("KLWarmup", {"epochs": 10}),)),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(likelihood="bernoulli", hidden_units=(8,), latent_dims=(3, 2), top_hidden_units=(8,))
register_test_configs(
    TestConfig("hvae2", "TwoLayerVAE", _TINY),
    TestConfig("ladder-vae", "LadderVAE", _TINY),
)
