"""The variational autoencoder, composed of parts; the IWAE is its importance-weighted bound.

One family: an encoder body and a posterior part ``q(z|x)``, a decoder body and a likelihood part
``p(x|z)``, a prior part ``p(z)`` and a regularizer part (the latent term of the objective), all
from :mod:`keras_ae.parts`. The bound (``"elbo"`` or ``"iwae"``) and every estimator are written
once in :mod:`keras_ae.objectives`; the named models (``IAFVAE``, ``VampPriorVAE``, ``BetaTCVAE``,
...) are configurations of this class.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.evaluation import ais
from keras_ae.layers.heads import GAUSSIAN_SCALES
from keras_ae.models.base import BaseAutoencoder
from keras_ae import parts as _parts

tfd = tfp.distributions

LIKELIHOODS = tuple(sorted(_parts.REGISTRY["likelihood"]))
BOUNDS = ("elbo", "iwae")
#: fixed draws of the deterministic Monte Carlo KL (``VAE.kl`` without a seed): standard error
#: ``std(log q - log p) / 4``.
SCORE_KL_SAMPLES = 16
#: the part arguments and their defaults.
PART_DEFAULTS = {"posterior": "gaussian", "prior": "standard_normal", "likelihood": "bernoulli", "regularizer": "kl",
                 "bound": "elbo"}
#: the default floor of a Gaussian posterior's scale (``posterior_min_scale``).
POSTERIOR_MIN_SCALE = 1e-4
#: the KL's shorthands and their defaults: a regularizer without one accepts the default (it changes nothing).
KL_SHORTHAND_DEFAULTS = {"beta": 1.0, "free_bits": 0.0}


def _likelihood_spec(likelihood, decoder_scale, decoder_fixed_scale, decoder_min_scale):
    """The likelihood part from ``likelihood`` and the Gaussian shorthands ``decoder_*`` (only with ``"gaussian"``).

    A shorthand left at None, or at the Gaussian part's default, changes nothing and is accepted;
    any other value where it does nothing is a ``ValueError`` naming it: every shorthand with
    another likelihood, ``decoder_fixed_scale`` without ``decoder_scale="fixed"``,
    ``decoder_min_scale`` with it.
    """
    given = {"scale": decoder_scale, "fixed_scale": decoder_fixed_scale, "min_scale": decoder_min_scale}
    if decoder_scale is not None:
        _checks.check_choice(decoder_scale, "decoder_scale", GAUSSIAN_SCALES)
    defaults = _parts.Gaussian.DEFAULTS
    if likelihood != "gaussian":
        for name, value in given.items():
            if value is not None and value != defaults[name]:
                raise ValueError(f"decoder_{name}={value!r} does nothing with likelihood={likelihood!r}: "
                                 f"decoder_scale, decoder_fixed_scale and decoder_min_scale set the "
                                 f"likelihood='gaussian' part; with another likelihood give the part its arguments")
        return _parts.resolve("likelihood", likelihood, "likelihood")
    scale = defaults["scale"] if decoder_scale is None else decoder_scale
    for name, reason in _parts.Gaussian.unused_arguments(scale, "decoder_", fixed_scale=decoder_fixed_scale,
                                                          min_scale=decoder_min_scale).items():
        raise ValueError(f"decoder_{name}={given[name]!r} does nothing with decoder_scale={scale!r}: {reason}")
    return _parts.Gaussian(name="likelihood", **{k: v for k, v in given.items() if v is not None})


def _regularizer_spec(regularizer, shorthands):
    """The regularizer part; ``beta``/``free_bits`` given to the model are the KL's, or must agree with the part's.

    A regularizer without the shorthand (``part.shorthands()`` leaves it out) accepts only its
    default, which changes nothing; another value is a ``ValueError`` with the part's reason.
    """
    given = {k: v for k, v in shorthands.items() if v is not None}
    if isinstance(regularizer, str) and regularizer == "kl":
        return _parts.KL(name="regularizer", **given)
    part = _parts.resolve("regularizer", regularizer, "regularizer")
    own = part.shorthands()
    for name, value in given.items():
        if name not in own:
            if float(value) == KL_SHORTHAND_DEFAULTS[name]:
                continue
            raise ValueError(f"{name}={value} does not apply to the regularizer {part!r}: "
                             f"{part.no_shorthand_reason(name)}")
        if float(value) != own[name]:
            raise ValueError(f"{name}={value} disagrees with the regularizer {part!r}: give {name} to the regularizer")
    return part


@keras.saving.register_keras_serializable(package="keras_ae")
class VAE(BaseAutoencoder):
    """Variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014) composed of parts.

    Objective per example (minimised), with the default parts (Gaussian posterior, ``N(0, I)``
    prior, KL regularizer) and ``bound="elbo"``::

        -ELBO_beta(x) = E_q[-log p(x|z)] + beta * kl_weight * KL(q(z|x) || p(z))

    the expectation estimated with ``num_samples`` reparameterized draws and the KL in closed form
    where the posterior and prior have one (else Monte Carlo on the same draws). The regularizer
    part replaces the KL term (MMD, total correlation, ...: :mod:`keras_ae.parts.regularizers`);
    ``bound="iwae"`` trains on the importance-weighted bound (Burda et al. 2015)::

        -L_k(x) = -log (1/k) sum_s p(x|z_s) p(z_s)^b / q(z_s|x)^b,   z_s ~ q(z|x),  b = beta * kl_weight

    ``L_1`` is the ELBO and ``L_k`` rises towards ``log p(x)`` with ``k = num_samples``; ``b < 1``
    tempers it (KL warm-up). ``kl_weight`` is a non-trainable variable (1) that
    :class:`keras_ae.callbacks.KLWarmup` anneals. Logged: ``reconstruction`` (``E_q[-log p(x|z)]``),
    ``kl`` (the KL estimate), ``elbo`` (in nats, higher is better), the regularizer's terms and,
    for the IWAE bound, ``iw_bound`` (``L_k`` with ``b = 1``). A combination whose estimator does
    not hold (a total-correlation split under a mixture prior, free bits without a per-dimension
    KL, an analytic KL that does not exist, ...) is a ``ValueError`` with the reason.

    Args:
        input_shape, latent_dim, architecture, hidden_units, filters, activation,
            kernel_initializer, encoder, decoder, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`.
        likelihood: ``"bernoulli"`` (default; data in [0, 1]), ``"continuous_bernoulli"`` (data in
            [0, 1]), ``"gaussian"``, or a likelihood part.
        posterior: ``"gaussian"`` (default), ``"iaf"``, ``"planar"``, ``"categorical"``,
            ``"von_mises_fisher"``, or a posterior part (e.g. ``IAFPosterior(steps=2)``).
        prior: ``"standard_normal"`` (default), ``"mixture"``, ``"vampprior"``, ``"maf"``,
            ``"spherical_uniform"``, ``"uniform_categorical"``, or a prior part.
        regularizer: ``"kl"`` (default), ``"mmd"``, ``"total_correlation"``, ``"discriminator_tc"``,
            ``"dip"``, ``"capacity"``, ``"adversarial"``, or a regularizer part.
        bound: ``"elbo"`` (default) or ``"iwae"`` (the ``num_samples``-sample bound; needs the KL
            regularizer without free bits).
        beta: shorthand of ``KL(beta=...)``, >= 0 (default 1.0); with another regularizer it must
            agree with the part's.
        free_bits: shorthand of ``KL(free_bits=...)``: a KL floor per latent dimension in nats,
            >= 0 (default 0.0, off).
        num_samples: draws of ``z`` per example in training, >= 1, default 1.
        decoder_scale, decoder_fixed_scale, decoder_min_scale: shorthands of the
            ``likelihood="gaussian"`` part's ``scale`` (``"learned"``, ``"global"``, ``"fixed"``),
            ``fixed_scale`` (1.0, used by ``"fixed"`` only) and ``min_scale`` (1e-2, the floor of a
            learned scale: not used by ``"fixed"``). A value other than the default where it does
            nothing (any of them with another likelihood) is a ``ValueError`` naming it.
        posterior_min_scale: floor of every Gaussian posterior scale, default 1e-4 (another value with a
            posterior that has no Gaussian scale, categorical or von Mises-Fisher, is refused).
        Parts are given as instances, names, ``{"name": ..., arguments}`` or their Keras configs.

    Example::

        model = VAE(input_shape=(784,), latent_dim=16, hidden_units=(512,), likelihood="bernoulli")
        model.compile(optimizer="adam")
        model.fit(x_train, epochs=10, callbacks=[keras_ae.callbacks.KLWarmup(epochs=5)])
        log_px = model.log_likelihood(x_test[:100], num_samples=1000)

        iaf_mog = VAE(input_shape=(784,), latent_dim=16, posterior=IAFPosterior(steps=2),
                      prior=MixturePrior(components=10))
    """

    TERMS = ("reconstruction", "kl", "elbo")
    is_generative = True
    is_probabilistic = True
    #: the part arguments this class composes; a subclass with a latent structure of its own
    #: (a hierarchy) lists fewer, and refuses any other value than the default for the rest.
    composable_parts = ("posterior", "prior", "likelihood", "regularizer", "bound")
    #: ``{part kind: why}`` for the kinds a subclass leaves out of ``composable_parts`` (the
    #: ``ValueError`` for a value other than the default gives it; default: "its <kind> is its own").
    own_part_reasons = {}
    #: the family has Gaussian latents of its own (a hierarchy's layers, an auxiliary variable)
    #: that ``posterior_min_scale`` floors whatever the posterior part.
    own_gaussian_latents = False

    def __init__(self, input_shape, latent_dim, likelihood="bernoulli", beta=None, free_bits=None, num_samples=1,
                 decoder_scale=None, decoder_fixed_scale=None, decoder_min_scale=None,
                 posterior_min_scale=POSTERIOR_MIN_SCALE, posterior="gaussian", prior="standard_normal", regularizer="kl", bound="elbo", **kwargs):
        num_samples = _checks.check_positive_int(num_samples, "num_samples")
        _checks.check_choice(bound, "bound", BOUNDS)
        _checks.check_number(posterior_min_scale, "posterior_min_scale", minimum=0)
        given = {"posterior": posterior, "prior": prior, "likelihood": likelihood, "regularizer": regularizer,
                 "bound": bound}
        for kind, value in given.items():
            default = PART_DEFAULTS[kind]
            if kind not in self.composable_parts and not (isinstance(value, str) and value == default):
                reason = self.own_part_reasons.get(kind, f"its {kind} is its own")
                raise ValueError(f"{type(self).__name__} takes no {kind}={value!r}: {reason} "
                                 f"(it composes {', '.join(self.composable_parts)})")
        specs = {
            "posterior": _parts.resolve("posterior", posterior, "posterior"),
            "prior": _parts.resolve("prior", prior, "prior"),
            "likelihood": _likelihood_spec(likelihood, decoder_scale, decoder_fixed_scale, decoder_min_scale),
            "regularizer": _regularizer_spec(regularizer, {"beta": beta, "free_bits": free_bits}),
        }
        uses_min_scale = specs["posterior"].uses_min_scale or self.own_gaussian_latents
        if float(posterior_min_scale) != POSTERIOR_MIN_SCALE and not uses_min_scale:
            raise ValueError(f"posterior_min_scale={posterior_min_scale} does nothing with the posterior "
                             f"{specs['posterior']!r}: it floors a Gaussian posterior's scale, and this one has none")
        reg = specs["regularizer"]
        if bound == "iwae" and reg.elbo_objective and reg.arguments()["estimator"] != "auto":
            raise ValueError(f"estimator={reg.arguments()['estimator']!r} of {reg!r} does nothing with bound='iwae': "
                             f"the importance-weighted bound has no KL term to estimate")
        if bound == "iwae" and not (reg.elbo_objective and not reg.shorthands().get("free_bits")):
            if reg.shorthands().get("free_bits"):
                raise ValueError(f"free_bits must be 0 for the IWAE bound (the bound has no per-dimension KL), "
                                 f"got {reg.shorthands()['free_bits']}")
            raise ValueError(f"bound='iwae' replaces the ELBO, whose latent term is the KL; it takes the KL "
                             f"regularizer, got {reg!r}")
        # The terms and parameter groups (read by the base class) come from the regularizer and the bound.
        terms = tuple(self.TERMS) + tuple(t for t in reg.TERMS if t not in self.TERMS)
        if bound == "iwae":
            terms += ("iw_bound",)
        object.__setattr__(self, "TERMS", terms)
        object.__setattr__(self, "PARAMETER_GROUPS", {**self.PARAMETER_GROUPS, **reg.PARAMETER_GROUPS})
        object.__setattr__(self, "_part_specs", specs)
        super().__init__(input_shape, latent_dim, **kwargs)
        self.num_samples = num_samples
        self.bound = bound
        self.posterior_min_scale = float(posterior_min_scale)
        self.likelihood_name = specs["likelihood"].data_likelihood
        self.data_likelihood = specs["likelihood"].data_likelihood
        self.unit_interval_data = specs["likelihood"].unit_interval
        # Set in the train step by a schedule (KLWarmup); one value for every replica.
        self.kl_weight = self.add_weight(name="kl_weight", shape=(), initializer="ones", trainable=False,
                                         aggregation="only_first_replica")
        self.build_latent()
        self.decoder_body = self.make_decoder_body()
        self.decoder_head = specs["likelihood"]
        self.decoder_head.attach(self)
        self.prior_part = specs["prior"]
        self.prior_part.attach(self)
        self.regularizer_part = reg
        self.regularizer_part.attach(self)
        if "posterior" in self.composable_parts:
            self._check_parts()
            if not self.posterior_part.supports_xla():
                self.supports_xla = False  # the class's default, refined by the posterior part
        for part in specs.values():
            if not part._attached:  # a part a subclass replaced (its own latent)
                continue
            for name, variable in part.schedulable_variables().items():
                if hasattr(self, name):
                    raise ValueError(f"{type(self).__name__} already has {name!r}; {part!r} cannot schedule it")
                object.__setattr__(self, name, variable)  # model.<name> for set_schedule (tracked by the part)

    def build_latent(self):
        """The encoder: body and posterior part (families with another latent override this)."""
        self.encoder_body = self.make_encoder_body()
        self.encoder_head = self._part_specs["posterior"]
        self.encoder_head.attach(self)

    def _check_parts(self):
        posterior, prior = self.posterior_part, self.prior_part
        space = prior.latent_space or posterior.latent_space
        if space != posterior.latent_space:
            raise ValueError(f"the prior {prior!r} is over codes in {space} space and the posterior {posterior!r} "
                             f"draws them in {posterior.latent_space} space")
        for part in (posterior, prior, self.decoder_head, self.regularizer_part):
            part.check_model(self)

    # -- the parts ---------------------------------------------------------------------------------
    @property
    def posterior_part(self):
        """The posterior part (the encoder's head): features -> ``q(z|x)``."""
        return self.encoder_head

    @property
    def likelihood_part(self):
        """The likelihood part (the decoder's head): features -> ``p(x|z)``."""
        return self.decoder_head

    @property
    def parts(self):
        """``{"posterior", "prior", "likelihood", "regularizer"}``: the model's parts."""
        return {"posterior": self.posterior_part, "prior": self.prior_part, "likelihood": self.likelihood_part,
                "regularizer": self.regularizer_part}

    def _part_kinds(self):
        return {kind: type(part).__name__ for kind, part in self.parts.items()}

    @property
    def beta(self):
        """The KL's weight (the regularizer's ``beta``; 1 when it has none)."""
        return self.regularizer_part.shorthands().get("beta", 1.0)

    @property
    def free_bits(self):
        """The KL floor per dimension (the regularizer's ``free_bits``; 0 when it has none)."""
        return self.regularizer_part.shorthands().get("free_bits", 0.0)

    @property
    def analytic_kl(self):
        """Whether ``KL(q(z|x) || p(z))`` is in closed form for this posterior and prior."""
        return isinstance(self.posterior_part, self.prior_part.analytic_kl_with)

    @property
    def per_dimension_kl(self):
        """Whether the KL splits into closed-form per-dimension terms (what free bits floor)."""
        return self.analytic_kl and self.posterior_part.factorized and self.prior_part.factorized

    def get_config(self):
        config = super().get_config()
        specs = self._part_specs
        config.update(num_samples=self.num_samples, posterior_min_scale=self.posterior_min_scale,
                      **{kind: _parts.serialize(part) for kind, part in specs.items() if kind in self.composable_parts},
                      **specs["regularizer"].shorthands())
        if "bound" in self.composable_parts:
            config["bound"] = self.bound
        return config

    # -- the latent variable ------------------------------------------------------------------------
    def _posterior(self, x, **condition):
        return self.encoder_head(self.encoder_body(x))

    def _prior(self):
        """``p(z)``: the prior part's distribution."""
        return self.prior_part.distribution(self)

    def _prior_codes(self, n, seed, temperature=1.0):
        """``n`` codes of the prior part's own sampler at ``temperature`` (builtin ops: the exported ``sample``)."""
        return self.prior_part.draw(self, n, seed, temperature)

    def posterior_code(self, q):
        """The deterministic code of a posterior ``[B, latent_dim]`` (the posterior part's: its mean, ...)."""
        return tf.cast(self.posterior_part.code(q), tf.float32)

    def _draws(self, q, n, seed, training=False):
        """``(z [n, B, D], log q(z|x) [n, B])``; the regularizer's deterministic training codes are the codes."""
        if training and self.regularizer_part.deterministic_codes:
            code = self.posterior_code(q)
            z = tf.broadcast_to(code[None], tf.concat([[n], tf.shape(code)], 0))
            return z, q.log_prob(z)
        z, log_q = self.posterior_part.sample(q, n, seed, training=training)
        return z, tf.cast(log_q, tf.float32)

    def draw_codes(self, q, n, seed, training=False):
        """``n`` reparameterized codes per example ``[n, B, latent_dim]`` from a stateless ``seed``."""
        return self._draws(q, n, seed, training)[0]

    def latent_log_probs(self, q, z):
        """``(log q(z|x), log p(z))``, each ``[n, B]``, for codes ``z`` from ``draw_codes``."""
        return q.log_prob(z), self._prior().log_prob(z)

    def kl(self, q, seed=None):
        """``KL(q(z|x) || p(z))`` ``[B]``: in closed form where the parts have one, else Monte Carlo.

        Monte Carlo: one fresh draw with a ``seed``; without one (``score``, evaluation) the
        posterior part's ``SCORE_KL_SAMPLES`` draws from fixed noise, deterministic (builtin ops
        for the Gaussian and flow posteriors, so the exported ``score`` converts to TFLite).
        """
        prior = self._prior()
        if self.analytic_kl:
            return objectives.kl_divergence(q, prior, analytic=True)
        if seed is not None:
            z, log_q = self.posterior_part.sample(q, 1, seed)
        else:
            z, log_q = self.posterior_part.fixed_draws(q, self.seed, SCORE_KL_SAMPLES)
        return tf.reduce_mean(tf.cast(log_q, tf.float32) - tf.cast(prior.log_prob(z), tf.float32), axis=0)

    def kl_estimate(self, record, training=False):
        """The logged ``kl`` ``[B]`` of a record: closed form, else Monte Carlo on its draws (a fresh draw when
        the training codes are deterministic, hence not draws of ``q``)."""
        if self.analytic_kl:
            return objectives.kl_divergence(record.posterior, self._prior(), analytic=True)
        if training and self.regularizer_part.deterministic_codes:
            return self.kl(record.posterior, seed=self.noise_seed(stream=2))
        return tf.reduce_mean(record.log_qz - record.log_pz, axis=0)

    # -- hooks of the contract -------------------------------------------------------------------
    def _likelihood(self, z, **condition):
        return self.decoder_head(self.decoder_body(z))

    # ``**condition``: the conditioning inputs of a conditional subclass (``y`` of the
    # ConditionalVAE), passed on to ``_posterior`` and ``_likelihood``; empty for the VAE.
    def _encode(self, x, **condition):
        """The posterior part's code ``[B, latent_dim]`` (the mean of a Gaussian posterior)."""
        return self.posterior_code(self._posterior(x, **condition))

    def _decode(self, z, seed=None, **condition):
        """The mean of ``p(x|z)``."""
        return tf.cast(self._likelihood(z, **condition).mean(), tf.float32)

    def _encode_outputs(self, x, **condition):
        """``{"code", ...}``: the code and the posterior part's parameters (``mean``, ``scale`` for a Gaussian)."""
        outputs = self.posterior_part.outputs(self._posterior(x, **condition))
        return {k: tf.cast(v, tf.float32) for k, v in outputs.items()}

    def _score(self, x, **condition):
        """Per-example negative ELBO, deterministic: ``-log p(x | z = code) + KL(q(z|x) || p(z))``.

        The expectation over ``q`` is replaced by its value at the posterior code, so the score has
        no noise: the same input gives the same score in Keras, SavedModel and TFLite. It differs
        from the ELBO by the Jensen gap of the reconstruction term. With deterministic training
        codes (WAE, AAE) the objective has no KL and the score is the cost at the code alone.
        """
        q = self._posterior(x, **condition)
        nll = objectives.negative_log_likelihood(self._likelihood(self.posterior_code(q), **condition), x)
        if self.regularizer_part.deterministic_codes:
            return nll
        return nll + self.kl(q)

    # -- importance weights ------------------------------------------------------------------------
    def log_prob_of_codes(self, x, z, **condition):
        """``log p(x|z)`` ``[n, B]`` for codes ``z`` ``[n, B, latent_dim]`` of a batch ``x`` ``[B, ...]``."""
        n, batch = tf.shape(z)[0], tf.shape(z)[1]
        flat_z = tf.reshape(z, [-1, self.latent_dim])  # [n * B, latent_dim]

        def repeated(t):  # [B, ...] -> [n * B, ...], sample-major like flat_z
            t = tf.broadcast_to(t[None], tf.concat([[n], tf.shape(t)], 0))
            return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))

        x_rep = repeated(x)  # [n * B, *input_shape]
        log_px = self._likelihood(flat_z, **{k: repeated(v) for k, v in condition.items()}).log_prob(x_rep)
        return tf.reshape(tf.cast(log_px, tf.float32), [n, batch])

    def _importance_samples(self, x, num_samples, seed, training=False, **condition):
        """``k`` draws of ``q(z|x)`` with ``log p(x|z)``, ``log p(z)`` and ``log q(z|x)`` (the posterior part's,
        from the sampling direction for a flow)."""
        q = self._posterior(x, **condition)
        z, log_qz = self._draws(q, num_samples, seed, training)
        log_pz = tf.cast(self._prior().log_prob(z), tf.float32)
        return objectives.ImportanceSamples(self.log_prob_of_codes(x, z, **condition), log_pz, log_qz, q, z)

    def _ais_log_likelihood(self, x, num_chains, num_steps, start, seed):
        if self.posterior_part.latent_space != "euclidean":
            raise ValueError(f"{type(self).__name__} does not support method='ais': annealed importance sampling "
                             f"moves continuous codes in R^d by Hamiltonian Monte Carlo, and this model's codes are "
                             f"{self.posterior_part.latent_space}")
        return ais_log_likelihood(self, x, num_chains, num_steps, start, seed)

    def export_endpoints(self):
        """The base class's signatures; those the parts cannot write with TFLite builtins say why (SavedModel keeps them)."""
        return self.with_part_tflite_skips(super().export_endpoints())

    def with_part_tflite_skips(self, endpoints):
        """``endpoints`` with the reasons the parts give for leaving ``sample``/``score`` out of TFLite files."""
        if "posterior" not in self.composable_parts:
            return endpoints
        reasons = {"sample": self.prior_part.sample_tflite_skip(self)}
        if not self.regularizer_part.deterministic_codes:  # else the score is the cost at the code alone
            reasons["score"] = self.posterior_part.density_tflite_skip
        for name, reason in reasons.items():
            if reason and name in endpoints and endpoints[name].tflite_skip is None:
                endpoints[name] = endpoints[name]._replace(tflite_skip=reason)
        return endpoints

    # -- training ------------------------------------------------------------------------------
    def loss_weights(self):
        if self.bound == "iwae":
            return {"iw_objective": 1.0}
        return self.regularizer_part.loss_weights(self)

    def _loss_terms(self, x, training=False, **condition):
        record = self._importance_samples(x, self.num_samples, self.noise_seed(stream=1), training, **condition)
        reconstruction = -tf.reduce_mean(record.log_px_given_z, axis=0)
        kl = self.kl_estimate(record, training)
        terms = {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl)}
        terms.update(self.regularizer_part.terms(self, terms, record, training))
        if self.bound == "iwae":
            tempered = record.log_weights(self.beta * tf.convert_to_tensor(self.kl_weight))
            terms.update(iw_bound=objectives.importance_weighted_bound(record.log_weights()),
                         iw_objective=-objectives.importance_weighted_bound(tempered))
        return self.extra_terms(terms, record)

    def extra_terms(self, terms, record):
        """Hook for a subclass's own terms on the same samples; default: none."""
        return terms

    def _group_loss_terms(self, group, x, training=False, **condition):
        return self.regularizer_part.group_loss_terms(self, group, x, training, **condition)

    def parameter_group_variables(self, group):
        return self.regularizer_part.group_variables(group)

    def group_optimizer_default(self, group):
        """The regularizer's default optimizer of its parameter group (``compile`` without one)."""
        return self.regularizer_part.group_optimizer(group)


def ais_log_likelihood(model, x, num_chains, num_steps, start, seed):
    """AIS from the prior or from ``q(z|x)`` to ``p(x, z) = p(z) p(x|z)`` (:func:`keras_ae.evaluation.ais.forward_bound`).

    Reads only the model's ``_prior``, ``_posterior`` and ``log_prob_of_codes``: any family with
    continuous codes in R^d uses it.
    """
    init_seed, chain_seed = samplers.split_seed(seed, 2)
    prior = model._prior()
    if start == "prior":
        initial = prior
        z0 = prior.sample([num_chains, int(x.shape[0])], seed=init_seed)
    else:
        initial = model._posterior(x)
        z0 = initial.sample(num_chains, seed=init_seed)

    def log_joint(z):
        return tf.cast(prior.log_prob(z), tf.float32) + model.log_prob_of_codes(x, z)

    def log_initial(z):
        return tf.cast(initial.log_prob(z), tf.float32)

    return ais.forward_bound(log_initial, log_joint, tf.cast(z0, tf.float32), num_steps, chain_seed).log_marginal


def named_configuration(fn):
    """Mark ``fn`` (keyword arguments -> a configured :class:`VAE`) as a named model: registered as
    ``keras_ae>NAME`` with ``family`` and ``from_preset`` as on a model class, so the zoo and
    ``keras_ae.presets`` find it by name and treat it like one."""
    fn.family = VAE
    keras.saving.register_keras_serializable(package="keras_ae")(fn)

    def from_preset(preset, **overrides):
        """A model of this configuration from one of its recipes, or a VAE from a run directory or ``.keras``
        file (see :func:`keras_ae.presets.from_preset`)."""
        from keras_ae import presets

        model = presets.from_preset(fn, preset, family=VAE, **overrides)
        if not isinstance(model, VAE):
            raise ValueError(f"preset {preset!r} holds a {type(model).__name__}, not a {fn.__name__} (a VAE)")
        return model

    fn.from_preset = from_preset
    return fn


@named_configuration
def IWAE(input_shape, latent_dim, num_samples=5, **kwargs):
    """Importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2015): ``VAE(bound="iwae")``.

    Objective per example (minimised): ``-L_k(x) = -log (1/k) sum_s p(x|z_s) p(z_s) / q(z_s|x)``,
    ``z_s ~ q(z|x)`` (see :class:`VAE`; ``beta * kl_weight`` tempers the prior-to-posterior ratio).
    Logged besides the VAE's terms, from the same ``k`` draws: ``iw_bound``.

    Args:
        num_samples: ``k`` >= 1, default 5 (the paper's k = 5 models on MNIST).
        other arguments: see :class:`VAE` (``free_bits`` must be 0).
    """
    return VAE(input_shape, latent_dim, num_samples=num_samples, bound="iwae", **kwargs)
