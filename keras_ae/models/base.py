"""The model contract (v2) that every keras-ae family follows.

**Public methods validate, hooks compute** (TFP's template pattern): ``encode``, ``decode``,
``reconstruct``, ``score``, ``encode_outputs``, ``posterior``, ``likelihood``, ``prior``,
``sample``, ``log_importance_weights``, ``log_likelihood`` and ``loss_terms`` check their input
once (with :mod:`keras_ae._checks`) and call an underscored hook (``_encode``, ``_decode``, ...)
that a family overrides. Inside graphs (``fit``, export) the hooks are called directly.

The contract's extension points, each with a default that a plain autoencoder never notices:

- *batches*: ``x``, ``(x, y)``, ``(x, y, w)`` or a dict; the entries named by
  :meth:`BaseAutoencoder.batch_extras_spec` reach ``_loss_terms`` as keyword arguments, on the
  per-step and the fused multi-step XLA paths alike;
- *structured codes and data*: :attr:`BaseAutoencoder.code_spec` and ``data_spec`` (shape and
  dtype of one code and of one example) are what export, pictures and evaluation read;
- *priors are parts of the model*: ``_prior()`` may be any TFP distribution built from the
  model's weights; ``sample`` and the exported ``sample`` draw from it;
- *parameter groups*: ``PARAMETER_GROUPS`` names groups trained by their own optimizer (passed
  as ``compile(group_optimizers=...)``) on their own objective; ``_non_gradient_updates`` runs
  updates that are not gradients (EMA codebooks) after the gradient steps;
- *stochastic, iterative decoding*: ``decode(z, seed=None, **condition)``; :mod:`keras_ae.samplers`;
- *importance weights as one record*: ``_importance_samples`` gives log p(x|z), log p(z) and
  log q(z|x) for k posterior samples; ``log_importance_weights``, ``log_likelihood`` (IS-NLL),
  the IWAE bound and the evaluation tools all read it;
- *hooks*: ``post_fit`` after training; ``export_endpoints`` declares the export signatures;
  ``supports_xla`` per class;
- *declared capabilities* (v3): everything a tool may ask (generative, probabilistic,
  conditional, classify, per-layer latents, step outputs, feature points, the likelihood, the
  export signatures) is a declaration with a default here, gathered by
  :meth:`BaseAutoencoder.capabilities`; a tool reads them and calls
  :meth:`BaseAutoencoder.require`, which names the capability and the model when it is missing;
- *conditioning* (v3): every public method takes the condition one way, as keywords named by
  ``condition_spec`` (``decode(z, seed=None, y=labels)``), checked once by ``check_condition``
  and passed to the hook; families override hooks, never a public method.

The base class owns ``train_step``/``test_step``: it weights and sums the per-example terms,
averages them over the *global* batch (``tf.nn.compute_average_loss``, which Keras does not do
for a hand-written loss under ``tf.distribute``) and reports every term as a metric.
"""

import os
from typing import TYPE_CHECKING, Callable, Dict, NamedTuple, Optional, Union

import numpy as np
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, objectives, samplers
from keras_ae.layers.bodies import DEFAULT_KERNEL_INITIALIZER, DecoderBody, EncoderBody, kernel_initializer_config
from keras_ae.models import steps as _steps

if TYPE_CHECKING:
    from keras_ae.objectives import ImportanceSamples

tfd = tfp.distributions
#: what the public methods take as data or codes: a NumPy array, a tensor or nested lists.
ArrayLike = Union[np.ndarray, tf.Tensor, list]

#: decoded examples per importance-sampling chunk: bounds the memory of ``log_likelihood``.
DECODED_PER_CHUNK = 2**14
#: the inputs of the exported ``sample``/``sample_seeded`` signatures besides ``n`` (or ``y``).
SEED_SPEC = tf.TensorSpec((), tf.int32, name="seed")
TEMPERATURE_SPEC = tf.TensorSpec((), tf.float32, name="temperature")


class Endpoint(NamedTuple):
    """One export signature a model declares (see :meth:`BaseAutoencoder.export_endpoints`).

    Attributes:
        fn: ``(*inputs) -> {output name: tensor}``, traceable (it calls hooks, not public methods).
        inputs: named ``tf.TensorSpec`` s of the inputs, batch axis ``None`` where there is one.
        stochastic: True when the outputs are fresh random draws at every call (``sample``):
            parity is checked on shapes, ranges and freshness, not values.
        probe: ``(model, x) -> {input name: array}``: the inputs of a parity check made from a
            batch of data ``x``; default ``{"x": x}``.
        tflite_skip: why this signature is left out of TFLite files (recorded in the sidecar's
            ``skipped``), or None: it is converted.
    """

    fn: Callable
    inputs: tuple
    stochastic: bool = False
    probe: Callable = None
    tflite_skip: Optional[str] = None


def _rows(batch):
    """The batch size of a checked batch (or structured code), None when it is not known (in a graph)."""
    rows = tf.nest.flatten(batch)[0].shape[0]
    return None if rows is None else int(rows)


def _network(layer, name):
    """A user's network argument: None or a Keras layer (or model), else ``ValueError``."""
    if layer is None or isinstance(layer, keras.layers.Layer):
        return layer
    raise ValueError(f"{name} must be a Keras layer or model (or None for the built-in network), "
                     f"got {type(layer).__name__}")


def _serialized(layer):
    return None if layer is None else keras.saving.serialize_keras_object(layer)


#: the defaults of the base arguments a family may declare unused (``UNUSED_ARGUMENTS``).
_BASE_DEFAULTS = {"latent_dim": None, "architecture": "mlp", "hidden_units": (256,), "filters": (32, 64),
                  "activation": "relu", "encoder": None, "decoder": None}


def _same_value(value, default):
    """Whether a caller's value is the default (a list equals the tuple of the same numbers)."""
    if isinstance(default, tuple) and isinstance(value, (tuple, list)):
        return tuple(value) == default
    if default is None or isinstance(value, keras.layers.Layer):
        return value is default
    return isinstance(value, str) and value == default


class BaseAutoencoder(_steps.TrainingLoop, keras.Model):
    """Base class: the model contract and the shared training step.

    Objective: minimise ``mean_i sum_k w_k * term_k(x_i)`` over the global batch, where the
    per-example terms come from ``_loss_terms`` and the weights from ``loss_weights``; terms that
    ``loss_weights`` leaves out are only reported.

    Args:
        input_shape: shape of one example, e.g. ``(64,)`` or ``(8, 8, 1)``.
        latent_dim: size of the code, >= 1 (required unless the family's ``UNUSED_ARGUMENTS``
            names it: then the code's size follows from the family's own arguments).
        architecture: ``"mlp"`` or ``"conv"`` network bodies, default ``"mlp"``.
        hidden_units: dense layer sizes of the encoder (the decoder mirrors them), default ``(256,)``.
        filters: convolution channels for ``architecture="conv"``, default ``(32, 64)`` (another
            value with ``architecture="mlp"`` is refused: it would not be used).
        activation: hidden non-linearity, default ``"relu"``.
        kernel_initializer: of every dense and convolutional layer (bodies and heads): a Keras
            initializer, its name or config. Default: PyTorch's default,
            ``VarianceScaling(1/3, "fan_in", "uniform")``, chosen by measurement
            (``keras_ae.layers.bodies.DEFAULT_KERNEL_INITIALIZER`` says how).
        encoder: your own encoder network instead of the built-in body: any Keras layer or model
            mapping data ``[B, *input_shape]`` to features ``[B, F]`` (the family's head turns
            them into the code or posterior). ``architecture``, ``hidden_units`` and ``filters``
            then do not apply to it. Saved in the config (it must be serializable).
        decoder: your own decoder network: any Keras layer or model mapping codes
            ``[B, latent_dim]`` to features, flat ``[B, F]`` or an image ``[B, H, W, C]`` of the
            data's height and width, that the family's output head turns into data parameters.
        seed: integer seed of all training noise (corruption, reparameterized samples); the same
            seed gives the same noise. Default: drawn at construction from NumPy's global
            generator (so ``keras.utils.set_random_seed`` fixes it) and stored in the config.
    """

    #: names of the per-example terms ``_loss_terms`` returns, each logged as a metric.
    TERMS = ("reconstruction",)
    #: ``{group name: objective terms}``: parameter groups with their own optimizer. Each group's
    #: objective is the sum of its terms (from ``_group_loss_terms``); every term is logged.
    PARAMETER_GROUPS = {}
    #: ``{base argument: why this family does not use it}``, for the arguments of this class's
    #: ``__init__`` (``latent_dim``, ``architecture``, ``hidden_units``, ``filters``,
    #: ``activation``, ``encoder``, ``decoder``) that a family does not use. ``__init__`` refuses
    #: any value but the default with a ``ValueError`` naming the argument, the value and the
    #: reason; ``get_config`` leaves them out. A family sets what it uses instead itself.
    UNUSED_ARGUMENTS = {}
    #: whether data must lie in [0, 1]; families set it from their likelihood.
    unit_interval_data = False
    #: the likelihood named in range errors (``"bernoulli"``, ...), or None.
    data_likelihood = None
    #: whether the model generates: then ``sample(n, seed)`` and the exported ``sample`` exist.
    is_generative = False
    #: whether the model has a posterior and importance weights (``log_likelihood`` works).
    is_probabilistic = False
    #: whether ``decode`` draws (an autoregressive or sampled decoder): then the exported
    #: ``decode`` and ``reconstruct`` are stochastic.
    stochastic_decoder = False
    #: the kernel initializer when none is given: PyTorch's, chosen by measurement
    #: (``keras_ae.layers.bodies.DEFAULT_KERNEL_INITIALIZER`` has the figures); a family whose
    #: own measurement favours another sets it, with the figures in its docstring.
    default_kernel_initializer = DEFAULT_KERNEL_INITIALIZER
    #: whether ``jit_compile`` may be chosen for this model's train step. False for models whose
    #: loss differentiates inside the step (Jacobian, gradient penalty): XLA compilation of their
    #: train step did not finish in 200 s on this project's 2-core CPU.
    supports_xla = True

    # -- declared capabilities: what a tool may ask of a model (read them, never probe) ----------
    #: whether the condition is needed by the methods on data (``encode``, ``reconstruct``,
    #: ``score``, ``encode_outputs``, ``posterior``); False when the model infers it from ``x``
    #: (the semi-supervised models). Meaningful only for a conditional model (``condition_spec``).
    condition_required = False
    #: whether ``importance_samples``/``log_likelihood`` without the condition marginalise it under
    #: its prior (``log p(x) = log sum_y p(y) p(x|y)``); False: a conditional model needs it there.
    marginalizes_condition = False
    #: whether ``classify(x)`` gives ``q(y|x)`` over ``num_classes`` labels.
    can_classify = False
    #: whether ``canvas_sequence(z)`` and ``sample_sequence(n, seed)`` show the decoder's steps (DRAW).
    has_step_outputs = False
    #: whether ``feature_points(x)`` gives ``[B, K, 2]`` image positions (the deep spatial autoencoder).
    has_feature_points = False
    #: whether ``exact_log_likelihood(x)`` gives ``log p(x)`` exactly (MADE, PixelCNN).
    has_exact_likelihood = False
    #: the names of the stochastic layers of a hierarchy (``("z1", "z2")``), bottom to top; empty
    #: for one layer. A model with them has ``posterior_layer_means(x)`` and ``kl_per_layer(q)``.
    latent_layer_names = ()
    #: the classes of a label condition or of ``classify`` (read it through ``capabilities()``,
    #: which gives None for a model with neither: a family may use the name for something else).
    num_classes = None
    #: the constructor argument that takes the trained model of a first stage (a prior over a
    #: VQ-VAE's codes: ``"autoencoder"``), or None: the model trains from data alone.
    previous_stage = None

    def __init__(self, input_shape, latent_dim=None, architecture="mlp", hidden_units=(256,), filters=(32, 64),
                 activation="relu", kernel_initializer=None, encoder=None, decoder=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self._refuse_unused_arguments(dict(latent_dim=latent_dim, architecture=architecture, hidden_units=hidden_units,
                                           filters=filters, activation=activation, encoder=encoder, decoder=decoder))
        unused = self.UNUSED_ARGUMENTS
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        self.data_shape = _checks.check_int_sequence(input_shape, "input_shape")
        self.latent_dim = None if "latent_dim" in unused else _checks.check_positive_int(latent_dim, "latent_dim")
        self.architecture = None if "architecture" in unused else architecture
        self.hidden_units = () if "hidden_units" in unused else _checks.check_int_sequence(hidden_units,
                                                                                            "hidden_units")
        self.filters = () if "filters" in unused else _checks.check_int_sequence(filters, "filters")
        if architecture == "mlp" and "architecture" not in unused and self.filters != _BASE_DEFAULTS["filters"]:
            raise ValueError(f"{type(self).__name__} does not use filters (got {self.filters}) with "
                             f"architecture='mlp': filters are the channels of architecture='conv'")
        self.activation = None if "activation" in unused else activation
        self.kernel_initializer = kernel_initializer_config(
            self.default_kernel_initializer if kernel_initializer is None else kernel_initializer)
        # The user's networks, held untracked until make_*_body hands them over (Keras tracks them there).
        object.__setattr__(self, "_given_networks", {"encoder": _network(encoder, "encoder"),
                                                     "decoder": _network(decoder, "decoder")})
        if seed is None:
            seed = samplers.fresh_seed()
        self.seed = _checks.check_seed(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        group_terms = [t for terms in self.PARAMETER_GROUPS.values() for t in terms]
        self.term_trackers = [keras.metrics.Mean(name=term) for term in tuple(self.TERMS) + tuple(group_terms)]
        self._group_optimizers = {}
        self._schedules = {}

    # -- construction helpers ---------------------------------------------------------------
    def _refuse_unused_arguments(self, given):
        """``ValueError`` for a base argument in ``UNUSED_ARGUMENTS`` given a value other than its default."""
        for name, reason in self.UNUSED_ARGUMENTS.items():
            if name not in _BASE_DEFAULTS:
                raise TypeError(f"{type(self).__name__}.UNUSED_ARGUMENTS names {name!r}, not an argument of "
                                f"BaseAutoencoder ({', '.join(_BASE_DEFAULTS)})")
            value = given[name]
            if not _same_value(value, _BASE_DEFAULTS[name]):
                shown = type(value).__name__ if isinstance(value, keras.layers.Layer) else repr(value)
                raise ValueError(f"{type(self).__name__} does not use {name} (got {shown}): {reason}")

    def make_encoder_body(self, activation=None):
        """The encoder network: the user's ``encoder`` if given, else the built-in body."""
        if self._given_networks["encoder"] is not None:
            return self._given_networks["encoder"]
        return EncoderBody(self.data_shape, self.architecture, self.hidden_units, self.filters,
                           activation=self.activation if activation is None else activation,
                           kernel_initializer=self.kernel_initializer, name="encoder_body")

    def make_decoder_body(self, activation=None):
        """The decoder network: the user's ``decoder`` if given, else the built-in body."""
        if self._given_networks["decoder"] is not None:
            return self._given_networks["decoder"]
        return DecoderBody(self.data_shape, self.architecture, self.hidden_units, self.filters,
                           activation=self.activation if activation is None else activation,
                           kernel_initializer=self.kernel_initializer, name="decoder_body")

    def get_config(self):
        config = super().get_config()
        config.update(
            input_shape=list(self.data_shape),
            latent_dim=self.latent_dim,
            architecture=self.architecture,
            hidden_units=list(self.hidden_units),
            filters=list(self.filters),
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
            encoder=_serialized(self._given_networks["encoder"]),
            decoder=_serialized(self._given_networks["decoder"]),
            seed=self.seed,
        )
        for name in self.UNUSED_ARGUMENTS:
            config.pop(name)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        for key in ("encoder", "decoder"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @classmethod
    def from_preset(cls, preset: Union[str, os.PathLike], **overrides) -> "BaseAutoencoder":
        """A model from a zoo recipe name (built and compiled), a run directory or a ``.keras`` file.

        ``VAE.from_preset("vae-mnist")`` is the recipe's architecture, compiled with its learning
        rate; ``VAE.from_preset("runs/vae-mnist")`` is the model that run trained. See
        :func:`keras_ae.presets.from_preset`; ``python -m zoo list`` lists the recipe names.
        """
        from keras_ae import presets

        model = presets.from_preset(cls, preset, **overrides)
        if not isinstance(model, cls):
            raise ValueError(f"preset {preset!r} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    # -- specs ------------------------------------------------------------------------------
    @property
    def data_spec(self):
        """``tf.TensorSpec`` of one example (no batch axis)."""
        return tf.TensorSpec(self.data_shape, tf.float32, name="x")

    @property
    def code_spec(self):
        """``tf.TensorSpec`` of one code (no batch axis): a flat float vector unless a family says otherwise.

        A family whose code has several parts returns ``{name: tf.TensorSpec}`` (``VQVAE2``: the
        ``top`` and ``bottom`` index grids); its ``encode`` returns and its ``decode`` takes a
        dict with those keys, and the exported ``decode`` has one input per part, named by its key.
        """
        return tf.TensorSpec((self.latent_dim,), tf.float32, name="z")

    def batch_extras_spec(self):
        """``{name: tf.TensorSpec of one example}`` of the batch entries besides ``x`` that the loss needs.

        A family that trains on labels returns e.g. ``{"y": tf.TensorSpec((), tf.int32)}``; the
        base class then requires them in every batch (``(x, y)`` or a dict) and passes them to
        ``_loss_terms`` as keyword arguments. Default: none.
        """
        return {}

    # -- capabilities -------------------------------------------------------------------------
    @property
    def condition_spec(self) -> Dict[str, tf.TensorSpec]:
        """``{name: tf.TensorSpec of one example}`` of the condition every public method takes as keywords.

        Default ``{}``: the model is not conditional. A conditional family (``ConditionalVAE``:
        ``{"y": ...}``) declares it; the public methods then take ``**condition`` (``decode(z,
        y=labels)``), validated once by :meth:`check_condition`.
        """
        return {}

    @property
    def is_conditional(self) -> bool:
        """Whether the model takes a condition (``bool(condition_spec)``)."""
        return bool(self.condition_spec)

    def schedulable_variables(self) -> tuple:
        """Names of the model's non-trainable scalar variables a schedule may set (``kl_weight``, ``temperature``)."""
        return tuple(sorted(name for name, value in vars(self).items()
                            if isinstance(value, keras.Variable) and not value.trainable and len(value.shape) == 0))

    def schedule_variable(self, name: str, tool: str):
        """The variable ``name`` of :meth:`schedulable_variables`, or ``ValueError`` naming it and ``tool``."""
        names = self.schedulable_variables()
        if name not in names:
            raise ValueError(f"{type(self).__name__} does not declare the schedulable variable {name!r} "
                             f"(needed by {tool}); it has {list(names)}")
        return vars(self)[name]

    def capabilities(self) -> dict:
        """Everything a tool may ask of this model, as declared (tools read this, never probe the model).

        ``is_generative``, ``is_probabilistic`` (posterior and importance weights),
        ``is_conditional``, ``condition_spec`` (``{name: TensorSpec}``), ``condition_required``,
        ``marginalizes_condition``, ``num_classes`` (of a label condition or classifier, else
        None), ``can_classify``, ``latent_layer_names``, ``has_step_outputs``,
        ``has_feature_points``, ``data_likelihood``, ``has_exact_likelihood``,
        ``stochastic_decoder``, ``unit_interval_data``, ``export_endpoints`` (the names of the
        export signatures), ``schedulable_variables`` and ``parts`` (``{kind: part class name}``
        of a model composed of parts, e.g. ``{"posterior": "GaussianPosterior", ...}``; empty otherwise).
        """
        conditional = self.is_conditional
        return {
            "is_generative": bool(self.is_generative),
            "is_probabilistic": bool(self.is_probabilistic),
            "is_conditional": conditional,
            "condition_spec": dict(self.condition_spec),
            "condition_required": bool(self.condition_required) if conditional else False,
            "marginalizes_condition": bool(self.marginalizes_condition) if conditional else False,
            "num_classes": self.num_classes if (conditional or self.can_classify) else None,
            "can_classify": bool(self.can_classify),
            "latent_layer_names": tuple(self.latent_layer_names),
            "has_step_outputs": bool(self.has_step_outputs),
            "has_feature_points": bool(self.has_feature_points),
            "data_likelihood": self.data_likelihood,
            "has_exact_likelihood": bool(self.has_exact_likelihood),
            "stochastic_decoder": bool(self.stochastic_decoder),
            "unit_interval_data": bool(self.unit_interval_data),
            "export_endpoints": tuple(self.export_endpoints()),
            "schedulable_variables": self.schedulable_variables(),
            "parts": self._part_kinds(),
        }

    def _part_kinds(self):
        """``{kind: part class name}`` of a model composed of parts (see ``capabilities``); none by default."""
        return {}

    def require(self, capability: str, tool: str, value=None) -> None:
        """``ValueError("<Model> does not declare <capability> (needed by <tool>)")`` unless it is declared.

        Args:
            capability: a key of :meth:`capabilities`; declared means true (a non-empty name list,
                a number of classes, a likelihood name).
            tool: what needs it, for the message (``"sample_grid"``, ``"zoo search"``, ...).
            value: the value the tool needs (``require("data_likelihood", "bits-back", "bernoulli")``),
                or None: any declared value.
        """
        declared = self.capabilities()
        if capability not in declared:
            raise ValueError(f"no capability {capability!r}: the capabilities are {sorted(declared)}")
        have = declared[capability]
        if value is None and (have is None or have is False or (hasattr(have, "__len__") and not len(have))):
            raise ValueError(f"{type(self).__name__} does not declare {capability} (needed by {tool})")
        if value is not None and have != value:
            raise ValueError(f"{type(self).__name__} does not declare {capability}={value!r} (needed by {tool}); "
                             f"it declares {capability}={have!r}")

    #: whether ``build`` also runs the reconstruction path (for layers only it uses). A family whose
    #: loss builds every layer and whose reconstruction is costly sets it False: PixelVAE draws its
    #: 784 pixels one by one there (65.8 CPU s of pixelvae-mnist's build).
    BUILD_RECONSTRUCTS = True

    def build(self, input_shape=None):
        """Create every weight by running the training path once on a zero batch."""
        if self.built:
            return
        x = tf.zeros((2,) + self.data_shape, self.data_spec.dtype)
        extras = {k: tf.zeros((2,) + tuple(s.shape), s.dtype) for k, s in self.batch_extras_spec().items()}
        # Weights must live in the strategy the model was created under, even when fit() or
        # load_model() triggers the build outside its scope.
        self._propagate_dtype_policy()
        with self.distribute_strategy.scope():
            self._loss_terms(x, training=False, **extras)
            for group in self.PARAMETER_GROUPS:
                self._group_loss_terms(group, x, training=False, **extras)
            if self.BUILD_RECONSTRUCTS:
                self._reconstruct(x)
        self._forget_build_batch_size()
        self.built = True

    def _propagate_dtype_policy(self):
        """Give the model's dtype policy (``dtype=``, e.g. ``"mixed_float16"``) to every inner layer.

        Keras gives a layer the global policy unless it is told otherwise, so without this a
        ``VAE(..., dtype="mixed_float16")`` would compute in float32 inside. Layers whose policy
        was set to something other than the global one (a user's own network) keep theirs.
        """
        policy = self.dtype_policy
        default = keras.config.dtype_policy()
        if policy.name == default.name:
            return
        for layer in self._flatten_layers(include_self=False):
            if layer.dtype_policy.name == default.name and not layer.built:
                layer.dtype_policy = policy

    def _forget_build_batch_size(self):
        """Record an unknown batch size in the layers' build shapes (``summary()`` shows ``None``).

        ``build`` runs a zero batch of 2 examples, and each layer records the shape it was built
        with; the batch axis of a model is not fixed, so it is recorded as ``None``, as a
        functional model does.
        """
        for layer in self._flatten_layers(include_self=False):
            shapes = getattr(layer, "_build_shapes_dict", None)
            if not shapes:
                continue
            layer._build_shapes_dict = {
                key: (None,) + tuple(shape[1:]) if isinstance(shape, (tuple, list)) and len(shape) > 0
                and shape[0] == 2 else shape
                for key, shape in shapes.items()}

    # -- public methods: validate, then call the hook ------------------------------------------
    def check_inputs(self, x, name="x"):
        """Validate a data batch when running eagerly (shape, NaN/inf, range); cast to the data dtype."""
        return _checks.check_batch(x, self.data_spec, name, (0.0, 1.0) if self.unit_interval_data else None,
                                   f"a {self.data_likelihood} likelihood" if self.data_likelihood else None)

    def check_codes(self, z, name="z"):
        """Validate a code batch ``[B, *code_spec.shape]`` when running eagerly."""
        return _checks.check_batch(z, self.code_spec, name)

    def check_extras(self, extras):
        """Validate the extra batch entries the loss needs (labels, ...) against ``batch_extras_spec``."""
        specs = self.batch_extras_spec()
        unknown = sorted(set(extras) - set(specs))
        if unknown:
            raise ValueError(f"{type(self).__name__} takes no batch entries {unknown}; it takes {sorted(specs)}")
        missing = sorted(set(specs) - set(extras))
        if missing:
            raise ValueError(f"{type(self).__name__} needs the batch entries {missing} (a tuple (x, y) or a dict)")
        return {k: _checks.check_batch(v, specs[k], k) for k, v in extras.items()}

    #: how each public method taking the condition treats a missing one: "data" (needed when
    #: ``condition_required``: the model may infer it from ``x``), "codes" (always needed: a code
    #: does not carry its condition), "default" (the family's defaults, e.g. cycling the classes),
    #: "marginal" (marginalised under its prior when ``marginalizes_condition``, else needed).
    CONDITION_USE = {"encode": "data", "encode_outputs": "data", "reconstruct": "data", "score": "data",
                     "posterior": "data", "decode": "codes", "likelihood": "codes", "sample": "default",
                     "importance_samples": "marginal", "log_importance_weights": "marginal",
                     "log_likelihood": "marginal"}

    def describe_condition(self) -> str:
        """The condition in words, for messages: ``"y: int labels in [0, 10)"``; a family may say more."""
        return ", ".join(f"{name}: {spec.dtype.name} of shape {tuple(spec.shape)}"
                         for name, spec in self.condition_spec.items())

    def condition_range(self, name):
        """``(low, high, reason)`` the values of condition ``name`` must lie in, or None (any value)."""
        return None

    def check_condition(self, condition: Dict[str, ArrayLike], batch: Optional[int] = None,
                        method: str = "log_likelihood") -> Dict[str, tf.Tensor]:
        """Validate the conditioning keywords of a public method once; the hooks get them checked.

        A model that is not conditional takes none (``ValueError`` naming them); a conditional one
        takes the names of ``condition_spec``, each a batch ``[B, *spec.shape]`` of ``batch``
        rows; whether a missing one is an error depends on the method (:attr:`CONDITION_USE`) and
        the declarations ``condition_required`` and ``marginalizes_condition``.

        Returns:
            ``{name: tensor}`` of the conditions given (a missing optional one is left out, and
            the hook's default applies: inferred, cycled or marginalised).
        """
        name = type(self).__name__
        specs = self.condition_spec
        given = {k: v for k, v in condition.items() if v is not None}
        if not specs:
            if condition:
                raise ValueError(f"{name} is not conditional: {name}.{method} takes no {sorted(condition)}")
            return {}
        unknown = sorted(set(condition) - set(specs))
        if unknown:
            raise ValueError(f"{name}.{method} takes the condition {sorted(specs)}, got {unknown}")
        missing = sorted(set(specs) - set(given))
        use = self.CONDITION_USE.get(method, "codes")
        needed = {"data": self.condition_required, "codes": True, "default": False,
                  "marginal": not self.marginalizes_condition}[use]
        if missing and needed:
            why = {"codes": ": a code does not carry its condition",
                   "marginal": ": it has no prior over its condition to marginalise (marginalizes_condition)"}
            raise ValueError(f"{name}.{method} needs the condition {', '.join(missing)} ({self.describe_condition()})"
                             + why.get(use, ""))
        checked = {}
        for key, value in given.items():
            bounds = self.condition_range(key)
            value = _checks.check_batch(value, specs[key], key, None if bounds is None else bounds[:2],
                                        None if bounds is None else bounds[2])
            if tf.executing_eagerly() and batch is not None and int(value.shape[0]) != batch:
                raise ValueError(f"{key} has {int(value.shape[0])} conditions for {batch} examples")
            checked[key] = value
        return checked

    def encode(self, x: ArrayLike, **condition: ArrayLike) -> tf.Tensor:
        """Data ``[B, *input_shape]`` -> code ``[B, *code_spec.shape]`` (the posterior mean if probabilistic).

        ``condition``: a conditional model's condition (``y=...``, see ``condition_spec``).
        """
        x = self.check_inputs(x)
        return self._encode(x, **self.check_condition(condition, _rows(x), "encode"))

    def decode(self, z: ArrayLike, seed: Optional[int] = None, **condition: ArrayLike) -> tf.Tensor:
        """Code -> reconstruction in data space: the mean of p(x|z), or a draw for a stochastic decoder.

        Args:
            z: codes ``[B, *code_spec.shape]``.
            seed: integer seed of a stochastic decoder's draw (same seed, same output); ignored
                by deterministic decoders. Default None: fresh noise.
            condition: a conditional model's condition for each code (``y=...``); always needed
                there, since a code does not carry it.
        """
        z = self.check_codes(z)
        _checks.check_seed(seed)
        condition = self.check_condition(condition, _rows(z), "decode")
        return self._decode(z, seed=None if seed is None else samplers.sampling_seed(seed), **condition)

    def reconstruct(self, x: ArrayLike, **condition: ArrayLike) -> tf.Tensor:
        """``decode(encode(x))``: the reconstruction of a checked batch (given its condition, if any)."""
        x = self.check_inputs(x)
        return self._reconstruct(x, **self.check_condition(condition, _rows(x), "reconstruct"))

    def score(self, x: ArrayLike, **condition: ArrayLike) -> tf.Tensor:
        """Per-example anomaly score ``[B]`` (larger is more anomalous).

        Huge finite input that overflows float32 scores ``+inf``, never NaN
        (:func:`keras_ae.objectives.worst_score_on_overflow`), as in the exported signature.
        """
        x = self.check_inputs(x)
        score = self._score(x, **self.check_condition(condition, _rows(x), "score"))
        return objectives.worst_score_on_overflow(score)

    def encode_outputs(self, x: ArrayLike, **condition: ArrayLike) -> Dict[str, tf.Tensor]:
        """Named outputs of the ``encode`` signature: ``{"code": ...}`` plus a family's posterior parameters."""
        x = self.check_inputs(x)
        return self._encode_outputs(x, **self.check_condition(condition, _rows(x), "encode_outputs"))

    def loss_terms(self, x: ArrayLike, training: bool = False, **extras: ArrayLike) -> Dict[str, tf.Tensor]:
        """Per-example loss terms ``{name: [B]}`` of a checked batch (and its extras, e.g. ``y``)."""
        return self._loss_terms(self.check_inputs(x), training=training, **self.check_extras(extras))

    def posterior(self, x: ArrayLike, **condition: ArrayLike) -> tfd.Distribution:
        """``q(z|x)``: a ``tfd`` distribution with batch ``[B]`` and event ``code_spec.shape``."""
        self.require("is_probabilistic", "posterior")
        x = self.check_inputs(x)
        return self._posterior(x, **self.check_condition(condition, _rows(x), "posterior"))

    def likelihood(self, z: ArrayLike, **condition: ArrayLike) -> tfd.Distribution:
        """``p(x|z)``: a ``tfd`` distribution with batch ``[B]`` and event ``input_shape``."""
        self.require("is_probabilistic", "likelihood")
        z = self.check_codes(z)
        return self._likelihood(z, **self.check_condition(condition, _rows(z), "likelihood"))

    def prior(self) -> tfd.Distribution:
        """``p(z)``: the model's prior, a ``tfd`` distribution over codes (with trainable weights if learned)."""
        self.require("is_generative", "prior")
        return self._prior()

    def sample(self, n: int, seed: Optional[int] = None, temperature: float = 1.0,
               **condition: ArrayLike) -> tf.Tensor:
        """``n`` generated examples ``[n, *input_shape]``; the same ``(seed, temperature)``, the same samples.

        The noise is counter-based (:mod:`keras_ae.counter_noise`): the exported ``sample_seeded``
        gives the same numbers from the same ``(n, seed, temperature)`` in a SavedModel and in a
        float32 ``.tflite`` file (to 1e-5).

        Args:
            n: number of examples, >= 0.
            seed: integer seed >= 0; default None: a fresh one.
            temperature: finite, > 0, default 1.0 (the model's distribution). Continuous priors
                scale their standard noise by it, categorical and autoregressive draws divide
                their logits by it (the family's docs say what exactly); below 1 the samples
                concentrate on the likely ones.
            condition: a conditional model's condition for each of the ``n`` examples (default:
                the family's, e.g. cycling through the classes).
        """
        self.require("is_generative", "sample")
        n = _checks.check_integer(n, "n", minimum=0)
        _checks.check_seed(seed)
        temperature = samplers.check_temperature(temperature)
        return self._sample(n, samplers.sampling_seed(seed), temperature,
                            **self.check_condition(condition, n, "sample"))

    def classify(self, x: ArrayLike) -> Dict[str, tf.Tensor]:
        """``q(y | x)`` of a model that declares ``can_classify``: ``{"probabilities": [B, K], "label": [B]}``."""
        self.require("can_classify", "classify")
        return self._classify(self.check_inputs(x))

    def exact_log_likelihood(self, x: ArrayLike) -> tf.Tensor:
        """``log p(x)`` per example ``[B]``, exact (nats), of a model that declares ``has_exact_likelihood``."""
        self.require("has_exact_likelihood", "exact_log_likelihood")
        return self._log_prob(self.check_inputs(x))

    def canvas_sequence(self, z: ArrayLike) -> tf.Tensor:
        """The decoder's output after each step for codes ``z``: ``[B, T, *input_shape]`` (``has_step_outputs``).

        The last step is ``decode(z)``; ``canvas_sequence(encode(x))`` shows how the model draws
        its reconstruction of ``x``.
        """
        self.require("has_step_outputs", "canvas_sequence")
        return self._canvas_sequence(self.check_codes(z))

    def sample_sequence(self, n: int, seed: Optional[int] = None) -> tf.Tensor:
        """The generation sequence of ``n`` prior draws ``[n, T, *input_shape]``; its last step is
        ``sample(n, seed)`` (``has_step_outputs``)."""
        self.require("has_step_outputs", "sample_sequence")
        n = _checks.check_integer(n, "n", minimum=0)
        _checks.check_seed(seed)
        return self._canvas_sequence(self._prior_codes(n, samplers.sampling_seed(seed)))

    def feature_points(self, x: ArrayLike) -> tf.Tensor:
        """Image positions ``[B, K, 2]`` (``(x, y)`` in [-1, 1]) of a model that declares ``has_feature_points``."""
        self.require("has_feature_points", "feature_points")
        return self._feature_points(self.check_inputs(x))

    def posterior_layer_means(self, x: ArrayLike, num_samples: int = 64, seed: int = 0) -> Dict[str, tf.Tensor]:
        """``{layer: E_q[z_layer | x] [B, d_layer]}`` of a hierarchy (``latent_layer_names``).

        Monte Carlo over ``num_samples`` posterior draws for a layer drawn given others, from ``seed``
        (default 64: ``keras_ae.models.hierarchical.hierarchical.ACTIVITY_SAMPLES``).
        """
        self.require("latent_layer_names", "posterior_layer_means")
        x = self.check_inputs(x)
        num_samples = _checks.check_positive_int(num_samples, "num_samples")
        _checks.check_seed(seed)
        return self._posterior_layer_means(x, num_samples, samplers.stateless_seed(seed))

    def importance_samples(self, x: ArrayLike, num_samples: int = 1, seed: Optional[int] = None,
                           **condition: ArrayLike) -> "ImportanceSamples":
        """The importance-weight record of ``num_samples`` draws ``z_s ~ q(z|x)`` for a batch.

        Returns a :class:`keras_ae.objectives.ImportanceSamples`: ``log p(x|z_s)``, ``log p(z_s)``,
        ``log q(z_s|x)`` (each ``[k, B]``), the posterior and the draws. Every estimator (IS-NLL,
        the IWAE bound, the ELBO in evaluation) reads this one record.

        Args:
            x: a batch ``[B, *input_shape]``.
            num_samples: ``k`` >= 1, default 1.
            seed: integer seed (default: the model's ``seed``); the same seed, the same draws.
            condition: a conditional model's condition (``y=``), checked by ``check_condition``;
                left out, a model that ``marginalizes_condition`` draws it with ``z``.
        """
        self.require("is_probabilistic", "importance_samples")
        x = self.check_inputs(x)
        condition = self.check_condition(condition, _rows(x), "importance_samples")
        k = _checks.check_positive_int(num_samples, "num_samples")
        _checks.check_seed(seed)
        return self._importance_samples(x, k, samplers.stateless_seed(self.seed if seed is None else seed), **condition)

    def log_importance_weights(self, x: ArrayLike, num_samples: int = 1, seed: Optional[int] = None,
                               **condition: ArrayLike) -> tf.Tensor:
        """``log p(x, z_s) - log q(z_s | x)`` for ``num_samples`` draws ``z_s ~ q(z|x)``: ``[k, B]``."""
        return self.importance_samples(x, num_samples, seed, **condition).log_weights()

    def log_likelihood(self, x: ArrayLike, num_samples: int = 1000, seed: Optional[int] = None,
                       chunk_size: Optional[int] = None, method: str = "importance", ais_steps: int = 1000,
                       ais_start: str = "prior", **condition: ArrayLike) -> tf.Tensor:
        """Estimated ``log p(x)`` per example ``[B]``: importance sampling (default) or annealed importance sampling.

        ``method="importance"`` (Burda et al. 2015, eq. 12): ``log p(x) ~ log (1/k) sum_s p(x|z_s)
        p(z_s) / q(z_s|x)``, ``z_s ~ q(z|x)``: a stochastic lower bound whose expectation rises to
        ``log p(x)`` as ``k`` grows. The ``k`` samples are drawn in chunks of ``chunk_size``
        (default: at most 16384 decoded examples per chunk) and combined with a running
        log-sum-exp, so memory stays bounded for any ``k``.

        ``method="ais"`` (Neal 2001; Wu et al. 2017): ``k`` annealed importance sampling chains of
        ``ais_steps`` HMC transitions from ``ais_start`` (``"prior"`` or ``"posterior"``, the
        encoder's ``q(z|x)``) to ``p(x, z)``; also a stochastic lower bound, tight as the steps
        grow, for models with continuous codes (see :mod:`keras_ae.evaluation.ais`).

        Args:
            x: a batch ``[B, *input_shape]``.
            num_samples: ``k`` >= 1 (samples, or AIS chains), default 1000.
            seed: integer seed (default: the model's ``seed``); the same seed, the same estimate.
            chunk_size: samples per chunk (importance sampling), default from the batch size.
            method: ``"importance"`` (default) or ``"ais"`` (not for conditional families).
            ais_steps: AIS transitions, default 1000.
            ais_start: the AIS initial distribution, ``"prior"`` (default) or ``"posterior"``.
            condition: a conditional model's condition (``y=``): then ``log p(x | y)``.
        """
        self.require("is_probabilistic", "log_likelihood")
        x = self.check_inputs(x)
        condition = self.check_condition(condition, _rows(x), "log_likelihood")
        k = _checks.check_positive_int(num_samples, "num_samples")
        _checks.check_seed(seed)
        method = _checks.check_choice(method, "method", ("importance", "ais"))
        if method == "ais":
            if self.is_conditional:
                raise ValueError(f"{type(self).__name__} is conditional, and log_likelihood(method='ais') anneals "
                                 "to p(x, z) without a condition; use method='importance'")
            steps = _checks.check_positive_int(ais_steps, "ais_steps")
            start = _checks.check_choice(ais_start, "ais_start", ("prior", "posterior"))
            return self._ais_log_likelihood(x, k, steps, start, samplers.stateless_seed(self.seed if seed is None
                                                                                          else seed))
        batch = _rows(x)
        if chunk_size is None:
            chunk_size = max(1, min(k, DECODED_PER_CHUNK // max(batch, 1)))
        chunk_size = _checks.check_positive_int(chunk_size, "chunk_size")
        base_seed = samplers.stateless_seed(self.seed if seed is None else seed)
        total = None
        for i, start in enumerate(range(0, k, chunk_size)):
            n = min(chunk_size, k - start)
            record = self._importance_samples(x, n, samplers.fold_seed(base_seed, i), **condition)
            chunk = tf.reduce_logsumexp(record.log_weights(), axis=0)
            total = chunk if total is None else tf.reduce_logsumexp(tf.stack([total, chunk]), axis=0)
        return total - tf.math.log(float(k))

    # -- hooks: a family overrides these ------------------------------------------------------
    def _encode(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement _encode")

    def _decode(self, z, seed=None):
        raise NotImplementedError(f"{type(self).__name__} must implement _decode")

    # A conditional family's hooks take the checked condition as keyword arguments (``y=``); a
    # family that is not conditional is never passed any, so its hooks need not take them.
    def _reconstruct(self, x, **condition):
        return self._decode(self._encode(x, **condition), **condition)

    def _score(self, x, **condition):
        """Default score: the reconstruction term in evaluation mode."""
        return self._loss_terms(x, training=False, **condition)["reconstruction"]

    def _encode_outputs(self, x, **condition):
        return {"code": self._encode(x, **condition)}

    def _loss_terms(self, x, training=False, **extras):
        """Per-example loss terms ``{name: [B] tensor}`` for the names in ``TERMS``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _loss_terms")

    def _group_loss_terms(self, group, x, training=False, **extras):
        """Per-example terms ``{name: [B]}`` of a parameter group's objective (``PARAMETER_GROUPS``)."""
        raise NotImplementedError(f"{type(self).__name__} declares group {group!r} but no _group_loss_terms")

    def parameter_group_variables(self, group):
        """The trainable variables a parameter group's optimizer updates (the main optimizer never does)."""
        raise NotImplementedError(f"{type(self).__name__} declares group {group!r} but no variables for it")

    def _non_gradient_updates(self, x, sample_weight, **extras):
        """Updates that are not gradient steps (e.g. EMA codebooks), run after them in ``train_step``.

        ``sample_weight`` ``[B]`` holds the examples' weights, None when the batch has none: an
        update that averages over the batch weights each example by it, as the loss does.
        """
        return None

    def _posterior(self, x):
        raise NotImplementedError

    def _likelihood(self, z):
        raise NotImplementedError

    def _prior(self):
        raise NotImplementedError

    def _prior_codes(self, n, seed, temperature=1.0):
        """``n`` codes ``[n, *code_spec.shape]`` from the prior at ``temperature``, from a
        :class:`~keras_ae.samplers.CounterSeed` (the samplers of :mod:`keras_ae.samplers` only, so
        the exported ``sample`` converts to TFLite and matches Keras). A generative family gives it."""
        raise NotImplementedError(f"{type(self).__name__} declares is_generative but no _prior_codes")

    def _sample(self, n, seed, temperature=1.0, **condition):
        """``n`` decoded prior draws from a :class:`~keras_ae.samplers.CounterSeed` (``n`` and
        ``temperature`` may be tensors: the exported ``sample``); a stochastic decoder draws with its fold."""
        decode_seed = samplers.fold_seed(seed, 1) if self.stochastic_decoder else None
        return self._decode(self._prior_codes(n, seed, temperature), seed=decode_seed, **condition)

    def _importance_samples(self, x, num_samples, seed, training=False):
        """The importance-weight record (:class:`keras_ae.objectives.ImportanceSamples`) of ``k`` draws."""
        raise NotImplementedError

    def _classify(self, x):
        """``{"probabilities": q(y|x) [B, K], "label": [B]}`` of a model that declares ``can_classify``."""
        raise NotImplementedError(f"{type(self).__name__} declares can_classify but no _classify")

    def _log_prob(self, x):
        """Exact ``log p(x)`` ``[B]`` of a model that declares ``has_exact_likelihood``."""
        raise NotImplementedError(f"{type(self).__name__} declares has_exact_likelihood but no _log_prob")

    def _canvas_sequence(self, z):
        """The outputs after each decoder step ``[B, T, *input_shape]`` (``has_step_outputs``)."""
        raise NotImplementedError(f"{type(self).__name__} declares has_step_outputs but no _canvas_sequence")

    def _feature_points(self, x):
        """Feature points ``[B, K, 2]`` of a model that declares ``has_feature_points``."""
        raise NotImplementedError(f"{type(self).__name__} declares has_feature_points but no _feature_points")

    def _posterior_layer_means(self, x, num_samples, seed):
        """``{layer: [B, d]}`` posterior means per stochastic layer (``latent_layer_names``), stateless ``seed``."""
        raise NotImplementedError(f"{type(self).__name__} declares latent_layer_names but no _posterior_layer_means")

    def _ais_log_likelihood(self, x, num_chains, num_steps, start, seed):
        """AIS estimate of ``log p(x)`` ``[B]`` (:mod:`keras_ae.evaluation.ais`); families with continuous codes
        implement it."""
        raise ValueError(f"{type(self).__name__} does not support method='ais': annealed importance sampling "
                         "moves continuous codes by Hamiltonian Monte Carlo")

    def post_fit(self, x_train: ArrayLike, seed: int = 0) -> None:
        """Hook run once after ``fit`` on the training data (e.g. an ex-post code density); default: nothing.

        Args:
            x_train: the training data ``[N, *input_shape]`` (array or ``tf.data.Dataset``).
            seed: integer seed of any randomness in the hook.
        """
        return None

    def call(self, x, training=False):
        return self._reconstruct(x)

    def loss_weights(self):
        """``{term: weight}`` of the terms that make the objective; default: each term, weight 1."""
        return {term: 1.0 for term in self.TERMS}

    # -- export ------------------------------------------------------------------------------
    def export(self, filepath: str, format: str = "tf_saved_model", verbose: Optional[bool] = None,
               input_signature=None, **kwargs) -> str:
        """Keras's ``model.export``, with this model's own serving signatures.

        ``format="tf_saved_model"`` (default): a SavedModel at ``filepath`` with every signature
        of ``export_endpoints()`` (``encode``, ``decode``, ``reconstruct`` = ``serving_default``,
        ``score``, and ``sample`` for generative models), loadable by TF Serving and by
        ``tf.saved_model.load`` in a process without keras_ae. ``format="litert"``: a
        builtin-ops ``.tflite`` file with every signature and its JSON sidecar; ``kwargs`` take
        ``quantization`` and ``representative_data`` (see ``keras_ae.serving.export_tflite``).
        The file or folder is written under a temporary name and renamed when complete; an
        existing ``filepath`` is refused (nothing is overwritten). ``input_signature`` is fixed
        by the model (``data_spec``/``code_spec``) and must be left out.
        """
        from keras_ae import serving
        from keras_ae.training.atomic import atomic_directory

        if input_signature is not None:
            raise ValueError(f"{type(self).__name__}.export takes no input_signature: the signatures are "
                             f"the model's own ({', '.join(serving.signature_names(self))})")
        if os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists; export to a new path (nothing is overwritten)")
        self.build()
        if format == "tf_saved_model":
            if kwargs:
                raise ValueError(f"export(format='tf_saved_model') takes no options {sorted(kwargs)}")
            serving.check_exportable(self)
            with atomic_directory(filepath) as tmp:
                serving.write_saved_model(self, tmp)
            if verbose:
                print(f"Saved {', '.join(serving.signature_names(self))} to {filepath}")
            return filepath
        if format == "litert":
            unknown = sorted(set(kwargs) - {"quantization", "representative_data"})
            if unknown:
                raise ValueError(f"export(format='litert') takes quantization and representative_data, got {unknown}")
            info = serving.export_tflite(self, filepath, measure_parity=False, **kwargs)
            if verbose:
                print(f"Saved {', '.join(info['signatures'])} to {filepath}")
            return filepath
        raise ValueError(f"format must be 'tf_saved_model' or 'litert', got {format!r}")

    def export_endpoints(self):
        """The export signatures this model declares: ``{name: Endpoint}``, ``reconstruct`` first.

        Every model has ``reconstruct`` (``serving_default``), ``encode``, ``decode`` and
        ``score``; generative models add ``sample(n, temperature)`` (a fresh key at every call)
        and ``sample_seeded(n, seed, temperature)``, which equals
        ``model.sample(n, seed, temperature)`` in the SavedModel and in TFLite files alike
        (counter-based noise). A family adds its own (``classify``, a conditional ``sample``) by
        extending this dict; the exporter needs no change.
        """
        x = tf.TensorSpec((None,) + tuple(self.data_spec.shape), self.data_spec.dtype, name="x")
        codes = self.code_spec
        if isinstance(codes, dict):
            # A structured code (``{name: TensorSpec}``, e.g. VQVAE2's top and bottom grids): one
            # input per part, named by its key, and ``_decode`` takes the dict.
            names = tuple(codes)
            z_inputs = tuple(tf.TensorSpec((None,) + tuple(codes[k].shape), codes[k].dtype, name=k) for k in names)

            def decode(*parts):
                return {"reconstruction": self._decode(dict(zip(names, parts)))}

            def decode_probe(model, x):
                return {k: np.asarray(v) for k, v in model.encode(x).items()}
        else:
            z_inputs = (tf.TensorSpec((None,) + tuple(codes.shape), codes.dtype, name="z"),)

            def decode(z):
                return {"reconstruction": self._decode(z)}

            def decode_probe(model, x):
                return {"z": np.asarray(model.encode(x))}
        endpoints = {
            "reconstruct": Endpoint(lambda x: {"reconstruction": self._reconstruct(x)}, (x,),
                                    stochastic=self.stochastic_decoder),
            "encode": Endpoint(self._encode_outputs, (x,)),
            "decode": Endpoint(decode, z_inputs, stochastic=self.stochastic_decoder, probe=decode_probe),
            "score": Endpoint(lambda x: {"score": self._score(x)}, (x,)),
        }
        if self.is_generative:
            n = tf.TensorSpec((), tf.int32, name="n")
            endpoints["sample"] = Endpoint(
                lambda n, temperature: {"x": self._sample(n, samplers.fresh_sampling_seed(), temperature)},
                (n, TEMPERATURE_SPEC), stochastic=True,
                probe=lambda model, x: {"n": np.array(4, np.int32), "temperature": np.array(1.0, np.float32)})
            # model.sample(n, seed, temperature) with only TensorFlow or LiteRT: the same counter-based draws.
            endpoints["sample_seeded"] = Endpoint(
                lambda n, seed, temperature: {"x": self._sample(n, samplers.sampling_seed(seed), temperature)},
                (n, SEED_SPEC, TEMPERATURE_SPEC),
                probe=lambda model, x: {"n": np.array(4, np.int32), "seed": np.array(7, np.int32),
                                        "temperature": np.array(1.0, np.float32)})
        return endpoints

    # -- randomness ------------------------------------------------------------------------
    def noise_seed(self, stream):
        """A stateless seed ``[2]`` for training noise, distinct per ``stream``, step and replica.

        Folding in the optimizer step and the replica id gives every step and every replica its
        own noise while the same ``seed`` reproduces a run exactly.
        """
        seed = tf.constant([self.seed, int(stream)], tf.int32)
        if getattr(self, "optimizer", None) is not None:
            seed = samplers.fold_seed(seed, self.optimizer.iterations)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None:
            seed = samplers.fold_seed(seed, ctx.replica_id_in_sync_group)
        return seed


def first_stage_model(autoencoder, input_shape, cls, owner):
    """The first stage of a two-stage model: ``autoencoder`` given as a model, its Keras config, or
    a dict of ``cls`` arguments (``None``: ``cls`` with its defaults).

    ``ValueError`` names the problem when it is none of these or takes data of another shape than
    ``input_shape``; ``owner`` (the two-stage class's name) goes in the message. The caller checks
    the kind of code it needs.
    """
    if isinstance(autoencoder, BaseAutoencoder):
        model = autoencoder
    elif isinstance(autoencoder, dict) and "class_name" in autoencoder:
        model = keras.saving.deserialize_keras_object(autoencoder)
    elif autoencoder is None or isinstance(autoencoder, dict):
        model = cls(input_shape, **(autoencoder or {}))
    else:
        raise ValueError(f"autoencoder must be a {cls.__name__}, its config or a dict of {cls.__name__} arguments, "
                         f"got {type(autoencoder).__name__}")
    if tuple(model.data_shape) != tuple(input_shape):
        raise ValueError(f"the autoencoder takes input_shape {tuple(model.data_shape)}, {owner} was given "
                         f"{tuple(input_shape)}")
    return model
