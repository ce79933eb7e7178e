"""Recipes of discrete codes: VQ-VAE and VQ-VAE-2, and the PixelCNN priors over their codes (the
second stage, ``--from`` a finished run).

The Bernoulli recipes train on dynamically binarized data and are tested on a fixed binarization,
like ``vae-digits`` / ``vae-mnist``, so reconstruction errors and NLLs compare with theirs.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

#: digits (8 x 8): one halving, a 4 x 4 grid of 32 codes (16 cells x 5 bits = 80 bits).
VQ_DIGITS = dict(filters=(32,), num_codes=32, embedding_dim=8, ema=True)
#: MNIST (28 x 28): two halvings, a 7 x 7 grid of 64 codes (49 cells x 6 bits = 294 bits).
VQ_MNIST = dict(filters=(32, 64), num_codes=64, embedding_dim=16, ema=True)
#: MNIST at a code size comparable with the VAE's 16 floats: three halvings, a 4 x 4 grid of 64
#: codes (16 cells x 6 bits = 96 bits). Dead codes restart below an EMA count of 1 vector per
#: step (Jukebox's threshold): with 2,048 vectors a step, the default 0.03 restarts a code only
#: after ~700 unused steps, and in 7 epochs the MNIST subset used 19% of its codebook per batch.
VQ_MNIST_96BIT = dict(filters=(32, 64, 64), num_codes=64, embedding_dim=16, ema=True, restart_threshold=1.0)
#: VQ-VAE-2 on digits: a 4 x 4 bottom grid and a 2 x 2 top grid of 32 codes each (16 x 5 + 4 x 5 = 100 bits).
VQ2_DIGITS = dict(filters=(32,), top_filters=(32,), num_codes=32, embedding_dim=8, ema=True, restart_threshold=1.0)
#: VQ-VAE-2 on MNIST: a 7 x 7 bottom grid and a 4 x 4 top grid of 64 codes each (49 x 6 + 16 x 6 = 390 bits).
VQ2_MNIST = dict(filters=(32, 64), top_filters=(64,), num_codes=64, embedding_dim=16, ema=True,
                 restart_threshold=1.0)
#: VQ-VAE-2 on CIFAR-10 (32 x 32 x 3, squared error): an 8 x 8 bottom and a 4 x 4 top grid of 128 codes.
VQ2_CIFAR10 = dict(filters=(64, 128), top_filters=(128,), num_codes=128, embedding_dim=32, ema=True,
                   restart_threshold=1.0, reconstruction="mse")

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
    Recipe("vqvae-mnist-96bit", "VQVAE", VQ_MNIST_96BIT, "mnist",
           "VQ-VAE, EMA codebook, 4x4 grid of 64 codes = 96 bits, near the VAE's code size (MNIST)",
           epochs=30, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae2-digits", "VQVAE2", VQ2_DIGITS, "digits",
           "VQ-VAE-2, EMA codebooks, 2x2 top and 4x4 bottom grids of 32 codes (digits)",
           epochs=100, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae2-mnist", "VQVAE2", VQ2_MNIST, "mnist",
           "VQ-VAE-2, EMA codebooks, 4x4 top and 7x7 bottom grids of 64 codes (MNIST)",
           epochs=30, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae2-cifar10", "VQVAE2", VQ2_CIFAR10, "cifar10",
           "VQ-VAE-2, EMA codebooks, squared error, 4x4 top and 8x8 bottom grids of 128 codes (CIFAR-10)",
           epochs=30, batch_size=128, learning_rate=1e-3),
    Recipe("vqvae2-prior-digits", "VQVAE2Prior", dict(autoencoder=VQ2_DIGITS, num_layers=5, filters=32),
           "digits", "Gated PixelCNN priors over the top and (given it) bottom codes of a vqvae2-digits run (--from)",
           epochs=100, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae2-prior-mnist", "VQVAE2Prior", dict(autoencoder=VQ2_MNIST, num_layers=5, filters=64),
           "mnist", "Gated PixelCNN priors over the top and (given it) bottom codes of a vqvae2-mnist run (--from)",
           epochs=30, batch_size=128, learning_rate=1e-3, binarize="dynamic"),
    Recipe("vqvae2-prior-cifar10", "VQVAE2Prior", dict(autoencoder=VQ2_CIFAR10, num_layers=5, filters=64),
           "cifar10", "Gated PixelCNN priors over the codes of a vqvae2-cifar10 run (--from)",
           epochs=30, batch_size=128, learning_rate=1e-3),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_VQ = dict(filters=(4,), num_codes=4, embedding_dim=2, ema=True, restart_threshold=1.0)
_VQ2 = dict(_VQ, top_filters=(4,))
_PRIOR = dict(num_layers=2, filters=4, hidden=4)
register_test_configs(
    TestConfig("vqvae", "VQVAE", _VQ),
    TestConfig("vqvae-prior", "VQPixelCNNPrior", dict(_PRIOR, autoencoder=_VQ)),
    TestConfig("vqvae2", "VQVAE2", _VQ2),
    TestConfig("vqvae2-mse", "VQVAE2", dict(_VQ2, reconstruction="mse"), input_shape=(4, 4, 3), grey=True,
               saved_model=False),
    TestConfig("vqvae2-prior", "VQVAE2Prior", dict(_PRIOR, autoencoder=_VQ2)),
    TestConfig("vqvae2-prior-mse", "VQVAE2Prior", dict(_PRIOR, autoencoder=dict(_VQ2, reconstruction="mse")),
               input_shape=(4, 4, 3), grey=True, saved_model=False, tflite=False),
)
