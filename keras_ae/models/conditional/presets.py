"""Recipes of the conditional and semi-supervised family: the conditional VAE (every training
label), M2, ADGM, SDGM and M1+M2 (10 labels per class, the rest of the training set unlabelled).

The zoo feeds labels to these models (``zoo.runner.labels_needed``): the conditional VAE trains on
``{"x", "y"}`` batches of every training label; the semi-supervised models on
``keras_ae.data.semisupervised.labelled_split(x, y, labels_per_class, seed=--seed)`` mixed into
batches by ``mixed_pipeline(split, batch_size, labelled_per_batch)``; each batch holds
``labelled_per_batch`` labelled rows spread evenly through it, so every replica gets its share.

Sizes: digits MLP (256,), latent 16, auxiliary 16 (as ``benchmarks/semisupervised.py``); MNIST
MLP (500,), latent 50, auxiliary 100 (Kingma et al. 2014; Maaløe et al. 2016). ``alpha`` is the
model's default. The grey images are the data (no binarization), as in the benchmark. M1+M2 is M2
on the posterior means of a finished VAE run (``--from RUN_DIR`` of ``vae-digits`` /
``vae-mnist``, Bernoulli VAEs trained on binarized images), so its images are binarized once
(``binarize="static"``) like that VAE's test images.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

#: digits: the semi-supervised benchmark's sizes.
DIGITS = dict(hidden_units=(256,), latent_dim=16, num_classes=10)
#: MNIST: the papers' sizes.
MNIST = dict(hidden_units=(500,), latent_dim=50, num_classes=10)
#: 10 labels per class; a quarter of each batch labelled (16 of 64 on digits, 25 of 100 on MNIST).
DIGITS_LABELS = dict(labels_per_class=10, labelled_per_batch=16, batch_size=64)
MNIST_LABELS = dict(labels_per_class=10, labelled_per_batch=25, batch_size=100)
#: The first stage of M1+M2 when it is built from the recipe alone (--from replaces it with a
#: trained run's model): the vae-digits / vae-mnist recipes' VAE.
M1_DIGITS = dict(latent_dim=8, hidden_units=(128,), likelihood="bernoulli")
M1_MNIST = dict(latent_dim=16, hidden_units=(512,), likelihood="bernoulli")


def _semi(stem, model, args, description, digits_args=None, mnist_args=None, mnist=True, binarize=None):
    """The semi-supervised ``model`` on digits (100 epochs) and MNIST (50 epochs), 10 labels per class."""
    recipes = [Recipe(f"{stem}-digits", model, {**DIGITS, **args, **(digits_args or {})}, "digits",
                      description + ", 10 labels per class (digits)", epochs=100, learning_rate=1e-3,
                      binarize=binarize, **DIGITS_LABELS)]
    if mnist:
        recipes.append(Recipe(f"{stem}-mnist", model, {**MNIST, **args, **(mnist_args or {})}, "mnist",
                              description + ", 10 labels per class (MNIST)", epochs=50, learning_rate=1e-3,
                              binarize=binarize, **MNIST_LABELS))
    return recipes


register(
    Recipe("cvae-digits", "ConditionalVAE", DIGITS, "digits",
           "conditional VAE on every training label, class-conditional samples (Sohn et al. 2015) (digits)",
           epochs=100, batch_size=64, learning_rate=1e-3),
    Recipe("cvae-mnist", "ConditionalVAE", MNIST, "mnist",
           "conditional VAE on every training label, class-conditional samples (Sohn et al. 2015) (MNIST)",
           epochs=50, batch_size=100, learning_rate=1e-3),
    *_semi("m2", "M2", {}, "M2: classifier q(y|x) + class-conditional VAE (Kingma et al. 2014)"),
    *_semi("adgm", "ADGM", {}, "ADGM: M2 with an auxiliary variable a (Maaløe et al. 2016)",
           digits_args=dict(auxiliary_dim=16), mnist_args=dict(auxiliary_dim=100)),
    *_semi("sdgm", "ADGM", dict(skip=True), "SDGM: the skip deep generative model (Maaløe et al. 2016)",
           digits_args=dict(auxiliary_dim=16), mnist=False),
    *_semi("m1m2", "M1M2", {}, "M1+M2: M2 on the codes of a finished VAE run (--from RUN_DIR; Kingma et al. 2014)",
           digits_args=dict(autoencoder=M1_DIGITS), mnist_args=dict(autoencoder=M1_MNIST), binarize="static"),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(hidden_units=(8,), latent_dim=2, num_classes=3)
register_test_configs(
    TestConfig("cvae", "ConditionalVAE", _TINY, labels=3),
    TestConfig("m2", "M2", _TINY, labels=3, unlabelled=True),
    TestConfig("adgm", "ADGM", dict(_TINY, auxiliary_dim=2), labels=3, unlabelled=True),
    TestConfig("sdgm", "ADGM", dict(_TINY, auxiliary_dim=2, skip=True), labels=3, unlabelled=True,
               saved_model=False),
    TestConfig("m1m2", "M1M2", dict(_TINY, autoencoder=dict(latent_dim=3, hidden_units=(8,), likelihood="bernoulli")),
               labels=3, unlabelled=True),
)
