"""Parts of latent-variable models: posteriors, priors, likelihoods and regularizers, each a Keras 3 layer.

A :class:`keras_ae.models.VAE` is composed of one of each, given as instances or by name::

    from keras_ae.models import VAE
    from keras_ae.parts import IAFPosterior, MixturePrior, KL

    model = VAE(input_shape=(784,), latent_dim=16, posterior=IAFPosterior(steps=2),
                prior=MixturePrior(components=10), likelihood="bernoulli", regularizer=KL(beta=1.0))

``keras_ae.parts.names()`` lists the names; a combination whose math does not hold is a
``ValueError`` with the reason. See :mod:`keras_ae.parts.base` for what a part is.
"""

from keras_ae.parts.base import REGISTRY, Part, resolve, serialize  # noqa: F401
from keras_ae.parts.likelihoods import Bernoulli, ContinuousBernoulli, Gaussian, Likelihood  # noqa: F401
from keras_ae.parts.posteriors import (  # noqa: F401
    CategoricalPosterior,
    GaussianPosterior,
    IAFPosterior,
    PlanarPosterior,
    Posterior,
    VonMisesFisherPosterior,
)
from keras_ae.parts.priors import (  # noqa: F401
    MAFPrior,
    MixturePrior,
    Prior,
    SphericalUniform,
    StandardNormal,
    UniformCategorical,
    VampPrior,
)
from keras_ae.parts.regularizers import (  # noqa: F401
    DIP,
    KL,
    MMD,
    Adversarial,
    Capacity,
    DiscriminatorTC,
    Regularizer,
    TotalCorrelation,
)


def names():
    """``{kind: sorted names}``: what ``posterior=``, ``prior=``, ``likelihood=`` and ``regularizer=`` take as strings."""
    return {kind: sorted(table) for kind, table in REGISTRY.items()}
