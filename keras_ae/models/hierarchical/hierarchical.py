"""Hierarchical VAEs: stacked Gaussian stochastic layers with bottom-up or ladder inference.

Both models share the generative model of Burda et al. (2016) and Sønderby et al. (2016)::

    p(z_L) = N(0, I),   p(z_l | z_{l+1}) = N(mu_l(z_{l+1}), sigma_l(z_{l+1})^2),   p(x | z_1)

and differ in the approximate posterior:

- :class:`TwoLayerVAE` (Burda et al. 2016, the VAE/IWAE with two stochastic layers): bottom-up,
  ``q(z_1 | x) q(z_2 | z_1) ... q(z_L | z_{L-1})``;
- :class:`LadderVAE` (Sønderby et al. 2016): a deterministic bottom-up pass ``d_1 = f_1(x)``,
  ``d_l = f_l(d_{l-1})`` gives Gaussian "likelihood" parameters ``(mu_hat_l, sigma_hat_l)``; the
  top-down pass draws ``q(z_L | x) = N(mu_hat_L, sigma_hat_L^2)`` and then each
  ``q(z_l | z_{l+1}, x)`` as the precision-weighted combination of ``(mu_hat_l, sigma_hat_l)`` with
  the generative ``p(z_l | z_{l+1})`` (:func:`keras_ae.objectives.precision_weighted_gaussian`),
  whose networks it shares.

**The code** is the concatenation ``[z_1, ..., z_L]`` (``code_spec`` ``[sum(latent_dims)]``).
``encode`` gives the posterior's *mean path*: each layer's conditional mean given the layers
drawn before it at their own mean-path values (exact ``E_q[z_1|x]`` for the two-layer VAE and
exact ``E_q[z_L|x]`` for the ladder; the other layers' values along the path, not their marginal
means). ``decode`` reads ``z_1`` only (``p(x | z_1)``); the upper layers matter through the prior.
``prior()`` and ``posterior(x)`` are :class:`GaussianChain` distributions over the concatenated
code (ancestral sampling, exact ``log_prob``), so importance sampling (``log_likelihood``, the IWAE
bound) and AIS (``method="ais"``, in the joint code space) work as for the VAE.

**Loss terms** per example: ``reconstruction`` (``E_q[-log p(x|z_1)]``), ``kl_z1`` ... ``kl_zL``,
``kl`` (their sum) and ``elbo``. The KL of layer ``l`` is ``E_q[log q(z_l | .) - log p(z_l | .)]``,
so the layers' KLs add up to ``KL(q(z|x) || p(z))``; it is computed in closed form given the
layers drawn before ``z_l`` where both conditionals are known then (every layer of the ladder;
the top layer of the two-layer VAE) and by Monte Carlo otherwise. ``beta`` and ``kl_weight``
(:class:`keras_ae.callbacks.KLWarmup`, the warm-up of Sønderby et al.) weight the total KL.

**Diagnostics**: ``latent_layers`` names the layers and their sizes; ``kl_per_layer`` and
``posterior_layer_means`` are what :mod:`keras_ae.evaluation` reads for the KL and the active
units of each layer (``kl_z1``, ``active_units_z1``, ... in a run's ``metrics.json``).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.bodies import EncoderBody
from keras_ae.layers.heads import GaussianHead
from keras_ae.models.vae.vae import SCORE_KL_SAMPLES, VAE

tfd = tfp.distributions

#: posterior draws behind ``posterior_layer_means`` (the Rao-Blackwellised ``E_q[z_l | x]``).
ACTIVITY_SAMPLES = 64


def _as_seed(seed):
    """A TFP-style seed (None, an integer or a stateless ``[2]`` tensor) as None or a ``[2]`` int32 tensor."""
    if seed is None:
        return None
    return samplers.stateless_seed(seed)


class GaussianChain(tfd.Distribution):
    """A distribution over concatenated layers ``[z_1, ..., z_L]``, each drawn given the ones before it.

    Layer ``l`` is ``N(loc_l, diag scale_l^2)`` with ``(loc_l, scale_l) = conditional(l, parts)``,
    where ``parts`` maps the indices of the layers drawn before ``l`` (in ``order``) to their
    values. Sampling is ancestral and reparameterized (``z_l = loc_l + scale_l * eps_l``);
    ``log_prob`` is the sum of the layers' conditional log-densities at the given code. Leading
    sample axes pass through: a code ``[..., *batch_shape, D]`` gives ``log_prob`` ``[..., *batch_shape]``.
    ``mean()`` is not defined (the marginal means of the later layers have no closed form); the
    mean path is :meth:`mean_path`.

    Args:
        sizes: layer sizes in code order (``z_1`` first).
        order: the order in which the layers are drawn (a permutation of ``range(L)``).
        conditional: ``(l, parts) -> (loc, scale)``, broadcastable to ``[..., *batch_shape, size_l]``.
        batch_shape: the batch shape as a 1-D int32 tensor (``[]`` for a prior, ``[B]`` for a posterior).
    """

    def __init__(self, sizes, order, conditional, batch_shape, name="GaussianChain"):
        parameters = dict(locals())
        self._sizes = tuple(int(s) for s in sizes)
        self._order = tuple(int(i) for i in order)
        self._conditional = conditional
        self._batch_shape_value = tf.cast(batch_shape, tf.int32)
        super().__init__(dtype=tf.float32, reparameterization_type=tfd.FULLY_REPARAMETERIZED, validate_args=False,
                         allow_nan_stats=True, parameters=parameters, name=name)

    @property
    def sizes(self):
        return self._sizes

    @property
    def order(self):
        return self._order

    def _event_shape(self):
        return tf.TensorShape([sum(self._sizes)])

    def _event_shape_tensor(self):
        return tf.constant([sum(self._sizes)], tf.int32)

    def _batch_shape(self):
        static = tf.get_static_value(self._batch_shape_value)
        if static is not None:
            return tf.TensorShape([int(d) for d in static])
        return tf.TensorShape([None] * int(self._batch_shape_value.shape[0]))

    def _batch_shape_tensor(self):
        return self._batch_shape_value

    def split(self, z):
        """The layers ``{l: z_l}`` of a code ``[..., D]``."""
        return dict(enumerate(tf.split(tf.cast(z, tf.float32), list(self._sizes), axis=-1)))

    def concat(self, parts):
        return tf.concat([parts[l] for l in range(len(self._sizes))], axis=-1)

    def from_noise(self, eps):
        """``(code, params)`` from standard normal noise ``eps`` ``[..., D]`` (code order), layer by layer.

        ``params`` maps each layer to the ``(loc, scale)`` it was drawn with. ``eps`` of zeros
        gives the mean path; its leading axes broadcast against the batch shape.
        """
        noise = self.split(eps)
        parts, params = {}, {}
        for l in self._order:
            loc, scale = self._conditional(l, parts)
            params[l] = (loc, scale)
            parts[l] = loc + scale * noise[l]
        return self.concat(parts), params

    def conditional_params(self, z):
        """``{l: (loc, scale)}`` of every layer's conditional at a code ``z`` ``[..., D]``."""
        parts = self.split(z)
        return {l: self._conditional(l, parts) for l in self._order}

    def draw(self, n, seed=None, temperature=1.0):
        """``(codes [n, *batch, D], params)``: ``n`` draws from a ``seed`` (None: fresh noise), every layer's
        standard noise scaled by ``temperature`` (``z_l = loc_l + T scale_l e_l``)."""
        shape = tf.concat([tf.reshape(tf.cast(n, tf.int32), [1]), self._batch_shape_value,
                           [sum(self._sizes)]], axis=0)
        return self.from_noise(tf.cast(temperature, tf.float32) * samplers.normal(shape, _as_seed(seed)))

    def mean_path(self):
        """``(code [*batch, D], params)``: every layer at its conditional mean given the layers before it."""
        shape = tf.concat([self._batch_shape_value, [sum(self._sizes)]], axis=0)
        return self.from_noise(tf.zeros(shape))

    def layer_log_probs(self, z, params=None):
        """``{l: log N(z_l; loc_l, scale_l)}`` summed over the layer's units, ``[..., *batch]``."""
        parts = self.split(z)
        params = self.conditional_params(z) if params is None else params
        return {l: tf.reduce_sum(tfd.Normal(*params[l]).log_prob(parts[l]), axis=-1) for l in self._order}

    def _sample_n(self, n, seed=None):
        return self.draw(n, seed)[0]

    def _log_prob(self, z):
        return tf.add_n(list(self.layer_log_probs(z).values()))

    def _mean(self):
        raise NotImplementedError("the marginal mean of a hierarchical code has no closed form; see mean_path()")


class HierarchicalVAE(VAE):
    """The shared part of the hierarchical VAEs: the generative model, codes, loss terms and diagnostics.

    A subclass gives the approximate posterior: ``build_inference()`` creates its networks,
    ``posterior_order`` the order its layers are drawn in, and ``posterior_conditional(l, parts, x_features)``
    the Gaussian parameters of layer ``l``. See the module docstring.

    Args:
        input_shape: see :class:`~keras_ae.models.base.BaseAutoencoder`.
        latent_dims: sizes of the stochastic layers, bottom (``z_1``) to top (``z_L``), ``L >= 2``.
        top_hidden_units: hidden layers of the networks between stochastic layers (the
            generative ``p(z_l | z_{l+1})`` mirrors them), default ``(64,)``.
        hidden_units: hidden layers between ``x`` and ``z_1`` (encoder, and the decoder mirrored).
        latent_dim: the code size, ``sum(latent_dims)``; optional (it is recorded in the config).
        other arguments: see :class:`~keras_ae.models.VAE` (``free_bits`` must be 0).
    """

    TERMS = ("reconstruction", "kl", "elbo")
    #: the posterior, the prior and the objective are the hierarchy's own; the likelihood is a part.
    composable_parts = ("likelihood",)
    own_part_reasons = {
        "posterior": "its posterior is the hierarchy's chain of Gaussian layers (bottom-up or ladder inference)",
        "prior": "its prior is the hierarchy's chain p(z_L) prod_l p(z_l | z_(l+1))",
        "regularizer": "its latent term is the sum of the layers' KLs, weighted by beta",
        "bound": "it trains on the ELBO with the layers' KLs (log_likelihood importance-samples the joint code)",
    }
    #: every stochastic layer is a Gaussian floored by ``posterior_min_scale``.
    own_gaussian_latents = True
    #: the name of the inference scheme (``"bottom-up"`` or ``"ladder"``).
    inference = None

    def __init__(self, input_shape, latent_dims=(32, 16), top_hidden_units=(64,), latent_dim=None, **kwargs):
        latent_dims = _checks.check_int_sequence(latent_dims, "latent_dims")
        if len(latent_dims) < 2:
            raise ValueError(f"latent_dims must give at least two stochastic layers, got {tuple(latent_dims)}")
        if latent_dim is not None and int(latent_dim) != sum(latent_dims):
            raise ValueError(f"latent_dim is the code size sum(latent_dims) = {sum(latent_dims)}, got {latent_dim}")
        if kwargs.get("free_bits", 0.0):
            raise ValueError(f"free_bits must be 0 for a hierarchical VAE, got {kwargs['free_bits']}")
        self.latent_dims = tuple(int(d) for d in latent_dims)
        self.top_hidden_units = _checks.check_int_sequence(top_hidden_units, "top_hidden_units")
        # Per-layer terms, logged like the class's TERMS (set before the base class makes the trackers).
        object.__setattr__(self, "TERMS", type(self).TERMS + tuple(f"kl_{name}" for name in self.layer_names))
        super().__init__(input_shape, sum(self.latent_dims), **kwargs)

    @property
    def layer_names(self):
        """``("z1", ..., "zL")``, bottom to top."""
        return tuple(f"z{l + 1}" for l in range(len(self.latent_dims)))

    @property
    def latent_layer_names(self):
        """The declared stochastic layers (:attr:`layer_names`): ``posterior_layer_means`` and ``kl_per_layer`` exist."""
        return self.layer_names

    @property
    def latent_layers(self):
        """``{name: size}`` of the stochastic layers, bottom to top (the code's order)."""
        return dict(zip(self.layer_names, self.latent_dims))

    def get_config(self):
        return {**super().get_config(), "latent_dims": list(self.latent_dims),
                "top_hidden_units": list(self.top_hidden_units)}

    # -- networks -------------------------------------------------------------------------------
    def _gaussian_head(self, size, name):
        return GaussianHead((size,), scale="learned", min_scale=self.posterior_min_scale,
                            kernel_initializer=self.kernel_initializer, name=name)

    def _dense_body(self, size, units, name):
        """An MLP from vectors ``[N, size]`` (the bodies' dense stack, no convolutions)."""
        return EncoderBody((size,), "mlp", units, activation=self.activation,
                           kernel_initializer=self.kernel_initializer, name=name)

    def build_latent(self):
        """The networks of both models: ``x`` features, the generative layers, then the inference ones."""
        self.encoder_body = self.make_encoder_body()
        # p(z_l | z_{l+1}) for l < L: an MLP on z_{l+1} (top_hidden_units reversed) and a Gaussian head.
        self.prior_bodies = [self._dense_body(self.latent_dims[l + 1], tuple(reversed(self.top_hidden_units)),
                                              f"prior_body_{l + 1}") for l in range(len(self.latent_dims) - 1)]
        self.prior_heads = [self._gaussian_head(self.latent_dims[l], f"prior_head_{l + 1}")
                            for l in range(len(self.latent_dims) - 1)]
        self.build_inference()

    def build_inference(self):
        raise NotImplementedError(f"{type(self).__name__} must implement build_inference")

    @staticmethod
    def _through(network, z, size):
        """``network`` (features ``[N, F]`` -> ``(loc, scale)`` ``[N, size]``) over any leading axes of ``z``."""
        lead = tf.shape(z)[:-1]
        loc, scale = network(tf.reshape(z, [-1, z.shape[-1]]))
        back = lambda t: tf.reshape(tf.cast(t, tf.float32), tf.concat([lead, [size]], 0))  # noqa: E731
        return back(loc), back(scale)

    def prior_conditional(self, l, parts):
        """``(loc, scale)`` of ``p(z_l | z_{l+1})`` (``N(0, I)`` for the top layer) given ``parts[l + 1]``."""
        size = self.latent_dims[l]
        if l == len(self.latent_dims) - 1:
            return tf.zeros([size]), tf.ones([size])
        body, head = self.prior_bodies[l], self.prior_heads[l]
        return self._through(lambda h: head.parameters(body(h)), parts[l + 1], size)

    # -- the distributions ----------------------------------------------------------------------
    def posterior_order(self):
        """The order the posterior draws its layers in (indices, ``z_1`` is 0)."""
        raise NotImplementedError

    def posterior_features(self, x):
        """Whatever the posterior's conditionals need from ``x`` (computed once per batch)."""
        raise NotImplementedError

    def posterior_conditional(self, l, parts, features):
        raise NotImplementedError

    def _posterior(self, x):
        """``q(z_1, ..., z_L | x)``: a :class:`GaussianChain` over the concatenated code, batch ``[B]``."""
        features = self.posterior_features(x)
        return GaussianChain(self.latent_dims, self.posterior_order(),
                             lambda l, parts: self.posterior_conditional(l, parts, features),
                             tf.shape(x)[:1], name="hierarchical_posterior")

    def _prior(self):
        """``p(z_L) prod_l p(z_l | z_{l+1})``: a :class:`GaussianChain` over the concatenated code, drawn top-down."""
        return GaussianChain(self.latent_dims, tuple(reversed(range(len(self.latent_dims)))), self.prior_conditional,
                             tf.zeros([0], tf.int32), name="hierarchical_prior")

    def _likelihood(self, z):
        """``p(x | z_1)``: the decoder reads the bottom layer of the code."""
        return self.decoder_head(self.decoder_body(tf.cast(z, tf.float32)[:, :self.latent_dims[0]]))

    def posterior_code(self, q):
        """The mean path of ``q`` ``[B, D]`` (see the module docstring)."""
        return q.mean_path()[0]

    def _encode_outputs(self, x):
        """``{"code", "mean_z1", "scale_z1", ...}``: the mean path and each layer's conditional mean and scale on it."""
        code, params = self._posterior(x).mean_path()
        out = {"code": code}
        for l, name in enumerate(self.layer_names):
            out[f"mean_{name}"], out[f"scale_{name}"] = params[l]
        return out

    def _prior_codes(self, n, seed, temperature=1.0):
        return self._prior().draw(n, seed, temperature)[0]

    # -- per-layer terms --------------------------------------------------------------------------
    def analytic_layers(self):
        """Layers whose KL is in closed form given the draws before them: both conditionals are known then."""
        position = {l: i for i, l in enumerate(self.posterior_order())}
        top = len(self.latent_dims) - 1
        return tuple(l for l in range(len(self.latent_dims)) if l == top or position[l + 1] < position[l])

    def layer_terms(self, q, z, q_params=None):
        """Per-layer ``(log q_l, log p_l, kl_l)`` ``{l: [n, B]}`` for codes ``z`` ``[n, B, D]`` of ``q``."""
        parts = q.split(z)
        q_params = q.conditional_params(z) if q_params is None else q_params
        analytic = self.analytic_layers()
        log_q, log_p, kl = {}, {}, {}
        for l in range(len(self.latent_dims)):
            q_l, p_l = tfd.Normal(*q_params[l]), tfd.Normal(*self.prior_conditional(l, parts))
            log_q[l] = tf.reduce_sum(q_l.log_prob(parts[l]), axis=-1)
            log_p[l] = tf.reduce_sum(p_l.log_prob(parts[l]), axis=-1)
            if l in analytic:
                kl[l] = tf.broadcast_to(tf.reduce_sum(tfd.kl_divergence(q_l, p_l), axis=-1), tf.shape(log_q[l]))
            else:
                kl[l] = log_q[l] - log_p[l]
        return log_q, log_p, kl

    def _draw(self, x, num_samples, seed):
        """``(ImportanceSamples, {l: kl_l [k, B]})`` for ``k`` reparameterized draws of ``q``."""
        q = self._posterior(x)
        z, params = q.draw(num_samples, seed)
        log_q, log_p, kl = self.layer_terms(q, z, params)
        record = objectives.ImportanceSamples(self.log_prob_of_codes(x, z), tf.add_n(list(log_p.values())),
                                              tf.add_n(list(log_q.values())), q, z)
        return record, kl

    def _importance_samples(self, x, num_samples, seed, training=False):
        """``log p(x|z_1)``, ``log p(z_1, ..., z_L)`` and ``log q(z_1, ..., z_L | x)`` of ``k`` joint draws."""
        return self._draw(x, num_samples, seed)[0]

    def kl_per_layer(self, q, seed=None, num_samples=None):
        """``{name: KL of layer l [B]}``, summing to ``KL(q(z|x) || p(z))`` (module docstring).

        With a ``seed``: ``num_samples`` (default 1) fresh draws. Without one: deterministic,
        ``num_samples`` (default ``SCORE_KL_SAMPLES``) fixed standard-normal draws seeded by the
        model's seed (builtin ops only, so the exported ``score`` converts to TFLite); the same
        draws serve every example, so a test-set mean of a Monte Carlo layer keeps their error:
        pass a seed for test means (:func:`keras_ae.evaluation.elbo` does).
        """
        if seed is not None:
            z, params = q.draw(num_samples or 1, seed)
        else:
            count = num_samples or SCORE_KL_SAMPLES
            eps = np.random.default_rng(self.seed).standard_normal((count, 1, sum(self.latent_dims)))
            z, params = q.from_noise(tf.constant(eps, tf.float32))
        kl = self.layer_terms(q, z, params)[2]
        return {name: tf.reduce_mean(kl[l], axis=0) for l, name in enumerate(self.layer_names)}

    def kl(self, q, seed=None):
        """``KL(q(z|x) || p(z))`` ``[B]``: the sum of :meth:`kl_per_layer`."""
        return tf.add_n(list(self.kl_per_layer(q, seed).values()))

    def _posterior_layer_means(self, x, num_samples, seed):
        """``{name: E_q[z_l | x] [B, d_l]}``, the statistic of Burda et al.'s active units, per layer.

        Rao-Blackwellised: the mean over ``num_samples`` posterior draws of layer ``l``'s conditional
        mean given the layers drawn before it (exact for the first layer drawn; Burda et al.'s code
        uses one draw). ``seed``: stateless.
        """
        _, params = self._posterior(x).draw(num_samples, seed)
        means = {}
        for l, name in enumerate(self.layer_names):  # the first layer drawn has no sample axis: broadcast it
            shape = tf.concat([[num_samples], tf.shape(x)[:1], [self.latent_dims[l]]], 0)
            means[name] = tf.reduce_mean(tf.broadcast_to(params[l][0], shape), axis=0)
        return means

    # -- training ----------------------------------------------------------------------------------
    def _loss_terms(self, x, training=False):
        record, kl = self._draw(x, self.num_samples, self.noise_seed(stream=1))
        reconstruction = -tf.reduce_mean(record.log_px_given_z, axis=0)
        per_layer = {f"kl_{name}": tf.reduce_mean(kl[l], axis=0) for l, name in enumerate(self.layer_names)}
        total = tf.add_n(list(per_layer.values()))
        terms = {"reconstruction": reconstruction, "kl": total, "elbo": -(reconstruction + total),
                 "kl_objective": total, **per_layer}
        return self.extra_terms(terms, record)


@keras.saving.register_keras_serializable(package="keras_ae")
class TwoLayerVAE(HierarchicalVAE):
    """VAE with two (or more) stochastic layers and bottom-up inference (Burda et al. 2016, section 5).

    ``q(z_1 | x) q(z_2 | z_1)``, ``p(z_2) p(z_1 | z_2) p(x | z_1)``; every stochastic layer is a
    diagonal Gaussian from an MLP: ``x -> hidden_units -> z_1 -> top_hidden_units -> z_2``, the
    generative side mirrored. Burda et al. used 784-200-200-100(z_1)-100-100-50(z_2) with tanh units
    on MNIST (``hidden_units=(200, 200), latent_dims=(100, 50), top_hidden_units=(100, 100)``).
    ``latent_dims`` of length ``L > 2`` stacks ``L`` layers the same way. Objective: the ELBO (see
    :class:`HierarchicalVAE`); KL of the top layer in closed form given ``z_1``, of ``z_1`` by Monte
    Carlo (``p(z_1 | z_2)`` needs ``z_2``, drawn after it).

    Example::

        model = TwoLayerVAE(input_shape=(784,), latent_dims=(32, 16), hidden_units=(512,), top_hidden_units=(256,))
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10)
        nll = -model.log_likelihood(x_test[:100], num_samples=1000)
    """

    inference = "bottom-up"

    def build_inference(self):
        # q(z_1 | x): the encoder body and head; q(z_l | z_{l-1}): an MLP and a head per upper layer.
        self.encoder_head = self._gaussian_head(self.latent_dims[0], "encoder_head")
        self.posterior_bodies = [self._dense_body(self.latent_dims[l - 1], self.top_hidden_units,
                                                  f"posterior_body_{l + 1}") for l in range(1, len(self.latent_dims))]
        self.posterior_heads = [self._gaussian_head(self.latent_dims[l], f"posterior_head_{l + 1}")
                                for l in range(1, len(self.latent_dims))]

    def posterior_order(self):
        return tuple(range(len(self.latent_dims)))

    def posterior_features(self, x):
        return self.encoder_head.parameters(self.encoder_body(x))

    def posterior_conditional(self, l, parts, features):
        if l == 0:
            return features
        body, head = self.posterior_bodies[l - 1], self.posterior_heads[l - 1]
        return self._through(lambda h: head.parameters(body(h)), parts[l - 1], self.latent_dims[l])


@keras.saving.register_keras_serializable(package="keras_ae")
class LadderVAE(HierarchicalVAE):
    """Ladder VAE (Sønderby et al. 2016): bottom-up deterministic pass, top-down precision-weighted inference.

    Bottom-up: ``d_1 = f_1(x)`` (the encoder body, ``hidden_units``), ``d_l = f_l(d_{l-1})``
    (``top_hidden_units``), and ``(mu_hat_l, sigma_hat_l)`` from a Gaussian head on each ``d_l``.
    Top-down: ``q(z_L | x) = N(mu_hat_L, sigma_hat_L^2)``; for ``l < L``, with ``p(z_l | z_{l+1}) =
    N(mu_p, sigma_p^2)`` the generative layer (shared with the prior)::

        sigma_q^2 = 1 / (sigma_hat^-2 + sigma_p^-2),   mu_q = (mu_hat sigma_hat^-2 + mu_p sigma_p^-2) sigma_q^2

    (:func:`keras_ae.objectives.precision_weighted_gaussian`). Every layer's KL is in closed form
    given the layer above. Sønderby et al. also anneal the KL from 0 to 1 ("warm-up"): use
    :class:`keras_ae.callbacks.KLWarmup`, as the ``ladder-vae-*`` recipes do. Batch normalization,
    which they also used, is not part of this model.

    Example::

        model = LadderVAE(input_shape=(784,), latent_dims=(32, 16), hidden_units=(512,), top_hidden_units=(256,))
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=50, callbacks=[keras_ae.callbacks.KLWarmup(epochs=10)])
    """

    inference = "ladder"

    def build_inference(self):
        self.encoder_head = self._gaussian_head(self.latent_dims[0], "encoder_head")
        feature_size = int(self.encoder_body.compute_output_shape((None,) + self.data_shape)[-1])
        self.bottom_up_bodies, self.bottom_up_heads = [], []
        for l in range(1, len(self.latent_dims)):
            self.bottom_up_bodies.append(self._dense_body(feature_size, self.top_hidden_units,
                                                          f"bottom_up_body_{l + 1}"))
            self.bottom_up_heads.append(self._gaussian_head(self.latent_dims[l], f"bottom_up_head_{l + 1}"))
            feature_size = self.top_hidden_units[-1] if self.top_hidden_units else feature_size

    def posterior_order(self):
        return tuple(reversed(range(len(self.latent_dims))))

    def posterior_features(self, x):
        """``[(mu_hat_l, sigma_hat_l)]`` of every layer, from the deterministic bottom-up pass."""
        d = self.encoder_body(x)
        features = [self.encoder_head.parameters(d)]
        for body, head in zip(self.bottom_up_bodies, self.bottom_up_heads):
            d = body(d)
            features.append(head.parameters(d))
        return features

    def posterior_conditional(self, l, parts, features):
        if l == len(self.latent_dims) - 1:
            return features[l]
        loc_p, scale_p = self.prior_conditional(l, parts)
        return objectives.precision_weighted_gaussian(*features[l], loc_p, scale_p)
