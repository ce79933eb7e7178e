"""Recipes of the disentangling family on digits and on the procedural dSprites (no download).

dSprites budget (this project's 2-core CPU, shared): ``dsprites-procedural`` (32,768 training
combinations of the 737,280), an MLP 4096-256-10 with a Bernoulli likelihood on the binary
images, batch 64, Adam 1e-3, 3 epochs (1,536 steps). Measured on the loaded machine: a
4096-512-256 body took 405 ms a step, the 256-unit body 46-87 ms (72-131 s a run); FactorVAE's paper
discriminator (6 x 1000 units) would cost more than the VAE itself, so the recipe uses 3 x 256.
The papers train for 300,000 steps (Kim & Mnih) or 100,000 (Burgess et al.), so the numbers
measured with these recipes are for a short budget; the README states it with the table.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs
from keras_ae.models.vae.presets import DIGITS_BODY

DSPRITES = "dsprites-procedural"
DSPRITES_TRAIN = 32768
DSPRITES_BODY = dict(hidden_units=(256,), latent_dim=10, likelihood="bernoulli")
DSPRITES_EPOCHS = 3
DIGITS_TRAIN = 1437  # scikit-learn's 1,797 digits less the 360 held out (keras_ae.data.digits)


def dsprites_recipe(name, model, args, description, callbacks=()):
    """A recipe on the procedural dSprites at this machine's budget (see the module docstring)."""
    return Recipe(name, model, {**DSPRITES_BODY, **args}, DSPRITES, description + " (procedural dSprites)",
                  epochs=DSPRITES_EPOCHS, batch_size=64, learning_rate=1e-3, callbacks=callbacks)


def _digits(name, model, args, description, callbacks=()):
    return Recipe(name, model, {**DIGITS_BODY, "latent_dim": 8, "likelihood": "bernoulli", **args}, "digits",
                  description + " (digits)", epochs=150, batch_size=64, learning_rate=3e-3, binarize="dynamic",
                  callbacks=callbacks)


def _capacity(epochs, end):
    """Burgess et al.'s linear capacity increase ``C: 0 -> end`` nats over the run, computed in the train step."""
    return (("KLWarmup", {"epochs": epochs, "start": 0.0, "end": end, "variable": "capacity"}),)


register(
    _digits("beta-tcvae-digits", "BetaTCVAE", dict(beta=6.0, estimator="mss", dataset_size=DIGITS_TRAIN),
            "beta-TCVAE, beta 6, minibatch-stratified sampling (Chen et al. 2018)"),
    _digits("factorvae-digits", "FactorVAE", dict(gamma=10.0, discriminator_units=(64, 64)),
            "FactorVAE, gamma 10, permute-dims discriminator 64-64 (Kim & Mnih 2018)"),
    _digits("dip-vae-i-digits", "DIPVAE", dict(dip_type="i", lambda_od=10.0), "DIP-VAE-I, lambda_od 10 (Kumar et al. 2018)"),
    _digits("capacity-vae-digits", "CapacityVAE", dict(gamma=100.0, capacity=15.0),
            "beta-VAE with controlled capacity increase, C 0 -> 15 nats, gamma 100 (Burgess et al. 2018)",
            callbacks=_capacity(100, 15.0)),
    dsprites_recipe("vae-dsprites", "VAE", {}, "VAE (the baseline of the disentanglement table)"),
    dsprites_recipe("beta-vae-dsprites", "VAE", dict(beta=4.0), "beta-VAE, beta 4 (Higgins et al. 2017)"),
    dsprites_recipe("beta-tcvae-dsprites", "BetaTCVAE", dict(beta=6.0, estimator="mss", dataset_size=DSPRITES_TRAIN),
                    "beta-TCVAE, beta 6, minibatch-stratified sampling"),
    dsprites_recipe("factorvae-dsprites", "FactorVAE", dict(gamma=10.0, discriminator_units=(256,) * 3),
                    "FactorVAE, gamma 10, permute-dims discriminator 3 x 256"),
    dsprites_recipe("dip-vae-i-dsprites", "DIPVAE", dict(dip_type="i", lambda_od=10.0), "DIP-VAE-I, lambda_od 10"),
    dsprites_recipe("dip-vae-ii-dsprites", "DIPVAE", dict(dip_type="ii", lambda_od=10.0), "DIP-VAE-II, lambda_od 10"),
    dsprites_recipe("capacity-vae-dsprites", "CapacityVAE", dict(gamma=1000.0, capacity=25.0),
                    "controlled capacity increase, C 0 -> 25 nats over the run, gamma 1000",
                    callbacks=_capacity(DSPRITES_EPOCHS, 25.0)),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(latent_dim=2, hidden_units=(8,), likelihood="bernoulli")
register_test_configs(
    TestConfig("beta-tcvae", "BetaTCVAE", dict(_TINY, beta=6.0, estimator="mss", dataset_size=64)),
    TestConfig("factorvae", "FactorVAE", dict(_TINY, gamma=10.0, discriminator_units=(8,))),
    TestConfig("dip-vae-i", "DIPVAE", dict(_TINY, dip_type="i", lambda_od=10.0)),
    TestConfig("dip-vae-ii", "DIPVAE", dict(_TINY, dip_type="ii", lambda_od=10.0),
               saved_model=False, tflite=False),
    TestConfig("capacity-vae", "CapacityVAE", dict(_TINY, gamma=100.0, capacity=15.0)),
)
