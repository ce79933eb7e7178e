"""The shared contract of every keras-ae model.

A model family subclasses :class:`BaseAutoencoder`, builds its networks in ``__init__`` and
implements ``encode``, ``decode`` and ``loss_terms(x, training)``; the base class owns
``train_step``/``test_step``: it weights and sums the per-example terms, averages them over the
*global* batch (``tf.nn.compute_average_loss``, which Keras does not do for a hand-written
loss under ``tf.distribute``) and reports every term as a metric, so ``fit`` logs ``loss``,
``reconstruction``, ``kl``, ... by name.
"""

import numpy as np
import keras
import tensorflow as tf

from keras_ae.layers.bodies import DecoderBody, EncoderBody


def _as_tuple(values):
    return tuple(int(v) for v in values)


def validate_array(x, shape, name="x", unit_interval=False, likelihood=None):
    """Check a batch eagerly and raise ``ValueError`` naming the problem.

    Args:
        x: array-like batch ``[B, *shape]``.
        shape: expected shape of one example.
        name: what to call the array in messages.
        unit_interval: require values in [0, 1] (Bernoulli-type likelihoods).
        likelihood: name of the likelihood, for the message.
    Returns:
        the batch as a float32 ``tf.Tensor``.
    """
    if isinstance(x, tf.data.Dataset):
        raise ValueError(f"{name} must be an array or tensor, got a tf.data.Dataset; pass a batch")
    if isinstance(x, (tf.Tensor, tf.Variable)):
        dtype = x.dtype
        if not (dtype.is_floating or dtype.is_integer or dtype == tf.bool):
            raise ValueError(f"{name} must be numeric, got dtype {dtype.name}")
        arr = x.numpy() if tf.executing_eagerly() else None
        got_shape = tuple(x.shape)
    else:
        arr = np.asarray(x)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
        got_shape = arr.shape
    shape = tuple(shape)
    if got_shape == shape:
        raise ValueError(f"{name} has shape {got_shape}, one example: add a batch axis, expected (batch,) + {shape}")
    if len(got_shape) != len(shape) + 1 or tuple(got_shape[1:]) != shape:
        raise ValueError(f"{name} must have shape (batch,) + {shape}, got {got_shape}")
    if arr is not None:
        arr = arr.astype(np.float32, copy=False)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if unit_interval and arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise ValueError(
                f"{name} has values outside [0, 1] (min {arr.min():.4g}, max {arr.max():.4g}); "
                f"a {likelihood} likelihood needs data in [0, 1]"
            )
        return tf.convert_to_tensor(arr, tf.float32)
    return tf.cast(x, tf.float32)


def stateless_seed(seed):
    """An integer seed (or None: a fresh one) -> a stateless ``[2]`` int32 seed tensor; a tensor passes through."""
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
    if isinstance(seed, (int, np.integer)):
        return tf.constant([int(seed) % (2**31 - 1), 0], tf.int32)
    return tf.cast(seed, tf.int32)


def unpack_x(data):
    """``fit`` may pass ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``: autoencoders use only ``x``."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def _is_default_strategy(strategy):
    """TensorFlow's no-op strategy (no ``tf.distribute`` scope): a replica step is a plain call."""
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def _in_multi_worker_mode(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and \
        strategy.extended._in_multi_worker_mode()


def _reducible_logs(logs):
    """Step logs that Keras's multi-worker log reduction accepts.

    Workaround for keras-team/keras#20585 and tensorflow/tensorflow#72388 (checked with Keras
    3.15.1): under MultiWorkerMirroredStrategy Keras reduces every log with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar. A ``[1]`` log reduces to the
    mean over replicas of each replica's running mean (exact for equal per-replica batches); the
    epoch logs are read from the metrics themselves, whose sync-on-read totals are exact.
    """
    if not _in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


class BaseAutoencoder(keras.Model):
    """Base class: the model contract (``../shared/DESIGN.md``) and the shared training step.

    Objective: minimise ``mean_i sum_k w_k * term_k(x_i)`` over the global batch, where the
    per-example terms come from ``loss_terms`` and the weights from ``loss_weights``; terms that
    ``loss_weights`` leaves out are only reported.

    Args:
        input_shape: shape of one example, e.g. ``(64,)`` or ``(8, 8, 1)``.
        latent_dim: size of the code, >= 1.
        architecture: ``"mlp"`` or ``"conv"`` network bodies, default ``"mlp"``.
        hidden_units: dense layer sizes of the encoder (the decoder mirrors them), default ``(256,)``.
        filters: convolution channels for ``architecture="conv"``, default ``(32, 64)``.
        activation: hidden non-linearity, default ``"relu"``.
        seed: integer seed of all training noise (corruption, reparameterized samples); the same
            seed gives the same noise. Default: drawn at construction and stored in the config.
    """

    #: names of the per-example terms ``loss_terms`` returns, each logged as a metric.
    TERMS = ("reconstruction",)
    #: whether data must lie in [0, 1]; families set it from their likelihood.
    unit_interval_data = False
    #: whether the model generates: then it has ``sample(n, seed)`` and ``sample_for_export(n)``.
    is_generative = False
    #: whether ``jit_compile`` may be chosen for this model's train step. False for models whose
    #: loss differentiates inside the step (Jacobian, gradient penalty): XLA compilation of their
    #: train step did not finish in 200 s on this project's 2-core CPU.
    supports_xla = True

    def __init__(self, input_shape, latent_dim, architecture="mlp", hidden_units=(256,), filters=(32, 64),
                 activation="relu", seed=None, **kwargs):
        super().__init__(**kwargs)
        if latent_dim is None or int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        self.data_shape = _as_tuple(input_shape)
        self.latent_dim = int(latent_dim)
        self.architecture = architecture
        self.hidden_units = _as_tuple(hidden_units)
        self.filters = _as_tuple(filters)
        self.activation = activation
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
        self.seed = int(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.term_trackers = [keras.metrics.Mean(name=term) for term in self.TERMS]

    # -- construction helpers ---------------------------------------------------------------
    def make_encoder_body(self, activation=None):
        return EncoderBody(self.data_shape, self.architecture, self.hidden_units, self.filters,
                           activation=self.activation if activation is None else activation,
                           name="encoder_body")

    def make_decoder_body(self, activation=None):
        return DecoderBody(self.data_shape, self.architecture, self.hidden_units, self.filters,
                           activation=self.activation if activation is None else activation,
                           name="decoder_body")

    def get_config(self):
        config = super().get_config()
        config.update(
            input_shape=list(self.data_shape),
            latent_dim=self.latent_dim,
            architecture=self.architecture,
            hidden_units=list(self.hidden_units),
            filters=list(self.filters),
            activation=self.activation,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)

    def build(self, input_shape=None):
        """Create every weight by running the training path once on a zero batch."""
        if self.built:
            return
        x = tf.zeros((2,) + self.data_shape, tf.float32)
        # Weights must live in the strategy the model was created under, even when fit() or
        # load_model() triggers the build outside its scope.
        with self.distribute_strategy.scope():
            self.loss_terms(x, training=False)
            self.reconstruct_unchecked(x)
        self.built = True

    # -- the contract ----------------------------------------------------------------------
    def encode(self, x):
        """Data ``[B, *input_shape]`` -> code ``[B, latent_dim]`` (posterior mean if probabilistic)."""
        raise NotImplementedError

    def decode(self, z):
        """Code ``[B, latent_dim]`` -> reconstruction in data space (the mean of p(x|z))."""
        raise NotImplementedError

    def loss_terms(self, x, training=False):
        """Per-example loss terms ``{name: [B] tensor}`` for the names in ``TERMS``."""
        raise NotImplementedError

    def loss_weights(self):
        """``{term: weight}`` of the terms that make the objective; default: each term, weight 1."""
        return {term: 1.0 for term in self.TERMS}

    def reconstruct(self, x):
        """``decode(encode(x))``: the reconstruction of a checked batch."""
        return self.reconstruct_unchecked(self.check_inputs(x))

    def reconstruct_unchecked(self, x):
        return self.decode(self.encode(x))

    def score(self, x):
        """Per-example anomaly score ``[B]``: the reconstruction term (larger is more anomalous)."""
        x = self.check_inputs(x)
        return self.loss_terms(x, training=False)["reconstruction"]

    def encode_outputs(self, x):
        """Named outputs of the ``encode`` export signature: ``{"code": [B, latent_dim]}``.

        Probabilistic families add the posterior parameters (``"mean"``, ``"scale"``, ...).
        """
        return {"code": self.encode(x)}

    def sample(self, n, seed=None):
        """``n`` generated examples in data space (generative models only); same seed, same samples."""
        raise NotImplementedError(f"{type(self).__name__} is not generative: it has no prior to sample")

    def sample_for_export(self, n):
        """``sample`` for export graphs: fresh noise at every call, drawn with ``tf.random.normal`` /
        ``tf.random.uniform`` only and transformed by hand (TFLite builtins; no TFP samplers)."""
        raise NotImplementedError(f"{type(self).__name__} is not generative: it has no prior to sample")

    def post_fit(self, x_train, seed=0):
        """Hook run once after ``fit`` on the training data (e.g. an ex-post code density); default: nothing.

        Args:
            x_train: the training data ``[N, *input_shape]`` (array or ``tf.data.Dataset``).
            seed: integer seed of any randomness in the hook.
        """
        return None

    def call(self, x, training=False):
        return self.decode(self.encode(x))

    # -- input checks ----------------------------------------------------------------------
    def check_inputs(self, x):
        """Validate a data batch when running eagerly (shape, NaN/inf, range); cast to float32."""
        if not tf.executing_eagerly():
            return tf.cast(x, tf.float32)
        return validate_array(x, self.data_shape, "x", self.unit_interval_data, getattr(self, "likelihood", None))

    def check_codes(self, z):
        """Validate a code batch ``[B, latent_dim]`` when running eagerly."""
        if not tf.executing_eagerly():
            return tf.cast(z, tf.float32)
        return validate_array(z, (self.latent_dim,), "z")

    # -- randomness ------------------------------------------------------------------------
    def noise_seed(self, stream):
        """A stateless seed ``[2]`` for training noise, distinct per ``stream``, step and replica.

        Folding in the optimizer step and the replica id gives every step and every replica its
        own noise while the same ``seed`` reproduces a run exactly.
        """
        seed = tf.constant([self.seed, int(stream)], tf.int32)
        if getattr(self, "optimizer", None) is not None:
            seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(self.optimizer.iterations, tf.int32))
        ctx = tf.distribute.get_replica_context()
        if ctx is not None:
            seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(ctx.replica_id_in_sync_group, tf.int32))
        return seed

    # -- training --------------------------------------------------------------------------
    @property
    def metrics(self):
        return [self.loss_tracker] + list(self.term_trackers)

    def per_example_objective(self, terms):
        weights = self.loss_weights()
        total = None
        for term, weight in weights.items():
            value = tf.cast(terms[term], tf.float32) * tf.cast(weight, tf.float32)
            total = value if total is None else total + value
        return total

    def global_loss(self, terms):
        """Mean objective over the global batch, plus regularization losses scaled per replica."""
        per_example = self.per_example_objective(terms)
        loss = tf.nn.compute_average_loss(per_example)
        if self.losses:
            loss += tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in self.losses]))
        return per_example, loss

    def update_metrics(self, terms, per_example):
        self.loss_tracker.update_state(per_example)
        for tracker in self.term_trackers:
            tracker.update_state(terms[tracker.name])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = tf.cast(unpack_x(data), tf.float32)
        with tf.GradientTape() as tape:
            terms = self.loss_terms(x, training=True)
            per_example, loss = self.global_loss(terms)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return _reducible_logs(self.update_metrics(terms, per_example))

    def test_step(self, data):
        x = tf.cast(unpack_x(data), tf.float32)
        terms = self.loss_terms(x, training=False)
        per_example, _ = self.global_loss(terms)
        return _reducible_logs(self.update_metrics(terms, per_example))

    # -- several steps in one XLA program -------------------------------------------------------
    def make_train_function(self, force=False):
        """Keras's train function, except with XLA and ``steps_per_execution > 1`` on one replica.

        Keras runs ``steps_per_execution`` steps as a graph loop that launches the XLA-compiled
        step once per batch; on a 2-core CPU the launch, the loop's optionals and the handover of
        every batch cost about 15% of a 784-512-16 VAE step. There the train function runs all
        the steps of one call as one XLA program instead (:meth:`_make_fused_train_function`):
        the same steps on the same batches in the same order, so the weights agree with Keras's
        loop to float32 round-off (tested).
        """
        if self.train_function is not None and not force:
            return self.train_function
        if not (self.jit_compile and self.steps_per_execution > 1 and not self.run_eagerly
                and _is_default_strategy(self.distribute_strategy)):
            return super().make_train_function(force=force)
        self.train_function = self._make_fused_train_function(self.steps_per_execution)
        return self.train_function

    def _metric_logs(self):
        return _reducible_logs({m.name: m.result() for m in self.metrics})

    def _make_fused_train_function(self, steps):
        """A train function that pulls up to ``steps`` batches and runs them in one XLA program.

        Same contract as Keras's: run up to ``steps`` steps, return the last step's logs, raise
        ``StopIteration`` when the iterator is already exhausted. When fewer than ``steps`` batches
        are left or their sizes differ (the last, smaller batch of an epoch), they run one XLA
        step at a time instead, as in Keras; that step is compiled only if it is needed.
        """
        empty = tf.zeros((0,) + self.data_shape, tf.float32)

        @tf.function(reduce_retracing=True)
        def pull(iterator):
            pulled = [iterator.get_next_as_optional() for _ in range(steps)]
            batches = [tf.cond(p.has_value(), lambda p=p: tf.cast(unpack_x(p.get_value()), tf.float32),
                               lambda: empty) for p in pulled]
            count = tf.add_n([tf.cast(p.has_value(), tf.int32) for p in pulled])
            sizes = tf.stack([tf.shape(b)[0] for b in batches])
            return count, tf.reduce_all(tf.equal(sizes, sizes[0])), batches

        @tf.function(jit_compile=True, reduce_retracing=True)
        def run_stacked(batches):
            batches = tf.stack(batches)

            def body(i, logs):
                return i + 1, self.train_step(batches[i])

            _, logs = tf.while_loop(lambda i, logs: i < steps, body, (tf.constant(0), self._metric_logs()))
            return logs

        @tf.function(jit_compile=True, reduce_retracing=True)
        def run_one(batch):
            return self.train_step(batch)

        def train_function(iterator):
            if isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
                count, same_size, batches = pull(iterator)
                count = int(count)
                if count == 0:
                    raise StopIteration
                if count == steps and bool(same_size):
                    return run_stacked(batches)
                batches = batches[:count]
            else:  # a Python iterator (``train_on_batch``)
                batches = [tf.cast(unpack_x(data), tf.float32) for _, data in zip(range(steps), iterator)]
            for batch in batches:
                logs = run_one(batch)
            return logs

        train_function.fused_steps = steps
        return train_function

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Workaround for keras-team/keras#20585 and tensorflow/tensorflow#72388 (checked with
        # Keras 3.15.1, TF 2.21): fit's first-batch symbolic build pulls a distributed batch and
        # reduces it with ``strategy.reduce``, an extra cross-worker collective under
        # MultiWorkerMirroredStrategy. ``build()`` has already created every weight eagerly on a
        # zero batch, so only the optimizer's slots are left, and they must be made in scope.
        if not self.built:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def _check_fit_data(self, x):
        if x is None:
            return
        if isinstance(x, tf.data.Dataset):
            spec = unpack_x(x.element_spec)
            if tuple(spec.shape[1:]) != self.data_shape:
                raise ValueError(
                    f"dataset elements must have shape (batch,) + {self.data_shape}, got {tuple(spec.shape)}"
                )
        elif isinstance(x, (np.ndarray, tf.Tensor, list)):
            self.check_inputs(x)

    def fit(self, x=None, y=None, *args, **kwargs):
        self._check_fit_data(x)
        if not self.built:
            self.build()
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._check_fit_data(x)
        if not self.built:
            self.build()
        return super().evaluate(x, y, *args, **kwargs)
