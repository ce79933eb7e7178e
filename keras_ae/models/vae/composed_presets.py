"""Recipes composed of parts (:mod:`keras_ae.parts`) with no class of their own: combinations, and the
hyperspherical VAE, a family added only as parts.

Each is a ``VAE`` whose ``model_args`` name its parts, on ``vae-digits``'s body, budget and
binarization (MLP 64-128-8, Adam 3e-3, batch 64, 150 epochs, dynamic binarization), so their test
NLLs stand beside the plain VAE's (``benchmarks/composed_parts.py``):

- ``iaf-mog-digits``: an IAF posterior (2 MADE steps) under a learned 10-component mixture prior;
- ``wae-vampprior-digits``: WAE-MMD (IMQ kernel, lambda 10, deterministic codes) matching the
  aggregate posterior to a VampPrior (50 pseudo-inputs);
- ``iwae-planar-digits``: the importance-weighted bound (k = 5) with 10 planar flows on the posterior;
- ``hyperspherical-vae-digits``/``-mnist`` (Davidson et al. 2018): a von Mises-Fisher posterior
  and the uniform prior on the unit sphere (the KL in closed form), on ``vae-digits``/``vae-mnist``'s
  bodies and budgets.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs
from keras_ae.models.vae.presets import DIGITS_BODY, _pair


def _digits(name, args, description):
    return Recipe(name, "VAE", {**DIGITS_BODY, "latent_dim": 8, "likelihood": "bernoulli", **args}, "digits",
                  description + " (digits)", epochs=150, batch_size=64, learning_rate=3e-3, binarize="dynamic")


register(
    _digits("iaf-mog-digits", dict(posterior={"name": "iaf", "steps": 2, "hidden_units": [64]},
                                   prior={"name": "mixture", "components": 10}),
            "VAE composed of an IAF posterior (2 MADE steps) and a 10-component mixture-of-Gaussians prior"),
    _digits("wae-vampprior-digits", dict(regularizer={"name": "mmd", "weight": 10.0, "kernel": "imq",
                                                      "deterministic_codes": True},
                                         prior={"name": "vampprior", "pseudo_inputs": 50}),
            "WAE-MMD (IMQ, lambda 10) matching the aggregate posterior to a VampPrior of 50 pseudo-inputs"),
    _digits("iwae-planar-digits", dict(bound="iwae", num_samples=5, posterior={"name": "planar", "steps": 10}),
            "the IWAE bound (k = 5) with 10 planar flows on the posterior"),
    *_pair("hyperspherical-vae", "VAE", dict(likelihood="bernoulli", posterior="von_mises_fisher",
                                             prior="spherical_uniform"),
           "hyperspherical VAE: von Mises-Fisher posterior, uniform prior on the sphere (Davidson et al. 2018)"),
)

_TINY = dict(latent_dim=2, hidden_units=(8,), likelihood="bernoulli")
register_test_configs(
    TestConfig("iaf-mog", "VAE", dict(_TINY, posterior={"name": "iaf", "steps": 2, "hidden_units": [8]},
                                      prior={"name": "mixture", "components": 3})),
    TestConfig("wae-vampprior", "VAE", dict(_TINY, regularizer={"name": "mmd", "weight": 10.0, "kernel": "imq",
                                                                "deterministic_codes": True},
                                            prior={"name": "vampprior", "pseudo_inputs": 3})),
    TestConfig("iwae-planar", "VAE", dict(_TINY, bound="iwae", num_samples=3, posterior={"name": "planar", "steps": 2})),
    # d = 3: the sphere on which TFP's von Mises-Fisher sampler is exactly reparameterized and XLA compiles it;
    # d = 5: Wood's rejection sampler, which XLA cannot compile (another graph). The TFLite file leaves out
    # score: its Bessel functions have no builtin kernel, which the sidecar says.
    TestConfig("hyperspherical-vae", "VAE", dict(_TINY, latent_dim=3, posterior="von_mises_fisher",
                                                 prior="spherical_uniform"), tflite_skipped={"score": "Bessel"}),
    TestConfig("hyperspherical-vae-d5", "VAE", dict(_TINY, latent_dim=5, posterior="von_mises_fisher",
                                                    prior="spherical_uniform"), tflite_skipped={"score": "Bessel"}),
)
