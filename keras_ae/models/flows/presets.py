"""Recipes of normalizing flows and learned priors: planar and IAF posteriors; mixture, VampPrior
and MAF priors. Same bodies, budget and binarization as ``vae-digits`` / ``vae-mnist`` (the
variational family's ``_pair``), so their test NLLs compare with the plain VAE's.
"""

from keras_ae.presets.registry import TestConfig, register, register_test_configs
from keras_ae.models.vae.presets import _pair

register(
    *_pair("planar", "PlanarVAE", dict(likelihood="bernoulli", flow_steps=10),
           "VAE with 10 planar flows on the posterior (Rezende & Mohamed 2015)"),
    *_pair("iaf", "IAFVAE", dict(likelihood="bernoulli", flow_steps=2),
           "VAE with an IAF posterior, 2 MADE steps (Kingma et al. 2016)",
           digits_args=dict(flow_hidden_units=(64,)), mnist_args=dict(flow_hidden_units=(256,))),
    *_pair("mog-prior", "MoGPriorVAE", dict(likelihood="bernoulli", prior_components=10),
           "VAE with a learned 10-component mixture-of-Gaussians prior"),
    *_pair("vampprior", "VampPriorVAE", dict(likelihood="bernoulli"),
           "VAE with the VampPrior, 50 / 500 pseudo-inputs (Tomczak & Welling 2018)",
           digits_args=dict(pseudo_inputs=50), mnist_args=dict(pseudo_inputs=500)),
    *_pair("maf-prior", "MAFPriorVAE", dict(likelihood="bernoulli", prior_flow_steps=2),
           "VAE with a MAF prior, 2 MADE steps (Papamakarios et al. 2017)",
           digits_args=dict(prior_hidden_units=(64,)), mnist_args=dict(prior_hidden_units=(256,))),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(latent_dim=2, hidden_units=(8,), likelihood="bernoulli")
register_test_configs(
    TestConfig("planar", "PlanarVAE", dict(_TINY, flow_steps=2)),
    TestConfig("iaf", "IAFVAE", dict(_TINY, flow_steps=2, flow_hidden_units=(8,))),
    TestConfig("mog-prior", "MoGPriorVAE", dict(_TINY, prior_components=3)),
    TestConfig("vampprior", "VampPriorVAE", dict(_TINY, pseudo_inputs=3)),
    TestConfig("maf-prior", "MAFPriorVAE", dict(_TINY, prior_flow_steps=2, prior_hidden_units=(8,))),
)
