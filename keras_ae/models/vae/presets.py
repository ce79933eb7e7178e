"""Recipes of the variational family: VAE (flagship), beta-VAE, KL warm-up with free bits, IWAE,
continuous Bernoulli, categorical (Gumbel-softmax) VAE and a 2-D latent VAE.

Bernoulli-likelihood recipes train on dynamically binarized data (a fresh binary sample every
epoch) and are tested on a fixed binarization, so the reported NLL is a likelihood of binary data,
comparable with published binarized-MNIST numbers on ``*-mnist``.

Defaults measured (test NLL, k = 1000, statically binarized digits test set, 360 examples, 100 epochs,
MLP 64-128-8): Adam 3e-3 22.88 nats, 1e-3 23.28, 1e-2 22.83 (one unit collapsed); PyTorch-style
kernel initialization instead of Glorot: 22.92 (3e-3) and 23.20 (1e-3), within the noise; 200
epochs at 3e-3: 22.66. Hence Adam 3e-3 with Keras's Glorot initialization for digits.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

DIGITS_BODY = dict(hidden_units=(128,))
MNIST_BODY = dict(hidden_units=(512,))


def _pair(stem, model, args, description, digits_args=None, mnist_args=None, digits_epochs=150, mnist_epochs=50,
          binarize="dynamic", callbacks=(), mnist_callbacks=None, digits_lr=3e-3, latent_dims=(8, 16)):
    """The same model on digits (offline default; 8-D latent) and on MNIST (16-D latent)."""
    digits_latent, mnist_latent = ({"latent_dim": d} if d else {} for d in latent_dims)
    return (
        Recipe(f"{stem}-digits", model, {**DIGITS_BODY, **digits_latent, **args, **(digits_args or {})}, "digits",
               description + " (digits)", epochs=digits_epochs, batch_size=64, learning_rate=digits_lr,
               binarize=binarize, callbacks=callbacks),
        Recipe(f"{stem}-mnist", model, {**MNIST_BODY, **mnist_latent, **args, **(mnist_args or {})}, "mnist",
               description + " (MNIST)", epochs=mnist_epochs, batch_size=128, binarize=binarize,
               callbacks=callbacks if mnist_callbacks is None else mnist_callbacks),
    )


_CATEGORICAL_DIGITS = dict(num_variables=8, num_classes=8)
_CATEGORICAL_MNIST = dict(num_variables=30, num_classes=10, hidden_units=(512, 256))

register(
    *_pair("vae", "VAE", dict(likelihood="bernoulli"),
           "VAE, MLP, Bernoulli likelihood (flagship)"),
    # beta = 4 collapses every unit on 64-pixel digits (KL 0.002 nats); beta = 2 keeps 4 of 8
    *_pair("beta-vae", "VAE", dict(likelihood="bernoulli"),
           "beta-VAE, beta 2 on digits / 4 on MNIST, Bernoulli likelihood",
           digits_args=dict(beta=2.0), mnist_args=dict(beta=4.0)),
    *_pair("vae-warmup", "VAE", dict(likelihood="bernoulli", free_bits=0.1),
           "VAE with linear KL warm-up (10 epochs) and free bits 0.1 nat/dim",
           callbacks=(("KLWarmup", {"epochs": 10}),)),
    *_pair("iwae", "IWAE", dict(likelihood="bernoulli", num_samples=5),
           "IWAE, k = 5, Bernoulli likelihood"),
    *_pair("vae-cb", "VAE", dict(likelihood="continuous_bernoulli"),
           "VAE, continuous Bernoulli likelihood on grey levels", binarize=None),
    *_pair("vae-2d", "VAE", dict(likelihood="bernoulli", latent_dim=2),
           "VAE with a 2-D latent (for the learned manifold)"),
    *_pair("cat-vae", "CategoricalVAE", dict(likelihood="bernoulli"),
           "Categorical VAE, Gumbel-softmax with annealed temperature",
           digits_args=_CATEGORICAL_DIGITS, mnist_args=_CATEGORICAL_MNIST, latent_dims=(None, None),
           callbacks=(("TemperatureAnnealing", {"initial": 1.0, "minimum": 0.5, "rate": 1e-3}),),
           mnist_callbacks=(("TemperatureAnnealing", {"initial": 1.0, "minimum": 0.5, "rate": 3e-5}),)),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.

_TINY = dict(latent_dim=2, hidden_units=(8,))
register_test_configs(
    TestConfig("vae", "VAE", dict(_TINY, likelihood="bernoulli")),
    TestConfig("vae-cb-beta-free-bits", "VAE", dict(_TINY, likelihood="continuous_bernoulli", beta=2.0,
                                                    free_bits=0.1),
               grey=True, saved_model=False),
    TestConfig("iwae", "IWAE", dict(_TINY, likelihood="bernoulli", num_samples=3)),
    TestConfig("cat-vae", "CategoricalVAE", dict(hidden_units=(8,), likelihood="bernoulli", num_variables=2,
                                                 num_classes=3)),
)
