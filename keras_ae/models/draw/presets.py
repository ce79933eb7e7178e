"""Recipes of DRAW (Gregor et al. 2015): recurrent attentive writing on a canvas, with the paper's
Gaussian filterbank read (2 x 2 on MNIST) and write (5 x 5), and the no-attention variant.

Bernoulli likelihood on dynamically binarized data, tested on a fixed binarization, like
``vae-digits`` / ``vae-mnist``, so the test NLLs compare with theirs. The paper's MNIST model has
64 steps, 100-dimensional ``z_t`` and 256-unit LSTMs; the MNIST recipes here keep its read and
write sizes and take 16 steps of 10-dimensional ``z_t`` (a 160-number code) and 128-unit LSTMs,
which a shared 2-core CPU trains for 100 epochs of the MNIST subset and evaluates with k = 1000
importance samples in about the budget of the other MNIST-subset rows (the README's DRAW section).
Adam 3e-3 on MNIST: on the MNIST subset (100 epochs, batch 128) the test ELBO after the last
epoch was -109.6 nats at 3e-3 against -131.8 at 1e-3, which was still falling slowly.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

#: digits (8 x 8): 6 steps of 4-dimensional z_t, 64-unit LSTMs, 3 x 3 read and write.
DRAW_DIGITS = dict(latent_dim=4, steps=6, hidden_units=(64,), read_size=3, write_size=3)
#: MNIST (28 x 28): 16 steps of 10-dimensional z_t, 128-unit LSTMs, the paper's 2 x 2 read and 5 x 5 write.
DRAW_MNIST = dict(latent_dim=10, steps=16, hidden_units=(128,), read_size=2, write_size=5)

register(
    Recipe("draw-digits", "DRAW", DRAW_DIGITS, "digits",
           "DRAW, 6 steps, Gaussian filterbank read/write attention (digits)",
           epochs=150, batch_size=64, learning_rate=1e-3, binarize="dynamic"),
    Recipe("draw-mnist", "DRAW", DRAW_MNIST, "mnist",
           "DRAW, 16 steps, 2x2 read / 5x5 write attention (MNIST)",
           epochs=50, batch_size=128, learning_rate=3e-3, binarize="dynamic"),
    Recipe("draw-noattn-mnist", "DRAW", {**DRAW_MNIST, "attention": False}, "mnist",
           "DRAW without attention, 16 steps, whole-image read and write (MNIST)",
           epochs=50, batch_size=128, learning_rate=3e-3, binarize="dynamic"),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(latent_dim=2, steps=2, hidden_units=(8,), read_size=2, write_size=3)
register_test_configs(
    TestConfig("draw", "DRAW", _TINY, input_shape=(8, 8, 1)),
    TestConfig("draw-noattn", "DRAW", dict(_TINY, attention=False), input_shape=(8, 8, 1),
               saved_model=False),
)
