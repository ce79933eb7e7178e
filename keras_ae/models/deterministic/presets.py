"""Recipes of the deterministic family: plain, linear, sparse, denoising, contractive."""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

MNIST_BODY = dict(hidden_units=(512,))
DIGITS_BODY = dict(hidden_units=(128,))


def _pair(stem, model, args, description, digits_epochs=60, mnist_epochs=20, digits_lr=1e-3, mnist_binarize=None):
    """The same model on digits (offline default) and on MNIST."""
    return (
        Recipe(f"{stem}-digits", model, {**DIGITS_BODY, **args}, "digits", description + " (digits)",
               epochs=digits_epochs, batch_size=64, learning_rate=digits_lr),
        Recipe(f"{stem}-mnist", model, {**MNIST_BODY, **args}, "mnist", description + " (MNIST)",
               epochs=mnist_epochs, batch_size=128, binarize=mnist_binarize),
    )


register(
    *_pair("ae", "Autoencoder", dict(latent_dim=16), "Autoencoder, MLP, squared error"),
    *_pair("ae-bce", "Autoencoder", dict(latent_dim=16, reconstruction="bernoulli"),
           "Autoencoder, MLP, Bernoulli cross-entropy"),
    *_pair("ae-conv", "Autoencoder", dict(latent_dim=16, architecture="conv", filters=(32, 64), hidden_units=()),
           "Convolutional autoencoder, squared error"),
    *_pair("linear-ae", "Autoencoder", dict(latent_dim=8, hidden_units=(), activation="linear"),
           "Linear autoencoder (finds the PCA subspace), 8 components", digits_epochs=150, digits_lr=1e-2),
    *_pair("sparse-l1", "SparseAutoencoder", dict(latent_dim=64, penalty="l1", sparsity_weight=0.01),
           "Overcomplete sparse autoencoder, L1 code penalty"),
    *_pair("sparse-kl", "SparseAutoencoder",
           dict(latent_dim=64, penalty="kl", sparsity_weight=0.3, target_activation=0.05),
           "Overcomplete sparse autoencoder, KL target activation 0.05"),
    *_pair("denoising-gaussian", "DenoisingAutoencoder",
           dict(latent_dim=32, corruption="gaussian", noise_level=0.3), "Denoising autoencoder, Gaussian noise 0.3"),
    *_pair("denoising-masking", "DenoisingAutoencoder",
           dict(latent_dim=32, corruption="masking", noise_level=0.3), "Denoising autoencoder, masking noise 30%"),
    *_pair("denoising-saltpepper", "DenoisingAutoencoder",
           dict(latent_dim=32, corruption="salt_and_pepper", noise_level=0.2),
           "Denoising autoencoder, salt-and-pepper 20%"),
    *_pair("contractive", "ContractiveAutoencoder", dict(latent_dim=16, contractive_weight=0.1),
           "Contractive autoencoder, exact Jacobian penalty 0.1"),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.

_TINY = dict(latent_dim=2, hidden_units=(8,))
register_test_configs(
    TestConfig("ae", "Autoencoder", _TINY, grey=True),
    TestConfig("ae-bce-linear", "Autoencoder", dict(_TINY, hidden_units=(), reconstruction="bernoulli",
                                                    activation="linear"), saved_model=False),
    TestConfig("ae-conv", "Autoencoder", dict(_TINY, hidden_units=(), architecture="conv", filters=(4, 8)),
               input_shape=(8, 8, 1), grey=True, saved_model=False),
    TestConfig("sparse-l1", "SparseAutoencoder", dict(_TINY, penalty="l1", sparsity_weight=0.01), grey=True),
    TestConfig("sparse-kl", "SparseAutoencoder", dict(_TINY, penalty="kl", sparsity_weight=0.3,
                                                      target_activation=0.05),
               grey=True, saved_model=False, tflite=False),
    TestConfig("denoising-gaussian", "DenoisingAutoencoder", dict(_TINY, corruption="gaussian", noise_level=0.3),
               grey=True),
    TestConfig("denoising-masking", "DenoisingAutoencoder", dict(_TINY, corruption="masking", noise_level=0.3),
               grey=True, saved_model=False, tflite=False),
    TestConfig("denoising-saltpepper", "DenoisingAutoencoder", dict(_TINY, corruption="salt_and_pepper",
                                                                    noise_level=0.2),
               grey=True, saved_model=False, tflite=False),
    TestConfig("contractive", "ContractiveAutoencoder", dict(_TINY, contractive_weight=0.1), grey=True),
)
