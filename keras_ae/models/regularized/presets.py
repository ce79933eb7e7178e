"""Recipes of the regularized family (Ghosh et al. 2020): RAE and constant-variance VAE.

Both sample through an ex-post Gaussian mixture: ``python -m zoo train`` calls every model's
``post_fit(x_train, seed=seed)`` hook after ``fit``, which for these models fits the mixture to
the training codes, so ``samples.png`` and the exported ``sample`` signature draw from it.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

DIGITS_BODY = dict(hidden_units=(128,), latent_dim=8)
MNIST_BODY = dict(hidden_units=(512,), latent_dim=16)


def _pair(stem, model, args, description, digits_epochs=100, mnist_epochs=30):
    """The same model on digits (offline default) and on MNIST, Bernoulli cross-entropy on grey levels."""
    return (
        Recipe(f"{stem}-digits", model, {**DIGITS_BODY, **args}, "digits", description + " (digits)",
               epochs=digits_epochs, batch_size=64, learning_rate=1e-3),
        Recipe(f"{stem}-mnist", model, {**MNIST_BODY, **args}, "mnist", description + " (MNIST)",
               epochs=mnist_epochs, batch_size=128, learning_rate=1e-3),
    )


register(
    *_pair("rae", "RAE",
           dict(reconstruction="bernoulli", beta=1e-2, decoder_regularizer="gradient_penalty", decoder_weight=1e-2,
                density_components=10),
           "RAE-GP: L2 code penalty + decoder gradient penalty, ex-post GMM sampling"),
    *_pair("cvvae", "ConstantVarianceVAE",
           dict(reconstruction="bernoulli", noise_scale=0.1, beta=1.0, density_components=10),
           "Constant-variance VAE (code noise 0.1), ex-post GMM sampling"),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(latent_dim=2, hidden_units=(8,), reconstruction="bernoulli", density_components=2)
register_test_configs(
    TestConfig("rae", "RAE", dict(_TINY, beta=0.01, decoder_regularizer="gradient_penalty", decoder_weight=0.01)),
    # the sigmoid output of the squared error (the output non-linearity of benchmarks/peer_parity.py's RAEs)
    TestConfig("rae-sigmoid", "RAE", dict(_TINY, reconstruction="mse", beta=0.01, decoder_weight=1e-4, output_activation="sigmoid")),
    TestConfig("cvvae", "ConstantVarianceVAE", dict(_TINY, noise_scale=0.1, beta=1.0)),
)
