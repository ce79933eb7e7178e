"""The categorical VAE as a named configuration: one-hot codes relaxed with Gumbel-softmax in training."""

from keras_ae.models.vae.vae import VAE, named_configuration
from keras_ae.parts import CategoricalPosterior, UniformCategorical


@named_configuration
def CategoricalVAE(input_shape, num_variables=20, num_classes=10, temperature=1.0, straight_through=False,
                   latent_dim=None, **kwargs):
    """VAE with ``num_variables`` categorical latents of ``num_classes`` classes (Jang et al. 2017):
    ``VAE(posterior=CategoricalPosterior(...), prior=UniformCategorical(num_classes))``.

    Objective per example (minimised)::

        E_q[-log p(x | y~)] + beta * kl_weight * sum_n KL(Cat(pi_n(x)) || Cat(1/K))

    with ``y~_n`` the Gumbel-softmax relaxation of the one-hot ``y_n`` in training (temperature
    ``model.temperature``, annealed by :class:`keras_ae.callbacks.TemperatureAnnealing`) and exact
    one-hot draws at evaluation; the KL to the uniform prior is exact. Codes are the concatenated
    one-hot vectors: ``latent_dim = num_variables * num_classes``.

    Args:
        num_variables: N >= 1, default 20; num_classes: K >= 2, default 10.
        temperature: initial Gumbel-softmax temperature, > 0, default 1.0.
        straight_through: one-hot forward values with relaxed gradients in training, default False.
        latent_dim: optional, must be ``num_variables * num_classes``.
        other arguments: see :class:`~keras_ae.models.VAE` (``free_bits`` floors each variable's KL).

    Example::

        model = CategoricalVAE(input_shape=(784,), num_variables=30, num_classes=10, hidden_units=(512, 256))
        model.fit(x_train, epochs=20, callbacks=[keras_ae.callbacks.TemperatureAnnealing(rate=1e-4)])
    """
    posterior = CategoricalPosterior(num_variables, num_classes, temperature, straight_through)
    size = posterior.num_variables * posterior.num_classes
    if latent_dim is not None and latent_dim != size:
        raise ValueError(f"latent_dim must be num_variables * num_classes = {size} for a CategoricalVAE, "
                         f"got {latent_dim}")
    return VAE(input_shape, size, posterior=posterior, prior=UniformCategorical(num_classes), **kwargs)
