"""Semi-supervised deep generative models: M2 (Kingma et al. 2014), ADGM and SDGM (Maaløe et al. 2016).

One family: a class-conditional VAE ``p(x | y, z) p(y) p(z)`` (the generative model and
``q(z | x, y)`` are :class:`~keras_ae.models.ConditionalVAE`'s) with a classifier
``q(y | x)`` trained on labelled and unlabelled examples in the same batch. A batch carries
``y`` for every example, ``-1`` marking an unlabelled one (``keras_ae.data.semisupervised``
builds such batches), so one batch structure serves both and the step runs on the fused XLA path
and under ``tf.distribute`` like every other model.

The unlabelled bound marginalises ``y`` exactly: the labelled bound is computed for each of the
``K`` classes (the batch is tiled ``K`` times) and weighted by ``q(y | x)``. :class:`M1M2` is an
M2 on the codes of a frozen, trained VAE (``zoo train m1m2-... --from RUN_DIR``); it takes images.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.bodies import EncoderBody
from keras_ae.layers.heads import GaussianHead
from keras_ae.models.base import BaseAutoencoder, Endpoint, first_stage_model
from keras_ae.models.conditional.conditional import ConditionalVAE, conditional_endpoints
from keras_ae.models.vae.vae import VAE
from keras_ae.parts import GaussianPosterior

tfd = tfp.distributions


def _class_major(t, num_classes):
    """``[B, ...]`` -> ``[K * B, ...]``: ``K`` copies of the batch, example ``k * B + b`` is copy ``k`` of ``b``."""
    t = tf.broadcast_to(t[None], tf.concat([[num_classes], tf.shape(t)], 0))
    return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))


def marginal_bound(class_bounds, logits):
    """The unlabelled bound from the labelled ones: ``U(x) = sum_y q(y|x) L(x, y) - H(q(y|x))``.

    Args:
        class_bounds: ``L(x, y)`` for every class ``[B, K]`` (negative bounds: losses).
        logits: of ``q(y | x)`` ``[B, K]``.
    Returns:
        ``U(x)`` ``[B]`` (a loss: the negative of Kingma et al.'s unlabelled bound, eq. 7).
    """
    log_q = tf.nn.log_softmax(logits)
    q = tf.exp(log_q)
    return tf.reduce_sum(q * (class_bounds + log_q), axis=-1)


@keras.saving.register_keras_serializable(package="keras_ae")
class M2(ConditionalVAE):
    """Kingma et al.'s M2: a generative semi-supervised model with a classifier ``q(y | x)``.

    Generative model ``p(y) p(z) p(x | y, z)`` with ``p(y)`` uniform over ``K`` classes and
    ``p(z) = N(0, I)``; inference ``q(z | x, y) q(y | x)``. Per example (minimised)::

        labelled   L(x, y) = E_q(z|x,y)[-log p(x|y,z)] + KL(q(z|x,y) || p(z)) - log p(y)
        unlabelled U(x)    = sum_y q(y|x) L(x, y) - H(q(y|x))          (y marginalised exactly)
        objective  J       = mean_batch [L or U] + alpha * mean_labelled [-log q(y|x)]

    ``alpha`` weighs the batch's mean labelled cross-entropy against the mean bound: Kingma et
    al.'s ``alpha = 0.1 N`` on the sums over ``N`` examples (eq. 9) is ``alpha = 0.1`` here.
    Every ``K`` labelled bounds come from one pass over the batch tiled ``K`` times. ``beta``
    and the KL warm-up weight temper the KL in the objective; the logged ``elbo`` is untempered.
    Labels ``-1`` mark unlabelled examples.

    Logged terms: ``reconstruction``, ``kl`` (under the label, or ``q(y|x)``-weighted),
    ``elbo`` (the bound on ``log p(x, y)`` or ``log p(x)``, nats), ``classification``
    (cross-entropy of the labelled examples, scaled to the batch's labelled mean).

    Public methods infer the label where it is missing: ``encode(x)``, ``reconstruct(x)`` use
    ``argmax q(y|x)``; ``score(x)`` is the deterministic ``U(x)`` (posterior means, analytic KL);
    ``classify(x)`` gives ``q(y | x)``. ``decode(z, y)`` and ``sample(n, seed, y)`` take labels.
    Exported: ``classify(x) -> {probabilities, label}``, ``reconstruct(x)``, ``encode(x)``,
    ``score(x)``, ``decode(z, y)``, ``sample(y)``, ``sample_seeded(y, seed)`` (SavedModel).

    Args:
        input_shape, latent_dim, num_classes and the VAE's arguments: see
            :class:`~keras_ae.models.ConditionalVAE` (labels only). ``posterior``,
            ``prior`` and ``likelihood`` are parts (the KL is Monte Carlo where it has no closed
            form, and ``sample`` draws with the prior part's sampler); ``regularizer`` and ``bound``
            are refused (the objective is the semi-supervised bounds'), and so is ``free_bits``.
        alpha: weight of the labelled cross-entropy, >= 0, default 0.1 (the paper's).
        classifier_units: dense layers of the classifier, default ``hidden_units``.

    Example::

        model = M2(input_shape=(28, 28, 1), latent_dim=50, num_classes=10, hidden_units=(500,))
        model.compile(optimizer="adam")
        model.fit(keras_ae.data.semisupervised.mixed_pipeline(split, batch_size=100), epochs=50)
        probabilities = model.classify(x_test)

    Paper: D. P. Kingma, D. J. Rezende, S. Mohamed, M. Welling, "Semi-supervised learning with
    deep generative models", NeurIPS 2014 (M2: 11.97% test error on MNIST with 100 labels).
    """

    TERMS = ("reconstruction", "kl", "elbo", "classification")
    condition_required = False
    can_classify = True
    #: the posterior ``q(z | x, y)``, the prior ``p(z)`` and the likelihood ``p(x | y, z)`` are
    #: parts; the objective is the semi-supervised bounds', so the regularizer and the bound are not.
    composable_parts = ("posterior", "prior", "likelihood")
    own_part_reasons = {
        "regularizer": "its bounds L(x, y) and U(x) are ELBOs whose latent term is KL(q(z|x, y) || p(z)), "
                       "weighted by beta (Kingma et al. 2014, eqs. 6-7); another regularizer has no place in them",
        "bound": "its unlabelled bound marginalises y under q(y|x) over the ELBOs L(x, y); there is no "
                 "importance-weighted form of it here (log_likelihood importance-samples y and z)",
    }

    def __init__(self, input_shape, latent_dim, num_classes=10, alpha=0.1, classifier_units=None, **kwargs):
        if kwargs.get("condition_dim") is not None:
            raise ValueError(f"{type(self).__name__} takes labels (num_classes), not condition_dim")
        kwargs.pop("condition_dim", None)
        if kwargs.get("free_bits", 0.0):
            raise ValueError(f"{type(self).__name__} does not use free_bits (got {kwargs['free_bits']!r}): its bounds "
                             f"use the whole KL of q(z|x, y)")
        self.alpha = float(_checks.check_number(alpha, "alpha", minimum=0))
        self._classifier_units = None if classifier_units is None else _checks.check_int_sequence(
            classifier_units, "classifier_units")
        super().__init__(input_shape, latent_dim, num_classes=num_classes, **kwargs)
        self.classifier_units = self.hidden_units if self._classifier_units is None else self._classifier_units
        self.classifier_body = self.make_classifier_body()
        self.classifier_head = keras.layers.Dense(self.num_classes, name="classifier_head",
                                                  kernel_initializer=keras.initializers.get(self.kernel_initializer))

    def make_classifier_body(self):
        """The body of ``q(y | x)``: an encoder body on the data."""
        return EncoderBody(self.data_shape, self.architecture, self.classifier_units, self.filters,
                           activation=self.activation, kernel_initializer=self.kernel_initializer,
                           name="classifier_body")

    def get_config(self):
        config = super().get_config()
        config.pop("condition_dim")
        return {**config, "alpha": self.alpha,
                "classifier_units": None if self._classifier_units is None else list(self._classifier_units)}

    # -- the classifier and the label ------------------------------------------------------------
    def classifier_logits(self, x, **auxiliary):
        """Logits ``[B, K]`` of ``q(y | x)``."""
        return tf.cast(self.classifier_head(self.classifier_body(x)), tf.float32)

    def label_proposal_logits(self, x):
        return self.classifier_logits(x)

    def _inferred_labels(self, x):
        return tf.argmax(self.label_proposal_logits(x), axis=-1, output_type=tf.int32)

    def _classify(self, x):
        """``{"probabilities": q(y|x) [B, K], "label": argmax [B]}``."""
        logits = self.label_proposal_logits(x)
        return {"probabilities": tf.nn.softmax(logits), "label": tf.argmax(logits, axis=-1, output_type=tf.int32)}

    def _posterior(self, x, y=None):
        return super()._posterior(x, self._inferred_labels(x) if y is None else y)

    def _reconstruct(self, x, y=None):
        return super()._reconstruct(x, self._inferred_labels(x) if y is None else y)

    def _score(self, x, y=None):
        """``L(x, y)`` given labels, else ``U(x)``; deterministic (posterior means, analytic KL)."""
        bounds, logits, _ = self._class_bounds(x, seed=None)
        if y is None:
            return marginal_bound(bounds, logits)
        return tf.gather(bounds, tf.cast(y, tf.int32), batch_dims=1)

    # -- the bounds -----------------------------------------------------------------------------
    def _auxiliary(self, x, seed):
        """The auxiliary variable: ``({}, 0)`` for M2; ADGM draws ``a ~ q(a | x)``."""
        return {}, 0.0

    def _auxiliary_log_ratio(self, x_k, y_k, z, auxiliary, log_qa):
        """``log q(a|x) - log p(a|...)`` ``[n, K * B]`` for codes ``z`` ``[n, K * B, d]``: 0 for M2."""
        return tf.zeros(tf.shape(z)[:2])

    def _class_bounds(self, x, seed=None, training=False):
        """``L(x, y)`` for every class ``[B, K]``, the classifier logits ``[B, K]`` and the parts.

        With a stateless ``seed``: ``num_samples`` reparameterized draws and the model's KL
        estimator (the training bound). With ``seed=None``: the posterior mean and the
        deterministic KL (``score``). Returns ``(bounds, logits, parts)`` with ``parts`` the
        reconstruction, KL and tempered objective per class, each ``[B, K]``.
        """
        k, batch = self.num_classes, tf.shape(x)[0]
        aux_seed, code_seed, kl_seed = samplers.split_seed(seed, 3)
        auxiliary, log_qa = self._auxiliary(x, aux_seed)
        logits = self.classifier_logits(x, **auxiliary)
        x_k = _class_major(x, k)
        y_k = tf.repeat(tf.range(k), batch)  # [K * B], class-major
        aux_k = {name: _class_major(v, k) for name, v in auxiliary.items()}
        q = self._posterior(x_k, y=y_k, **aux_k)
        if seed is None:
            z = self.posterior_code(q)[None]  # [1, K * B, d]
        else:
            z = self.draw_codes(q, self.num_samples, code_seed, training=training)
        reconstruction = -tf.reduce_mean(self.log_prob_of_codes(x_k, z, y=y_k, **aux_k), axis=0)
        kl = self.kl(q, seed=kl_seed)
        auxiliary_term = tf.reduce_mean(self._auxiliary_log_ratio(x_k, y_k, z, aux_k, _class_major(
            tf.broadcast_to(tf.cast(log_qa, tf.float32), [batch]), k)), axis=0)
        log_k = tf.math.log(float(k))  # -log p(y)
        bound = reconstruction + kl + auxiliary_term + log_k
        objective = reconstruction + self.beta * tf.convert_to_tensor(self.kl_weight) * kl + auxiliary_term + log_k

        def per_class(t):  # [K * B] -> [B, K]
            return tf.transpose(tf.reshape(t, [k, batch]))

        parts = {"reconstruction": per_class(reconstruction), "kl": per_class(kl),
                 "objective": per_class(objective), "auxiliary": per_class(auxiliary_term)}
        return per_class(bound), logits, parts

    def _loss_terms(self, x, training=False, y=None, seed=None):
        """The per-example terms; ``seed``: the stateless seed of the draws (default: the model's
        training noise, ``noise_seed``; a model holding this one as a part passes its own)."""
        seed = self.noise_seed(stream=1) if seed is None else seed
        bounds, logits, parts = self._class_bounds(x, seed=seed, training=training)
        if y is None:  # no labels: every example unlabelled
            y = -tf.ones([tf.shape(x)[0]], tf.int32)
        y = tf.cast(y, tf.int32)
        labelled = y >= 0
        label = tf.maximum(y, 0)
        log_q = tf.nn.log_softmax(logits)
        q = tf.stop_gradient(tf.exp(log_q))

        def per_example(t, weights):  # the labelled class's value, or the q(y|x)-weighted one
            return tf.where(labelled, tf.gather(t, label, batch_dims=1), tf.reduce_sum(weights * t, axis=-1))

        xent = -tf.gather(log_q, label, batch_dims=1)
        fraction = tf.reduce_mean(tf.cast(labelled, tf.float32))
        # the batch's mean labelled cross-entropy, returned per example (sums to it over the batch)
        classification = tf.where(labelled, xent, 0.0) / tf.maximum(fraction, 1.0 / tf.cast(tf.size(y), tf.float32))
        terms = {
            "reconstruction": per_example(parts["reconstruction"], q),
            "kl": per_example(parts["kl"], q),
            "elbo": -tf.where(labelled, tf.gather(bounds, label, batch_dims=1), marginal_bound(bounds, logits)),
            "objective": tf.where(labelled, tf.gather(parts["objective"], label, batch_dims=1),
                                  marginal_bound(parts["objective"], logits)),
            "classification": classification,
        }
        return self.auxiliary_terms(terms, parts, labelled, label, q)

    def auxiliary_terms(self, terms, parts, labelled, label, q):
        """Hook for the auxiliary models' logged term; M2 has none."""
        return terms

    def loss_weights(self):
        return {"objective": 1.0, "classification": self.alpha}

    def _encode_outputs(self, x, y=None):
        outputs = super()._encode_outputs(x, y=y)
        return {**outputs, **self._classify(x)}

    # -- export -----------------------------------------------------------------------------------
    def export_endpoints(self):
        """``classify(x)``; ``reconstruct``, ``encode``, ``score`` of ``x`` alone; ``decode(z, y)``, ``sample(y)``."""
        return self.with_part_tflite_skips(_semisupervised_endpoints(self))


def _semisupervised_endpoints(model):
    """The signatures of a model that infers the label from ``x`` (M2, ADGM, M1M2): ``classify(x)``;
    ``reconstruct``, ``encode``, ``score`` of ``x`` alone; the conditional ``decode(z, y)``,
    ``sample(y)``, ``sample_seeded(y, seed)``."""
    conditional = conditional_endpoints(model)  # the conditional VAE's, on the model's hooks
    x = conditional["reconstruct"].inputs[0]
    return {
        "reconstruct": Endpoint(lambda x: {"reconstruction": model._reconstruct(x)}, (x,)),
        "encode": Endpoint(lambda x: model._encode_outputs(x), (x,)),
        "decode": conditional["decode"],
        "score": Endpoint(lambda x: {"score": model._score(x)}, (x,)),
        "classify": Endpoint(model._classify, (x,)),
        "sample": conditional["sample"],
        "sample_seeded": conditional["sample_seeded"],
    }


@keras.saving.register_keras_serializable(package="keras_ae")
class ADGM(M2):
    """The auxiliary deep generative model (Maaløe et al. 2016): M2 with an auxiliary variable ``a``.

    Generative model ``p(y) p(z) p(x | y, z) p(a | x, y, z)``; inference
    ``q(a | x) q(y | a, x) q(z | a, y, x)``. The auxiliary variable leaves ``p(x, y)`` unchanged
    and makes the marginal ``q(y, z | x) = E_q(a|x)[q(y|a,x) q(z|a,y,x)]`` more expressive.
    With ``a ~ q(a | x)`` (one draw per example, shared by the ``K`` classes)::

        L(x, y | a) = E_q(z|a,y,x)[-log p(x|y,z) - log p(a|x,y,z)] + log q(a|x) + KL(q(z|a,y,x) || p(z)) - log p(y)
        U(x | a)    = sum_y q(y|a,x) L(x, y | a) - H(q(y|a,x))
        objective   = mean_batch [L or U] + alpha * mean_labelled [-log q(y|a,x)]

    Logged besides M2's: ``auxiliary`` = ``log q(a|x) - log p(a|...)`` (under the label or
    ``q(y|a,x)``-weighted). With ``q(a|x)`` and ``p(a|...)`` equal and ``a`` ignored by the
    classifier and encoder, every bound is M2's (tested). ``skip=True`` gives the SDGM.
    Deterministic paths (``classify``, ``encode``, ``score``) use the mean of ``q(a | x)``.

    Args:
        auxiliary_dim: size of ``a``, default 100 (the paper's).
        skip: the skip deep generative model (SDGM): ``p(a | y, z)`` and ``p(x | a, y, z)``,
            default False.
        other arguments: see :class:`M2`.

    Example::

        model = ADGM(input_shape=(784,), latent_dim=100, num_classes=10, hidden_units=(500, 500))

    Paper: L. Maaløe, C. K. Sønderby, S. K. Sønderby, O. Winther, "Auxiliary deep generative
    models", ICML 2016 (ADGM 0.96% test error on MNIST with 100 labels, SDGM 1.32%).
    """

    TERMS = M2.TERMS + ("auxiliary",)
    #: ``q(a | x)`` and ``p(a | ...)`` are Gaussians floored by ``posterior_min_scale``.
    own_gaussian_latents = True

    def __init__(self, input_shape, latent_dim, auxiliary_dim=100, skip=False, **kwargs):
        self.auxiliary_dim = _checks.check_positive_int(auxiliary_dim, "auxiliary_dim")
        self.skip = bool(skip)
        super().__init__(input_shape, latent_dim, **kwargs)
        k, a, d = self.num_classes, self.auxiliary_dim, self.latent_dim
        head = dict(scale="learned", min_scale=self.posterior_min_scale, kernel_initializer=self.kernel_initializer)
        self.auxiliary_encoder_body = EncoderBody(self.data_shape, self.architecture, self.hidden_units, self.filters,
                                                  activation=self.activation,
                                                  kernel_initializer=self.kernel_initializer,
                                                  name="auxiliary_encoder_body")
        self.auxiliary_encoder_head = GaussianHead((a,), name="auxiliary_encoder_head", **head)
        # p(a | x, y, z) (ADGM) or p(a | y, z) (SDGM): an MLP on the concatenated inputs.
        size = (k + d) if self.skip else (int(np.prod(self.data_shape)) + k + d)
        self.auxiliary_decoder_body = EncoderBody((size,), "mlp", self.hidden_units, activation=self.activation,
                                                  kernel_initializer=self.kernel_initializer,
                                                  name="auxiliary_decoder_body")
        self.auxiliary_decoder_head = GaussianHead((a,), name="auxiliary_decoder_head", **head)

    def build_latent(self):
        super(ConditionalVAE, self).build_latent()
        if self._given_networks["encoder"] is None:
            self.encoder_body = self.make_conditioned_body(self.num_classes + self.auxiliary_dim, "encoder_body")

    def make_classifier_body(self):
        return self.make_conditioned_body(self.auxiliary_dim, "classifier_body")

    def get_config(self):
        return {**super().get_config(), "auxiliary_dim": self.auxiliary_dim, "skip": self.skip}

    # -- the auxiliary variable -------------------------------------------------------------------
    def auxiliary_posterior(self, x):
        """``q(a | x)``."""
        return self.auxiliary_encoder_head(self.auxiliary_encoder_body(x))

    def auxiliary_prior(self, x, y, z):
        """``p(a | x, y, z)`` (SDGM: ``p(a | y, z)``) for ``x`` ``[N, ...]``, labels ``[N]``, codes ``[N, d]``."""
        parts = [self.condition_vector(y, z), tf.cast(z, tf.float32)]
        if not self.skip:
            parts = [tf.reshape(tf.cast(x, tf.float32), [tf.shape(x)[0], -1])] + parts
        return self.auxiliary_decoder_head(self.auxiliary_decoder_body(tf.concat(parts, axis=-1)))

    def _auxiliary_mean(self, x):
        return tf.cast(self.auxiliary_posterior(x).mean(), tf.float32)

    def _auxiliary(self, x, seed):
        """``({"a": a}, log q(a | x))``: a draw of ``q(a | x)`` (its mean when ``seed`` is None)."""
        qa = self.auxiliary_posterior(x)
        a = tf.cast(qa.mean() if seed is None else qa.sample(seed=seed), tf.float32)
        return {"a": a}, qa.log_prob(a)

    def _auxiliary_log_ratio(self, x_k, y_k, z, auxiliary, log_qa):
        n = tf.shape(z)[0]
        flat_z = tf.reshape(z, [-1, self.latent_dim])  # [n * K * B, d], sample-major

        def repeated(t):
            return tf.reshape(tf.broadcast_to(t[None], tf.concat([[n], tf.shape(t)], 0)),
                              tf.concat([[-1], tf.shape(t)[1:]], 0))

        log_pa = self.auxiliary_prior(repeated(x_k), repeated(y_k), flat_z).log_prob(repeated(auxiliary["a"]))
        return log_qa[None] - tf.reshape(tf.cast(log_pa, tf.float32), tf.shape(z)[:2])

    def auxiliary_terms(self, terms, parts, labelled, label, q):
        aux = parts["auxiliary"]
        return {**terms, "auxiliary": tf.where(labelled, tf.gather(aux, label, batch_dims=1),
                                               tf.reduce_sum(q * aux, axis=-1))}

    # -- networks with a ----------------------------------------------------------------------------
    def classifier_logits(self, x, a=None):
        """Logits of ``q(y | a, x)`` (``a`` = the mean of ``q(a|x)`` when not given)."""
        a = self._auxiliary_mean(x) if a is None else a
        return tf.cast(self.classifier_head(self.classifier_body(self.encoder_input(x, a))), tf.float32)

    def _posterior(self, x, y=None, a=None):
        """``q(z | a, y, x)`` (``y`` inferred and ``a`` the mean of ``q(a|x)`` when not given)."""
        a = self._auxiliary_mean(x) if a is None else a
        y = self._inferred_labels(x) if y is None else y
        return self.encoder_head(self.encoder_body(self.encoder_input(x, self.condition_vector(y, x), a)))

    def _likelihood(self, z, y=None, a=None):
        """``p(x | y, z)``; SDGM: ``p(x | a, y, z)`` with ``a`` the mean of ``p(a | y, z)`` when not given."""
        z = tf.cast(z, tf.float32)
        c = self.condition_vector(y, z)
        if not self.skip:
            return self.decoder_head(self.decoder_body(tf.concat([z, c], axis=-1)))
        if a is None:
            a = tf.cast(self.auxiliary_prior(None, y, z).mean(), tf.float32)
        return self.decoder_head(self.decoder_body(tf.concat([z, c, a], axis=-1)))

    def _importance_samples_given(self, x, num_samples, seed, training, y):
        """Draws ``a ~ q(a|x)``, ``z ~ q(z|a,y,x)``: ``log p(z) + log p(a|...)`` against ``log q(z|..) + log q(a|x)``."""
        aux_seed, code_seed = samplers.split_seed(seed, 2)
        auxiliary, log_qa = self._auxiliary(x, aux_seed)
        q = self._posterior(x, y=y, **auxiliary)
        z, log_qz = self._draws(q, num_samples, code_seed, training)  # log q from the sampling direction (flows)
        log_pz = tf.cast(self._prior().log_prob(z), tf.float32)
        log_ratio = self._auxiliary_log_ratio(x, y, z, auxiliary, log_qa)  # log q(a|x) - log p(a|...)
        return objectives.ImportanceSamples(self.log_prob_of_codes(x, z, y=y, **auxiliary), log_pz - log_ratio,
                                            log_qz, q, z)

    def _sample(self, n, seed, temperature=1.0, y=None):
        if not self.skip:
            return super()._sample(n, seed, temperature, y=y)
        y = self.default_conditions(n) if y is None else y
        code_seed, aux_seed = samplers.split_seed(seed, 2)
        return self._decode_sampled(self._prior_codes(n, code_seed, temperature), y, aux_seed, temperature)

    def _decode_sampled(self, z, y, seed, temperature=1.0):
        """SDGM: ``a = mean + T std e ~ p(a | y, z)`` at ``temperature`` (builtin-op noise), then the mean of
        ``p(x | a, y, z)``."""
        pa = self.auxiliary_prior(None, y, z)
        mean, std = tf.cast(pa.mean(), tf.float32), tf.cast(pa.stddev(), tf.float32)
        a = mean + tf.cast(temperature, tf.float32) * std * samplers.normal(tf.shape(mean), seed)
        return tf.cast(self._likelihood(z, y=y, a=a).mean(), tf.float32)


def _first_stage(autoencoder, input_shape):
    """M1: a trained VAE given, one from its Keras config, or a new ``VAE`` from a dict of its arguments."""
    model = first_stage_model(autoencoder, input_shape, VAE, "M1M2")
    gaussian = (isinstance(model, VAE) and not model.is_conditional
                and isinstance(getattr(model, "posterior_part", None), GaussianPosterior)
                and isinstance(model.code_spec, tf.TensorSpec)
                and len(model.code_spec.shape) == 1 and model.code_spec.dtype.is_floating)
    if not gaussian:
        raise ValueError(f"autoencoder must be a model with a vector Gaussian code q(z1|x) = N(mu(x), sigma(x)^2) "
                         f"(a VAE, IWAE, ... run), got {type(model).__name__}, whose code is not one")
    return model


@keras.saving.register_keras_serializable(package="keras_ae")
class M1M2(BaseAutoencoder):
    """Kingma et al.'s M1+M2: an M2 whose data are the codes of a frozen, trained VAE (M1).

    M1 is a VAE trained on every image without labels; its posterior mean ``z1 = E q(z1 | x)``
    is the data of an :class:`M2` with a Gaussian likelihood ``p(z1 | y, z2)`` (Kingma et al.
    2014, section 3.2: the codes separate the classes better than the pixels). Per example
    (minimised), with ``z1 = mu_M1(x)`` held fixed::

        labelled   L(z1, y) = E_q(z2|z1,y)[-log N(z1; mu(y, z2), sigma(y, z2)^2)] + KL(q(z2|z1,y) || p(z2)) - log p(y)
        unlabelled U(z1)    = sum_y q(y|z1) L(z1, y) - H(q(y|z1))
        objective  J        = mean_batch [L or U] + alpha * mean_labelled [-log q(y|z1)]

    M1's weights do not change (it is not trainable here); only M2's are fitted. Every method
    takes images: ``classify(x)`` is ``q(y | z1(x))``; ``encode(x)`` the mean of
    ``q(z2 | z1(x), y)`` (``y`` inferred when not given); ``score(x)`` M2's deterministic bound on
    ``z1(x)`` (nats of the code, not of the image); ``reconstruct(x)``, ``decode(z2, y)`` and
    ``sample(n, seed, y)`` return images, M1's decoder mean at the mean of ``p(z1 | y, z2)``.
    Exported: ``classify(x)``, ``reconstruct(x)``, ``encode(x)``, ``score(x)``, ``decode(z, y)``,
    ``sample(y)``, ``sample_seeded(y, seed)`` (SavedModel), all on images. Labels ``-1`` mark
    unlabelled examples in a batch, as for M2. Trained by ``python -m zoo train m1m2-digits
    --from RUN_DIR`` (the run of a VAE recipe; ``previous_stage``).

    Args:
        input_shape: the images' shape (M1's).
        autoencoder: M1: a trained ``VAE`` (or ``IWAE``, ...: any VAE with a Gaussian posterior
            and a vector code), its Keras config, or a dict of ``VAE`` arguments (a new VAE,
            what a recipe holds until ``--from`` gives the trained one). Default: ``VAE``'s defaults
            with ``latent_dim=16``.
        latent_dim: size of M2's ``z2``, default 50 (the paper's).
        num_classes: classes, default 10.
        alpha: weight of the labelled cross-entropy, default M2's.
        hidden_units: M2's dense layers (encoder, decoder and classifier), default (500,).
        classifier_units: dense layers of ``q(y | z1)``, default ``hidden_units``.
        beta, num_samples: M2's KL weight and reparameterized draws per example, default 1 and 1.
        activation, kernel_initializer, seed: see :class:`~keras_ae.models.base.BaseAutoencoder`
            (``architecture``, ``filters``, ``encoder`` and ``decoder`` are refused: ``UNUSED_ARGUMENTS`` says why).

    Example::

        m1 = keras_ae.training.load_model_file("runs/vae-mnist/model.keras")
        model = M1M2((28, 28, 1), autoencoder=m1, latent_dim=50, num_classes=10)
        model.compile(optimizer="adam")
        model.fit(keras_ae.data.semisupervised.mixed_pipeline(split, batch_size=100, labelled_per_batch=25))
        model.classify(x_test)["label"]

    Paper: D. P. Kingma, D. J. Rezende, S. Mohamed, M. Welling, "Semi-supervised learning with
    deep generative models", NeurIPS 2014 (M1+M2: 3.33% test error on MNIST with 100 labels).
    """

    TERMS = M2.TERMS
    is_generative = True
    condition_required = False
    can_classify = True
    #: the constructor argument that takes the trained model of the first stage (``zoo train --from``).
    previous_stage = "autoencoder"
    _DEFAULT_FIRST_STAGE = {"latent_dim": 16}
    UNUSED_ARGUMENTS = {
        "architecture": "M2 works on M1's codes, vectors: its networks are dense (set hidden_units)",
        "filters": "M2 works on M1's codes, vectors: its networks are dense (set hidden_units)",
        "encoder": "the image encoder is M1's (give it as autoencoder=); M2's networks are built from hidden_units",
        "decoder": "the image decoder is M1's (give it as autoencoder=); M2's networks are built from hidden_units",
    }

    def __init__(self, input_shape, autoencoder=None, latent_dim=50, num_classes=10, alpha=0.1, hidden_units=(500,),
                 classifier_units=None, beta=1.0, num_samples=1, activation="relu", kernel_initializer=None,
                 seed=None, **kwargs):
        super().__init__(input_shape, latent_dim, hidden_units=hidden_units, activation=activation,
                         kernel_initializer=kernel_initializer, seed=seed, **kwargs)
        self.autoencoder = _first_stage(self._DEFAULT_FIRST_STAGE if autoencoder is None else autoencoder,
                                        self.data_shape)
        self.autoencoder.trainable = False
        self.unit_interval_data = self.autoencoder.unit_interval_data
        self.data_likelihood = self.autoencoder.data_likelihood
        self.m2 = M2((self.autoencoder.latent_dim,), latent_dim, num_classes=num_classes, alpha=alpha,
                     classifier_units=classifier_units, likelihood="gaussian", beta=beta, num_samples=num_samples,
                     hidden_units=self.hidden_units, activation=activation,
                     kernel_initializer=self.kernel_initializer, seed=self.seed, name="m2")

    def get_config(self):
        config = super().get_config()
        m2 = self.m2
        return {**config, "autoencoder": keras.saving.serialize_keras_object(self.autoencoder),
                "num_classes": m2.num_classes, "alpha": m2.alpha,
                "classifier_units": None if m2._classifier_units is None else list(m2._classifier_units),
                "beta": m2.beta, "num_samples": m2.num_samples}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("autoencoder"), dict) and "class_name" in config["autoencoder"]:
            config["autoencoder"] = keras.saving.deserialize_keras_object(config["autoencoder"])
        return super().from_config(config)

    def build(self, input_shape=None):
        if self.built:
            return
        with self.distribute_strategy.scope():
            self.autoencoder.build()
            self.m2.build()
        # Again now that every weight of the first stage exists, variable by variable: the dense
        # layer a head's projection creates in its build is not among the layers that
        # ``trainable = False`` reaches (Keras 3.15), so its weights would stay trainable.
        self.autoencoder.trainable = False
        for variable in self.autoencoder.weights:
            variable.trainable = False
        super().build(input_shape)

    # -- M2's interface, on images -----------------------------------------------------------------
    @property
    def num_classes(self):
        return self.m2.num_classes

    @property
    def alpha(self):
        return self.m2.alpha

    @property
    def condition_spec(self):
        return self.m2.condition_spec

    def describe_condition(self):
        return self.m2.describe_condition()

    def condition_range(self, name):
        return self.m2.condition_range(name)

    def batch_extras_spec(self):
        return self.m2.batch_extras_spec()

    def probe_conditions(self, n):
        return self.m2.probe_conditions(n)

    def loss_weights(self):
        return self.m2.loss_weights()

    def codes(self, x):
        """M1's posterior mean ``z1 = E q(z1 | x)`` ``[B, d1]`` of images ``x``: M2's data (no gradient)."""
        return tf.stop_gradient(tf.cast(self.autoencoder._encode(x), tf.float32))

    def images(self, z1):
        """M1's decoder mean ``E p(x | z1)`` of codes ``z1``."""
        return tf.cast(self.autoencoder._decode(z1), tf.float32)

    def _loss_terms(self, x, training=False, y=None):
        return self.m2._loss_terms(self.codes(x), training=training, y=y, seed=self.noise_seed(stream=1))

    def _classify(self, x):
        return self.m2._classify(self.codes(x))

    def _encode(self, x, y=None):
        return self.m2._encode(self.codes(x), y=y)

    def _encode_outputs(self, x, y=None):
        return self.m2._encode_outputs(self.codes(x), y=y)

    def _score(self, x, y=None):
        return self.m2._score(self.codes(x), y=y)

    def _reconstruct(self, x, y=None):
        return self.images(self.m2._reconstruct(self.codes(x), y=y))

    def _decode(self, z, seed=None, y=None):
        return self.images(self.m2._decode(z, y=y))

    def _prior(self):
        return self.m2._prior()

    def _sample(self, n, seed, temperature=1.0, y=None):
        return self.images(self.m2._sample(n, seed, temperature, y=y))

    # -- export -----------------------------------------------------------------------------------
    def export_endpoints(self):
        """M2's signatures on images: ``classify(x)``, ``reconstruct``, ``encode``, ``score`` of ``x``;
        ``decode(z, y)``, ``sample(y)``, ``sample_seeded(y, seed)`` give images."""
        return _semisupervised_endpoints(self)
