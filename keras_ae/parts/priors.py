"""Prior parts: ``p(z)`` over the code, each with its own sampler.

- :class:`StandardNormal`: ``N(0, I)``;
- :class:`MixturePrior`: a learned mixture of diagonal Gaussians;
- :class:`VampPrior`: the model's posterior averaged over learned pseudo-inputs (Tomczak & Welling 2018);
- :class:`MAFPrior`: a masked autoregressive flow of ``N(0, I)`` (Papamakarios et al. 2017);
- :class:`SphericalUniform`: the uniform distribution on the unit sphere (Davidson et al. 2018);
- :class:`UniformCategorical`: independent uniform one-hot categoricals (Jang et al. 2017).

``distribution(model)`` is the ``tfd`` distribution (built from the part's weights at call time;
the VampPrior reads the model's posterior). ``draw(model, n, seed, temperature)`` draws ``n``
codes with the samplers of :mod:`keras_ae.samplers` only (builtin ops: the counter-based noise
for ``model.sample(n, seed)`` and the exported ``sample``/``sample_seeded``, which TF and TFLite
compute identically; gather, matmul), at a temperature ``T`` (default 1: the prior itself):

- ``StandardNormal``: ``z = T e``, ``e ~ N(0, I)``: ``N(0, T^2 I)``, i.e. ``p(z)^(1/T^2)`` renormalized;
- ``MixturePrior``: ``k ~ pi`` (the weights untempered), ``z = m_k + T s_k e``: each component's
  noise scaled, ``sum_k pi_k N(m_k, T^2 s_k^2)``;
- ``VampPrior``: ``k`` uniform over the pseudo-inputs, then the posterior's own tempered draw at
  ``u_k`` (Gaussian ``mu + T sigma e``; a flow ``f(mu + T sigma e)``: its base noise scaled;
  categorical: logits divided by ``T``);
- ``MAFPrior``: ``z = g(T e)``: the base noise scaled, then the flow;
- ``SphericalUniform``: ``e / ||e||`` is the same point for ``T e``, and the uniform density is
  its own tempered version (``p^(1/T)`` renormalized is uniform): ``T`` changes nothing;
- ``UniformCategorical``: Gumbel-max of ``0 / T``: uniform at every ``T``, likewise unchanged.
A prior declares its ``latent_space`` (the posterior's must match), whether it factorizes over
the code's dimensions, and the posteriors it has a closed-form KL with (``analytic_kl_with``).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, samplers
from keras_ae.layers.flows import AutoregressiveFlow
from keras_ae.layers.heads import gumbel_noise, one_hot_argmax
from keras_ae.parts.base import Part, register
from keras_ae.parts.posteriors import CategoricalPosterior, GaussianPosterior, VonMisesFisherPosterior, one_hot_groups

tfd = tfp.distributions


class Prior(Part):
    """Base class (see the module docstring)."""

    kind = "prior"

    #: where the codes live (``None``: wherever the model's posterior puts them).
    latent_space = "euclidean"
    #: ``p(z) = prod_d p_d(z_d)`` with ``log_prob_dims`` giving each factor.
    factorized = False
    #: posterior classes whose KL to this prior TFP has in closed form.
    analytic_kl_with = ()
    #: the density is the model's posterior at inputs of the prior's own (the VampPrior): a model
    #: whose posterior takes a condition besides ``x`` cannot give it one.
    reads_posterior = False

    def attach(self, model):
        super().attach(model)
        self.latent_dim = model.latent_dim

    def distribution(self, model):
        raise NotImplementedError

    def draw(self, model, n, seed=None, temperature=1.0):
        """``n`` codes ``[n, latent_dim]`` at ``temperature``; ``seed``: any kind of :mod:`keras_ae.samplers`."""
        raise NotImplementedError

    def log_prob_dims(self, z):
        """``log p_d(z_d)`` ``[..., latent_dim]`` of a factorized prior."""
        raise NotImplementedError(f"{self!r} does not factorize over the code's dimensions")

    def sample_tflite_skip(self, model):
        """Why ``draw(model, n, None)`` has no TFLite builtin form for this model, or None (it has)."""
        return None


def _standard_normal(dim):
    return tfd.Independent(tfd.Normal(tf.zeros([dim]), 1.0), reinterpreted_batch_ndims=1)


@register("prior", "standard_normal")
class StandardNormal(Prior):
    """``p(z) = N(0, I)``: the VAE's prior (Kingma & Welling 2014); KL in closed form with a Gaussian posterior."""

    factorized = True
    analytic_kl_with = (GaussianPosterior,)

    def distribution(self, model):
        return _standard_normal(self.latent_dim)

    def draw(self, model, n, seed=None, temperature=1.0):
        return tf.cast(temperature, tf.float32) * samplers.normal(tf.stack([tf.cast(n, tf.int32), self.latent_dim]),
                                                                  seed)

    def log_prob_dims(self, z):
        return tfd.Normal(0.0, 1.0).log_prob(z)


def component_index(n, probabilities, seed=None):
    """``n`` draws ``[n]`` of a categorical with ``probabilities`` ``[K]``, by the inverse CDF of a uniform.

    Builtin ops only with ``seed=None`` (``tf.random.uniform``), unlike TFP's categorical sampler.
    """
    cdf = tf.cumsum(probabilities)[:-1]  # [K - 1]
    u = samplers.uniform(tf.reshape(tf.cast(n, tf.int32), [1]), seed)  # [n]
    return tf.reduce_sum(tf.cast(u[:, None] >= cdf[None, :], tf.int32), axis=1)


def mixture_draw(n, probabilities, locs, scales, seed=None, temperature=1.0):
    """``n`` draws ``[n, D]`` of ``sum_k pi_k N(locs_k, diag (T scales_k)^2)`` with builtin ops."""
    index_seed, noise_seed = samplers.split_seed(seed, 2)
    k = component_index(n, probabilities, index_seed)
    eps = samplers.normal(tf.stack([tf.cast(n, tf.int32), tf.shape(locs)[-1]]), noise_seed)
    return tf.gather(locs, k) + tf.gather(scales, k) * (tf.cast(temperature, tf.float32) * eps)


@register("prior", "mixture")
class MixturePrior(Prior):
    """A learned mixture of Gaussians ``p(z) = sum_k pi_k N(z; m_k, diag s_k^2)``, ``pi = softmax(logits)``.

    ``logits``, ``locs`` ``m_k`` and ``log_scales`` ``log s_k`` are trained on the model's
    objective; the means start at ``N(0, 1)`` draws (seeded by the model's seed), the scales at 1,
    the weights equal. No closed-form KL: the model estimates it by Monte Carlo. The simplest
    "parameterized, learned prior"; Tomczak & Welling 2018 compare it with the VampPrior.

    Args:
        components: ``K`` >= 1, default 10 (one per digit class of the digits/MNIST recipes).
    """

    def __init__(self, components=10, **kwargs):
        super().__init__(**kwargs)
        self.components = _checks.check_positive_int(components, "components")

    def arguments(self):
        return {"components": self.components}

    def attach(self, model):
        super().attach(model)
        k, d = self.components, self.latent_dim
        self.logits = self.add_weight(name="logits", shape=(k,), initializer="zeros")
        self.locs = self.add_weight(name="locs", shape=(k, d),
                                    initializer=keras.initializers.RandomNormal(stddev=1.0, seed=model.seed))
        self.log_scales = self.add_weight(name="log_scales", shape=(k, d), initializer="zeros")

    def _parameters(self):
        return (tf.cast(self.logits, tf.float32), tf.cast(self.locs, tf.float32),
                tf.exp(tf.cast(self.log_scales, tf.float32)))

    def distribution(self, model):
        logits, locs, scales = self._parameters()
        return tfd.MixtureSameFamily(tfd.Categorical(logits=logits),
                                     tfd.Independent(tfd.Normal(locs, scales), reinterpreted_batch_ndims=1))

    def draw(self, model, n, seed=None, temperature=1.0):
        logits, locs, scales = self._parameters()
        return mixture_draw(n, tf.nn.softmax(logits), locs, scales, seed, temperature)


@register("prior", "vampprior")
class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling 2018, "VAE with a VampPrior"): the posterior averaged over pseudo-inputs.

    ``p(z) = (1/K) sum_k q(z | u_k)``, ``log p(z) = log-mean-exp_k log q(z | u_k)``, with ``q`` the
    model's own posterior part (any of them) and ``u_k`` data-shaped weights kept in [0, 1] by a
    hard tanh (clipping), as in the paper; they start at uniform [0, 1] draws. No closed-form KL.
    ``draw`` picks a pseudo-input uniformly and draws from its posterior with the posterior's own
    sampler.

    Args:
        pseudo_inputs: ``K`` >= 1, default 50 (Tomczak & Welling use 500 on MNIST; 50 on the
            1,437 digits).
    """

    latent_space = None
    reads_posterior = True

    def __init__(self, pseudo_inputs=50, **kwargs):
        super().__init__(**kwargs)
        self.num_pseudo_inputs = _checks.check_positive_int(pseudo_inputs, "pseudo_inputs")

    def arguments(self):
        return {"pseudo_inputs": self.num_pseudo_inputs}

    def attach(self, model):
        super().attach(model)
        self.pseudo_inputs = self.add_weight(
            name="pseudo_inputs", shape=(self.num_pseudo_inputs,) + tuple(model.data_shape),
            initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=model.seed))

    def clipped_inputs(self):
        """The pseudo-inputs after the hard tanh, ``[K, *input_shape]``."""
        return tf.clip_by_value(tf.cast(self.pseudo_inputs, tf.float32), 0.0, 1.0)

    def distribution(self, model):
        components = model._posterior(self.clipped_inputs())
        return tfd.MixtureSameFamily(tfd.Categorical(logits=tf.zeros([self.num_pseudo_inputs])), components)

    def sample_tflite_skip(self, model):
        if not model.posterior_part.builtin_sampler:
            return (f"the VampPrior draws through the posterior {model.posterior_part!r}, whose sampler has no "
                    "TFLite builtin form")
        return None

    def draw(self, model, n, seed=None, temperature=1.0):
        index_seed, code_seed = samplers.split_seed(seed, 2)
        k = component_index(n, tf.fill([self.num_pseudo_inputs], 1.0 / self.num_pseudo_inputs), index_seed)
        q = model._posterior(tf.gather(self.clipped_inputs(), k))
        return model.posterior_part.tempered_draw(q, code_seed, temperature)


@register("prior", "maf")
class MAFPrior(Prior):
    """A masked autoregressive flow prior (Papamakarios et al. 2017; as a VAE prior, Chen et al. 2017,
    "Variational lossy autoencoder").

    ``z = g(e)``, ``e ~ N(0, I)``, ``g`` = ``K`` MAF steps (Keras 3 MADEs through
    ``tfb.MaskedAutoregressiveFlow``, order reversed between steps), so ``log p(z)`` is one
    parallel pass per step: cheap on the posterior's draws in training. ``draw`` takes
    ``latent_dim`` passes per step (unrolled with builtin ops). The MADEs start at the identity,
    so training starts from ``N(0, I)``.

    Args:
        steps: ``K`` >= 1, default 2.
        hidden_units: hidden layers of each MADE, default ``(64,)``.
    """

    def __init__(self, steps=2, hidden_units=(64,), **kwargs):
        super().__init__(**kwargs)
        self.steps = _checks.check_positive_int(steps, "steps")
        self.hidden_units = _checks.check_int_sequence(hidden_units, "hidden_units")

    def arguments(self):
        return {"steps": self.steps, "hidden_units": list(self.hidden_units)}

    def attach(self, model):
        super().attach(model)
        self.flow = AutoregressiveFlow(self.latent_dim, self.steps, self.hidden_units, activation=model.activation,
                                       kernel_initializer=model.kernel_initializer, name="flow")

    def distribution(self, model):
        return tfd.TransformedDistribution(_standard_normal(self.latent_dim), self.flow.bijector(), name="maf_prior")

    def draw(self, model, n, seed=None, temperature=1.0):
        e = samplers.normal(tf.stack([tf.cast(n, tf.int32), self.latent_dim]), seed)
        return self.flow.sample_forward(tf.cast(temperature, tf.float32) * e)


@register("prior", "spherical_uniform")
class SphericalUniform(Prior):
    """The uniform distribution on the unit sphere ``S^{d-1}`` (``tfd.SphericalUniform``): the hyperspherical
    VAE's prior (Davidson et al. 2018). ``log p(z) = -log |S^{d-1}| = log Gamma(d/2) - log 2 - (d/2) log pi``.

    ``draw`` normalizes standard-normal draws, ``e / ||e||`` (uniform on the sphere by the normal's
    rotational symmetry): builtin ops. The KL from a von Mises-Fisher posterior is in closed form
    (TFP registers it).
    """

    latent_space = "sphere"
    analytic_kl_with = (VonMisesFisherPosterior,)

    def check_model(self, model):
        if model.latent_dim < 2:
            raise ValueError(f"latent_dim must be >= 2 for {self!r} (a sphere S^(d-1) in R^d), got {model.latent_dim}")

    def distribution(self, model):
        return tfd.SphericalUniform(dimension=self.latent_dim)

    def draw(self, model, n, seed=None, temperature=1.0):
        """Uniform on the sphere at every ``temperature`` (see the module docstring)."""
        e = samplers.normal(tf.stack([tf.cast(n, tf.int32), self.latent_dim]), seed)
        return tf.math.l2_normalize(e, axis=-1)


@register("prior", "uniform_categorical")
class UniformCategorical(Prior):
    """``N`` independent uniform categoricals of ``K`` classes over one-hot codes ``[N * K]`` (Jang et al. 2017).

    ``N = latent_dim / K``. The KL from a categorical posterior is exact; ``draw`` takes the
    one-hot argmax of Gumbel noise (``tf.random.uniform``: builtin ops).

    Args:
        num_classes: ``K`` >= 2, default 10.
    """

    latent_space = "one_hot"
    factorized = True  # over the N variables
    analytic_kl_with = (CategoricalPosterior,)

    def __init__(self, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = _checks.check_integer(num_classes, "num_classes", minimum=2)

    def arguments(self):
        return {"num_classes": self.num_classes}

    def check_model(self, model):
        if model.latent_dim % self.num_classes:
            raise ValueError(f"latent_dim must be a multiple of num_classes = {self.num_classes} for {self!r}, "
                             f"got {model.latent_dim}")
        posterior = model.posterior_part
        if isinstance(posterior, CategoricalPosterior) and posterior.num_classes != self.num_classes:
            raise ValueError(f"{self!r} and the posterior {posterior!r} group the code into different classes")

    def attach(self, model):
        super().attach(model)
        self.num_variables = self.latent_dim // self.num_classes

    def distribution(self, model):
        return one_hot_groups(tf.zeros([self.num_variables, self.num_classes]))

    def draw(self, model, n, seed=None, temperature=1.0):
        """Uniform one-hot codes at every ``temperature`` (zero logits divided by ``T`` stay zero)."""
        noise = gumbel_noise(tf.stack([tf.cast(n, tf.int32), self.num_variables, self.num_classes]), seed)
        return tf.reshape(one_hot_argmax(noise), tf.stack([tf.cast(n, tf.int32), self.latent_dim]))
