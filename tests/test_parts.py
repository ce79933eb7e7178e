"""Parts composed into a VAE: lookup and serialization, the composed recipes through the whole contract
harness, and the combinations whose math does not hold refused with their reason.

- every registered part resolves from its name, from ``{"name": ..., arguments}``, from an
  instance and from its Keras config, and a composed model's config and ``.keras`` file round-trip;
- the VampPrior over an IAF posterior is the log-mean-exp of that posterior at the pseudo-inputs
  (any posterior part, not only the Gaussian);
- ``iaf-mog-digits``, ``wae-vampprior-digits`` and ``iwae-planar-digits`` are zoo recipes on the
  ``vae-digits`` budget; their parts on tiny bodies (the test configurations ``iaf-mog``,
  ``wae-vampprior``, ``iwae-planar``) pass ``keras_ae.testing.check_model`` in
  ``tests/test_harness_configs*.py``: both training paths, two replicas, save/load, every
  signature, SavedModel and TFLite, every signature in the TFLite file (fresh samplers in builtin ops);
- a refused combination is a ``ValueError`` that names the reason.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from keras_ae import parts
from keras_ae.models import VAE, BetaTCVAE, DIPVAE, IWAE, TwoLayerVAE, InfoVAE
from keras_ae.presets import RECIPES

SHAPE = (4, 4, 1)
COMPOSED = ("iaf-mog-digits", "wae-vampprior-digits", "iwae-planar-digits")


@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(0).uniform(size=(8,) + SHAPE) > 0.5).astype("float32")


def tiny(**kwargs):
    return VAE(input_shape=SHAPE, latent_dim=kwargs.pop("latent_dim", 3), hidden_units=(8,), seed=2, **kwargs)


def recipe_model(name, shape=SHAPE, hidden_units=(16,)):
    """The composed recipe's parts on a tiny body (the recipe's own sizes would cost minutes of CI)."""
    return VAE(input_shape=shape, **{**RECIPES[name].model_args, "hidden_units": hidden_units, "latent_dim": 3},
               seed=1)


# -- lookup and serialization ----------------------------------------------------------------------
def test_every_registered_part_resolves_from_each_form_and_round_trips():
    for kind, names in parts.names().items():
        assert names, kind
        for name in names:
            part = parts.resolve(kind, name, kind)
            assert part.kind == kind and part.name == kind and name in type(part).names
            from_dict = parts.resolve(kind, {"name": name, **part.arguments()}, kind)
            from_instance = parts.resolve(kind, part, kind)
            from_config = parts.resolve(kind, parts.serialize(part), kind)
            for other in (from_dict, from_instance, from_config):
                assert type(other) is type(part) and other.arguments() == part.arguments()
                assert other is not part  # the model takes its own copy
    with pytest.raises(ValueError, match="posterior must be one of .*'gaussian'.*got 'normalizing'"):
        tiny(posterior="normalizing")
    with pytest.raises(ValueError, match="prior must be a prior part, got GaussianPosterior"):
        tiny(prior=parts.GaussianPosterior())
    with pytest.raises(ValueError, match="prior=.*'size'"):
        tiny(prior={"name": "mixture", "size": 3})
    with pytest.raises(ValueError, match="regularizer must be one of"):
        tiny(regularizer=3.0)


def test_a_composed_model_round_trips_its_config_and_its_keras_file(x, tmp_path):
    model = tiny(posterior=parts.IAFPosterior(steps=2, hidden_units=(8,)), prior={"name": "mixture", "components": 3},
                 regularizer=parts.KL(beta=0.5))
    model.build()
    config = model.get_config()
    assert config["posterior"]["class_name"] == "IAFPosterior" and config["beta"] == 0.5
    assert VAE.from_config(config).get_config() == config
    model.compile()
    model.fit(x, epochs=1, batch_size=4, verbose=0)
    path = str(tmp_path / "composed.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is VAE and loaded.get_config() == config
    assert type(loaded.prior_part) is parts.MixturePrior and loaded.beta == 0.5
    for name in ("encode", "reconstruct", "score"):
        np.testing.assert_allclose(getattr(loaded, name)(x).numpy(), getattr(model, name)(x).numpy(), rtol=1e-5)
    np.testing.assert_allclose(loaded.sample(3, seed=1).numpy(), model.sample(3, seed=1).numpy(), rtol=1e-5)


def test_named_configurations_are_vaes_of_parts():
    model = InfoVAE(input_shape=SHAPE, latent_dim=3, hidden_units=(8,), alpha=0.5, beta=2.0)
    assert type(model) is VAE and type(model.regularizer_part) is parts.MMD and model.beta == 2.0
    iwae = IWAE(input_shape=SHAPE, latent_dim=3, hidden_units=(8,))
    assert iwae.bound == "iwae" and iwae.num_samples == 5 and "iw_bound" in iwae.TERMS
    assert VAE.from_config(iwae.get_config()).bound == "iwae"


def test_vampprior_over_a_flow_posterior_is_the_mean_of_its_densities_at_the_pseudo_inputs():
    model = tiny(posterior=parts.IAFPosterior(steps=2, hidden_units=(8,)), prior=parts.VampPrior(pseudo_inputs=4),
                 latent_dim=2)
    model.build()
    for v in model.posterior_part.flow.weights:  # MADEs start at the identity: make the flow do something
        v.assign(np.random.default_rng(1).normal(scale=0.3, size=v.shape).astype("float32"))
    u = np.clip(model.prior_part.pseudo_inputs.numpy(), 0, 1)
    z = tf.constant(np.random.default_rng(2).normal(size=(5, 2)).astype("float32"))
    per_input = np.stack([model.posterior(u[k:k + 1]).log_prob(z).numpy() for k in range(4)])  # [K, 5]
    expected = logsumexp(per_input, axis=0) - np.log(4)
    np.testing.assert_allclose(model.prior().log_prob(z).numpy(), expected, rtol=1e-4, atol=1e-4)
    draws = model._prior_codes(6, tf.constant([1, 2])).numpy()
    assert draws.shape == (6, 2) and np.all(np.isfinite(draws))


# -- refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, reason", [
    (lambda: BetaTCVAE(input_shape=SHAPE, latent_dim=3, prior="mixture"),
     r"total-correlation split needs a factorized prior .*MixturePrior"),
    (lambda: BetaTCVAE(input_shape=SHAPE, latent_dim=3, prior="vampprior"),
     r"total-correlation split needs a factorized prior .*VampPrior"),
    (lambda: BetaTCVAE(input_shape=SHAPE, latent_dim=3, posterior="iaf"),
     r"total-correlation split needs a diagonal Gaussian posterior .*IAFPosterior"),
    (lambda: tiny(posterior="planar", free_bits=0.5),
     r"free_bits must be 0 with PlanarPosterior.*free bits floor a per-dimension KL"),
    (lambda: tiny(prior="mixture", free_bits=0.5),
     r"free_bits must be 0 with .*MixturePrior.*closed-form KL"),
    (lambda: tiny(prior="maf", regularizer=parts.KL(estimator="analytic")),
     r"estimator='analytic' needs a closed-form KL\(q \|\| p\).*MAFPrior.* have none"),
    (lambda: tiny(bound="iwae", num_samples=3, regularizer="mmd"),
     r"bound='iwae' replaces the ELBO, whose latent term is the KL; .*MMD"),
    (lambda: IWAE(input_shape=SHAPE, latent_dim=3, free_bits=0.1),
     r"free_bits must be 0 for the IWAE bound"),
    (lambda: DIPVAE(input_shape=SHAPE, latent_dim=3, prior="vampprior"),
     r"DIP matches the covariance of q\(z\) to the identity.*VampPrior"),
    (lambda: tiny(posterior="von_mises_fisher"),
     r"prior StandardNormal\(\) is over codes in euclidean space and the posterior VonMisesFisherPosterior\(\) "
     r"draws them in sphere space"),
    (lambda: tiny(prior="spherical_uniform"), r"in sphere space .* in euclidean space"),
    (lambda: tiny(regularizer="mmd", num_samples=2), r"num_samples must be 1 for the MMD regularizer"),
    (lambda: tiny(regularizer="adversarial", num_samples=2), r"num_samples must be 1 for the Adversarial"),
    (lambda: tiny(posterior=parts.CategoricalPosterior(2, 3), prior=parts.UniformCategorical(3)),
     r"latent_dim must be num_variables \* num_classes = 6"),
    (lambda: tiny(latent_dim=6, posterior=parts.CategoricalPosterior(2, 3), prior=parts.UniformCategorical(2)),
     r"group the code into different classes"),
    (lambda: tiny(beta=2.0, regularizer=parts.KL(beta=1.0)), r"beta=2.0 disagrees with the regularizer KL"),
    (lambda: tiny(free_bits=0.1, regularizer="mmd"), r"free_bits=0.1 does not apply to the regularizer MMD"),
    (lambda: tiny(decoder_scale="global"), r"decoder_scale.*set the likelihood='gaussian' part"),
    (lambda: TwoLayerVAE(input_shape=SHAPE, latent_dims=(3, 2), posterior="iaf"),
     r"TwoLayerVAE takes no posterior='iaf': its posterior is the hierarchy's chain of Gaussian layers"),
])
def test_a_combination_whose_math_does_not_hold_is_refused_with_the_reason(make, reason):
    with pytest.raises(ValueError, match=reason):
        make()


def test_the_regularizer_gives_its_parameter_group_and_default_optimizer():
    model = tiny(regularizer={"name": "discriminator_tc", "units": [6], "learning_rate": 2e-3})
    assert model.PARAMETER_GROUPS == {"discriminator": ("discriminator_loss",)} and "total_correlation" in model.TERMS
    model.build()
    group = {id(v) for v in model.parameter_group_variables("discriminator")}
    assert group == {id(v) for v in model.regularizer_part.discriminator.trainable_variables}
    assert not group & {id(v) for v in model.main_trainable_variables()}
    model.compile()
    config = model._group_optimizers["discriminator"].get_config()
    assert config["learning_rate"] == pytest.approx(2e-3) and config["beta_2"] == pytest.approx(0.9)
    assert tiny().PARAMETER_GROUPS == {}


# -- the composed recipes through the whole harness ------------------------------------------------
def test_the_composed_recipes_are_zoo_recipes_on_the_vae_digits_budget():
    base = RECIPES["vae-digits"]
    for name in COMPOSED:
        recipe = RECIPES[name]
        assert recipe.model == "VAE" and recipe.dataset == "digits"
        assert (recipe.epochs, recipe.batch_size, recipe.learning_rate, recipe.binarize) == (
            base.epochs, base.batch_size, base.learning_rate, base.binarize)
        for key in ("hidden_units", "latent_dim", "likelihood"):
            assert recipe.model_args[key] == base.model_args[key]
    model = recipe_model("wae-vampprior-digits", shape=(8, 8, 1))
    assert type(model.prior_part) is parts.VampPrior and model.regularizer_part.deterministic_codes


