"""Recipes of the latent-matching family: WAE-MMD (IMQ and RBF kernels), InfoVAE / MMD-VAE and the
adversarial autoencoder (WAE-GAN). Digits recipes use the variational family's body, budget and
binarization (``vae-digits``), so their test NLLs compare with the VAE's; one digits recipe per
class (each digits recipe goes through the contract harness in CI), the variants (RBF kernel,
MMD-VAE) on dSprites at the disentangling family's budget (``keras_ae.models.disentangling.presets``).
"""

from keras_ae.models.disentangling.presets import dsprites_recipe
from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs
from keras_ae.models.vae.presets import DIGITS_BODY


def _digits(name, model, args, description):
    return Recipe(name, model, {**DIGITS_BODY, "latent_dim": 8, "likelihood": "bernoulli", **args}, "digits",
                  description + " (digits)", epochs=150, batch_size=64, learning_rate=3e-3, binarize="dynamic")


register(
    _digits("wae-mmd-digits", "WAE", dict(kernel="imq"), "WAE-MMD, IMQ kernel, lambda 10 (Tolstikhin et al. 2018)"),
    _digits("infovae-digits", "InfoVAE", dict(alpha=0.0, mmd_weight=10.0),
            "InfoVAE, alpha 0 (full KL) + MMD, lambda 10 (Zhao et al. 2019)"),
    _digits("aae-digits", "AdversarialAutoencoder", dict(discriminator_units=(64, 64)),
            "Adversarial autoencoder / WAE-GAN, latent discriminator 64-64 (Makhzani et al. 2016)"),
    dsprites_recipe("wae-mmd-dsprites", "WAE", dict(kernel="imq"), "WAE-MMD, IMQ kernel, lambda 10"),
    dsprites_recipe("wae-mmd-rbf-dsprites", "WAE", dict(kernel="rbf"), "WAE-MMD, RBF kernel, lambda 10"),
    dsprites_recipe("mmd-vae-dsprites", "InfoVAE", dict(alpha=1.0, mmd_weight=10.0, kernel="rbf"),
                    "MMD-VAE (InfoVAE alpha 1), RBF kernel, lambda 10"),
    dsprites_recipe("aae-dsprites", "AdversarialAutoencoder", dict(discriminator_units=(256, 256)),
                    "Adversarial autoencoder / WAE-GAN, latent discriminator 256-256"),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(latent_dim=2, hidden_units=(8,), likelihood="bernoulli")
register_test_configs(
    TestConfig("wae-mmd-imq", "WAE", dict(_TINY, kernel="imq")),
    TestConfig("wae-mmd-rbf", "WAE", dict(_TINY, kernel="rbf"), saved_model=False, tflite=False),
    # the Gaussian likelihood with a sigmoid mean (benchmarks/peer_parity.py's WAE, as pythae's decoder)
    TestConfig("wae-gaussian-sigmoid", "WAE", dict(_TINY, kernel="imq", likelihood={
        "name": "gaussian", "scale": "fixed", "fixed_scale": 0.5, "mean": "sigmoid"}), grey=True),
    TestConfig("infovae", "InfoVAE", dict(_TINY, alpha=0.0, mmd_weight=10.0)),
    TestConfig("mmd-vae", "InfoVAE", dict(_TINY, alpha=1.0, mmd_weight=10.0, kernel="rbf"),
               saved_model=False, tflite=False),
    TestConfig("aae", "AdversarialAutoencoder", dict(_TINY, discriminator_units=(8,))),
)
