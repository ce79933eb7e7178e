"""The training machinery under the contract: compile, optimizers per parameter group, the steps.

Written once for every family: :class:`TrainingLoop` is the part of
:class:`keras_ae.models.base.BaseAutoencoder` that ``fit`` drives. It unpacks a batch (``x``,
``(x, y)``, ``(x, y, w)`` or a dict), refuses entries the model would not use, weights and sums
the per-example terms and averages them over the global batch with the examples' weights, steps
every parameter group's optimizer, runs several XLA steps as one program on a single replica,
and works around two Keras 3 bugs under ``MultiWorkerMirroredStrategy``.

**Sample weights** (``fit(x, sample_weight=w)``, a dataset of ``(x, y, w)``, ``(x, None, w)`` or
dicts with the key ``"sample_weight"``, ``evaluate(..., sample_weight=w)``,
``train_on_batch(x, sample_weight=w)``) follow Keras's convention for losses: the objective of a
batch is ``sum_i w_i * loss_i / N`` with ``N`` the *global* batch size
(``tf.nn.compute_average_loss(loss, sample_weight=w)``), so an integer weight counts an example
that many times in a batch of the same size, and a weight of 0 removes it. Parameter groups'
objectives and the non-gradient updates (EMA codebooks) are weighted the same way. The logged
``loss`` is that objective (the epoch's ``sum w_i loss_i / N``); each logged term is the weighted
mean ``sum w_i term_i / sum w_i``, as Keras reports ``weighted_metrics``. Weights must be finite
and >= 0, one per example (shape ``[B]`` or ``[B, 1]``).
"""

import numpy as np
import keras
import tensorflow as tf

from keras_ae import _checks

#: names of the positions of a tuple batch, as Keras's ``fit(x, y, sample_weight)`` packs them.
TUPLE_KEYS = ("x", "y", "sample_weight")
#: the batch entry of per-example weights (Keras's ``sample_weight``).
SAMPLE_WEIGHT = "sample_weight"


def _absent(value):
    """A batch entry that is not there: ``None``, or ``tf.data``'s spec of a ``None`` component."""
    return value is None or type(value).__name__ == "NoneTensorSpec"


def unpack_batch(data):
    """A batch as a dict: ``x`` -> ``{"x": x}``; ``(x, y, w)`` -> ``{"x", "y", "sample_weight"}``; a dict stays.

    ``None`` entries (``(x, None, w)``, as Keras packs ``sample_weight`` without ``y``) are left out.
    Raises ``ValueError`` for a dict without ``"x"`` or a tuple of more than three parts.
    """
    if isinstance(data, dict):
        if "x" not in data:
            raise ValueError(f"a dict batch needs the key 'x' (the data), got keys {sorted(data)}")
        return {key: value for key, value in data.items() if not _absent(value)}
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], dict) and all(_absent(v) for v in data[1:]):
        return unpack_batch(data[0])  # a dict batch as Keras's train_on_batch packs it: (x, None, None)
    if isinstance(data, (tuple, list)):
        if len(data) > len(TUPLE_KEYS):
            raise ValueError(f"a tuple batch is (x,), (x, y) or (x, y, sample_weight), got {len(data)} parts")
        return {key: value for key, value in zip(TUPLE_KEYS, data) if not _absent(value)}
    return {"x": data}


def _has_absent_entry(spec):
    return isinstance(spec, (tuple, list)) and any(_absent(s) for s in spec)


def example_weights(sample_weight):
    """Per-example weights ``[B]`` float32 of a batch (``[B, 1]`` flattened), or None when there are none.

    A weight of another shape is a ``ValueError`` (when the shapes are known in the graph).
    """
    if sample_weight is None:
        return None
    w = tf.cast(sample_weight, tf.float32)
    shape = w.shape
    if shape.rank == 2 and shape[1] == 1:
        w = w[:, 0]
    elif shape.rank != 1:
        raise ValueError(f"sample_weight must give one weight per example, shape [batch] or [batch, 1], "
                         f"got shape {shape}")
    return w


def unpack_x(data):
    """Only the data ``x`` of a batch (see :func:`unpack_batch`)."""
    return unpack_batch(data)["x"]


def is_default_strategy(strategy):
    """TensorFlow's no-op strategy (no ``tf.distribute`` scope): a replica step is a plain call."""
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def in_multi_worker_mode(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and \
        strategy.extended._in_multi_worker_mode()


def reducible_logs(logs):
    """Step logs that Keras's multi-worker log reduction accepts.

    Workaround for keras-team/keras#20585 and tensorflow/tensorflow#72388 (checked with Keras
    3.15.1): under MultiWorkerMirroredStrategy Keras reduces every log with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on a scalar. A ``[1]`` log reduces to the
    mean over replicas of each replica's running mean (exact for equal per-replica batches); the
    epoch logs are read from the metrics themselves, whose sync-on-read totals are exact.
    """
    if not in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def _empty_like(spec):
    """A zero-example tensor of an element spec (the stand-in for a batch that is not there)."""
    shape = [0] + [d if d is not None else 0 for d in spec.shape[1:]]
    return tf.zeros(shape, spec.dtype)


def _batch_size(element):
    return tf.shape(tf.nest.flatten(element)[0])[0]


def make_fused_train_function(model, steps):
    """A train function that pulls up to ``steps`` batches and runs them in one XLA program.

    The whole element structure (``x``, labels, extras) is carried, not only ``x``. Same
    contract as Keras's: run up to ``steps`` steps, return the last step's logs, raise
    ``StopIteration`` when the iterator is already exhausted. When fewer than ``steps`` batches
    are left or their sizes differ (the last, smaller batch of an epoch), they run one XLA step
    at a time instead, as in Keras; that step is compiled only if it is needed.
    """

    @tf.function(reduce_retracing=True, autograph=False)
    def pull(iterator):
        empty = tf.nest.map_structure(_empty_like, iterator.element_spec)
        pulled = [iterator.get_next_as_optional() for _ in range(steps)]
        batches = [tf.cond(p.has_value(), lambda p=p: p.get_value(), lambda: empty) for p in pulled]
        count = tf.add_n([tf.cast(p.has_value(), tf.int32) for p in pulled])
        sizes = tf.stack([_batch_size(b) for b in batches])
        return count, tf.reduce_all(tf.equal(sizes, sizes[0])), batches

    @tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
    def run_stacked(batches):
        stacked = tf.nest.map_structure(lambda *parts: tf.stack(parts), *batches)

        def body(i, logs):
            return i + 1, model.train_step(tf.nest.map_structure(lambda t: t[i], stacked))

        _, logs = tf.while_loop(lambda i, logs: i < steps, body, (tf.constant(0), model.metric_logs()))
        return logs

    @tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
    def run_one(batch):
        return model.train_step(batch)

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
            batches = [data for _, data in zip(range(steps), iterator)]
        for batch in batches:
            logs = run_one(batch)
        return logs

    train_function.fused_steps = steps
    return train_function


class TrainingLoop:
    """``compile``, ``train_step``/``test_step`` and ``fit`` of the contract (a mixin of ``keras.Model``).

    Objective: minimise ``mean_i sum_k w_k * term_k(x_i)`` over the global batch, the terms from
    the model's ``_loss_terms`` and the weights from its ``loss_weights``; then, for every
    parameter group, a step of the group's own optimizer on the sum of its terms.
    """

    # -- compile: measured defaults, one optimizer per parameter group ------------------------
    #: steps per ``tf.function`` call chosen by ``steps_per_execution="auto"`` on one replica.
    AUTO_STEPS_PER_EXECUTION = 10
    #: planned train steps that pay for one XLA compilation on a CPU (``fit`` with ``jit_compile="auto"``;
    #: measured in :meth:`compile`'s docstring).
    XLA_BREAK_EVEN_STEPS = 2000

    def compile(self, optimizer=None, loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                steps_per_execution="auto", jit_compile="auto", group_optimizers=None, **kwargs):
        """Keras's ``compile`` with measured defaults, plus ``group_optimizers`` for ``PARAMETER_GROUPS``.

        Defaults (what ``model.compile()`` with no argument gives):

        - ``optimizer=None``: ``keras.optimizers.Adam(1e-3)``, the optimizer every recipe and
          benchmark is measured with.
        - ``steps_per_execution="auto"``: 10 on a single replica, 1 under a multi-replica
          strategy. Measured with ``python -m zoo bench``: 10 steps per call made the digits
          models up to 2.4x faster on the 2-core CPU. Schedules (KL warm-up, temperature
          annealing) are computed in the train step, so they are identical for any value;
          callbacks' ``on_train_batch_*`` run once per call, as in Keras.
        - ``jit_compile="auto"``: XLA where the model supports it (``supports_xla``) on one
          replica and where it was measured to pay: on an accelerator Keras's own choice; on a
          CPU-only machine only when ``xla_pays_on_cpu()`` (MLPs with a layer of 512 units or
          more: 1.3-1.6x faster steps; the digits-size and convolutional models were 1.2-2x
          slower under XLA). With XLA and several steps per call on one replica, the steps of
          a call run as one XLA program (:meth:`make_train_function`).

        ``fit`` then decides what was left to ``"auto"`` with the work it plans, when it knows it
        (arrays, or a dataset of known length or ``steps_per_epoch``), on one replica
        (:func:`planned_speed`): steps per call become a divisor of the epoch's full batches
        near 10 (:func:`auto_steps_per_execution`), and XLA is kept only when the planned
        ``epochs x steps`` reach ``XLA_BREAK_EVEN_STEPS`` (2,000) for every program XLA compiles
        (the fused calls; a shorter call; a smaller last batch). Measured for the 784-512-16
        VAE, batch 100, 4,000 examples (40 steps an epoch), 10 steps per call: on an idle
        machine (issue 27) the first epoch took 3.7-4.4 s under XLA, the steady epoch 0.22-0.26 s,
        and 30 epochs without XLA 9.7-10.2 s; tracing without XLA costs 1.0-1.3 s more than a
        steady epoch (measured under load), so the plain steady epoch is about 0.30 s: XLA
        costs about 2.7 s more and saves about 1.5 ms a step, 2.7 / 0.0015 = 1,800 steps.
        30 epochs (1,200 steps) therefore run without XLA (9.7-10.2 s against 11-12 s with
        it) and 100 epochs (4,000 steps) with it. On the loaded machine (load average 6-8,
        whole processes, 3 runs each, alternated) XLA used 0.94x the CPU time of the plain
        graph at 30 epochs and 0.81x at 100 (3.0 CPU s more to compile, 3.6 ms less a step),
        but 1.10x and 1.13x the wall time: under contention its compilation and step lose.
        In-process CPU time (load 5-8): the VAE's first epoch cost 4.3 / 3.9 / 5.3 CPU s under
        XLA with 10 / 1 / 40 steps per call against 1.8 / 1.3 / 1.5 without, its steady epoch
        0.34 / 0.46 / 0.38 against 0.52 / 0.53 / 0.51 (10 steps per call is XLA's best); a
        digits-size VAE (64-128-8, batch 64, 24 batches an epoch) paid 8 CPU s more for XLA's
        three programs and ran its steady epoch no faster (0.055 against 0.059 CPU s). A
        fit that changes the decision rebuilds the train, test and predict functions; one
        that keeps it keeps them.

        An explicit ``jit_compile`` or ``steps_per_execution`` is used exactly as given.
        ``group_optimizers={group: optimizer}``: a group left out gets the model's default for it
        (:meth:`group_optimizer_default`), else a fresh copy of ``optimizer`` (same class and settings).

        The objective is the model's own (its ``TERMS`` weighted by ``loss_weights()``), so
        ``loss``, ``loss_weights``, ``metrics`` and ``weighted_metrics`` are refused with a
        ``ValueError`` rather than silently ignored; the terms are logged as metrics already.
        """
        for name, value in (("loss", loss), ("loss_weights", loss_weights), ("metrics", metrics),
                            ("weighted_metrics", weighted_metrics)):
            if value is not None:
                raise ValueError(
                    f"{type(self).__name__}.compile does not take {name}=: the objective is the model's own "
                    f"(terms {list(self.TERMS)}, weighted by loss_weights(); each term is logged as a metric). "
                    f"Change the model's arguments (e.g. beta) instead, and compute other measures with "
                    f"keras_ae.evaluation")
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        # What fit may still decide from the planned work (only what the user left to "auto").
        self._auto_speed = {"jit_compile": jit_compile == "auto", "steps_per_execution": steps_per_execution == "auto"}
        if steps_per_execution == "auto":
            steps_per_execution = self.AUTO_STEPS_PER_EXECUTION if self._single_replica() else 1
        elif isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, (int, np.integer)) \
                or steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be 'auto' or an integer >= 1, got {steps_per_execution!r}")
        if jit_compile not in ("auto", True, False):
            raise ValueError(f"jit_compile must be 'auto', True or False, got {jit_compile!r}")
        super().compile(optimizer=optimizer, steps_per_execution=int(steps_per_execution),
                        jit_compile=jit_compile, **kwargs)
        given = dict(group_optimizers or {})
        unknown = sorted(set(given) - set(self.PARAMETER_GROUPS))
        if unknown:
            raise ValueError(f"group_optimizers names unknown groups {unknown}; "
                             f"{type(self).__name__} has {sorted(self.PARAMETER_GROUPS)}")
        main = self.optimizer.inner_optimizer if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer) \
            else self.optimizer
        self._group_optimizers = {}
        for group in self.PARAMETER_GROUPS:
            opt = given.get(group)
            if opt is None:
                opt = self.group_optimizer_default(group)
            opt = type(main).from_config(main.get_config()) if opt is None else keras.optimizers.get(opt)
            if self.dtype_policy.name == "mixed_float16" and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                opt = keras.optimizers.LossScaleOptimizer(opt)
            self._group_optimizers[group] = opt
        # An attribute Keras's saving walks: the group optimizers' variables are saved with the model.
        self.group_optimizers = list(self._group_optimizers.values())
        self._group_optimizer_configs = {g: keras.optimizers.serialize(o) for g, o in self._group_optimizers.items()}
        if self.built:
            self._build_optimizers()

    def group_optimizer_default(self, group):
        """The optimizer a parameter group gets from ``compile`` when none is passed; None: a copy of the main one."""
        return None

    def _single_replica(self):
        strategy = self.distribute_strategy
        return strategy.num_replicas_in_sync == 1 and not isinstance(strategy, tf.distribute.TPUStrategy)

    def xla_pays_on_cpu(self):
        """Whether XLA made this model's train step faster on a CPU (see :meth:`compile`).

        Measured with ``python -m zoo bench`` on the project's 2-core CPU: the MLPs with a layer
        of 512 units or more ran 1.3-1.6x faster under XLA, the digits-size MLPs and the
        convolutional models 1.2-2x slower. A family with another architecture overrides this.
        """
        return getattr(self, "architecture", None) == "mlp" and max(getattr(self, "hidden_units", ()) or (0,)) >= 512

    def _resolve_auto_jit_compile(self):
        """``jit_compile="auto"``: see :meth:`compile`."""
        if not (self.supports_xla and self._single_replica()):
            return False
        if any(d.device_type != "CPU" for d in tf.config.list_physical_devices()):
            return super()._resolve_auto_jit_compile()
        return self.xla_pays_on_cpu()

    def _planned_work(self, x, kwargs):
        """``(full batches per epoch, a smaller last batch?, epochs)`` of a ``fit`` call, or None when unknown.

        Arrays: ``ceil(N / batch_size)`` batches (Keras's default batch of 32). A dataset: its
        ``steps_per_epoch`` or its finite cardinality; its last batch may be smaller when its
        static batch dimension is unknown.
        """
        epochs = int(kwargs.get("epochs", 1)) - int(kwargs.get("initial_epoch", 0) or 0)
        steps = kwargs.get("steps_per_epoch")
        if isinstance(x, tf.data.Dataset):
            if steps is None:
                steps = int(x.cardinality())
                if steps < 0:  # infinite or unknown
                    return None
            first = tf.nest.flatten(x.element_spec)[0]
            return int(steps), first.shape.rank is None or first.shape[0] is None, epochs
        leaves = tf.nest.flatten(x) if isinstance(x, dict) else [x]
        if not leaves or not hasattr(leaves[0], "shape") or kwargs.get("validation_split"):
            return None
        num = int(np.shape(leaves[0])[0])
        batch = int(kwargs.get("batch_size") or 32)
        if steps is not None:
            return int(steps), False, epochs
        return num // batch, num % batch != 0, epochs

    def _plan_speed(self, x, kwargs):
        """Resolve the ``"auto"`` speed settings with the planned work of this ``fit`` (see :func:`planned_speed`).

        Only settings left to ``"auto"`` in ``compile`` change (XLA only on a CPU-only machine,
        where its break-even was measured), only on one replica, and the
        train (and test/predict) functions are rebuilt only when the decision changes.
        """
        auto = getattr(self, "_auto_speed", {})
        if not any(auto.values()) or self.run_eagerly or not self._single_replica():
            return
        plan = self._planned_work(x, kwargs)
        if plan is None:
            return
        full_steps, partial, epochs = plan
        jit, steps = planned_speed(self._resolve_auto_jit_compile(), full_steps, partial, epochs,
                                   self.AUTO_STEPS_PER_EXECUTION, self.XLA_BREAK_EVEN_STEPS)
        on_cpu = all(d.device_type == "CPU" for d in tf.config.list_physical_devices())
        # The break-even was measured on a CPU; on an accelerator Keras's own choice stands.
        jit = jit if auto["jit_compile"] and on_cpu else bool(self.jit_compile)
        steps = steps if auto["steps_per_execution"] else self.steps_per_execution
        if (jit, steps) == (bool(self.jit_compile), self.steps_per_execution):
            return
        self.jit_compile, self.steps_per_execution = jit, steps
        self.train_function = self.test_function = self.predict_function = None

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and self.PARAMETER_GROUPS:
            config["group_optimizers"] = self._group_optimizer_configs
        return config

    def compile_from_config(self, config):
        config = dict(config)
        group_configs = config.pop("group_optimizers", None)
        config = keras.saving.deserialize_keras_object(config)
        groups = {g: keras.optimizers.deserialize(c) for g, c in (group_configs or {}).items()}
        self.compile(**config, group_optimizers=groups)
        if self.built:
            self._build_optimizers()

    def main_trainable_variables(self):
        """The trainable variables of the main objective: all but those of the parameter groups."""
        taken = {id(v) for g in self.PARAMETER_GROUPS for v in self.parameter_group_variables(g)}
        return [v for v in self.trainable_variables if id(v) not in taken]

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Keras's ``load_weights``, every optimizer built first on its own variables.

        The main optimizer gets all trainable variables but the parameter groups', each group's
        optimizer its group's (:meth:`_build_optimizers`), so the optimizer state of a backup or
        a ``.weights.h5`` file is restored. Left unbuilt, Keras would skip that state with a
        warning (or, built on every variable, find a count that does not match), and a resumed
        run would silently diverge from an uninterrupted one.
        """
        if self.built:
            self._build_optimizers()
        return super().load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)

    def _build_optimizers(self):
        """Create every optimizer's slots in scope, before any (fused, XLA) step runs."""
        with self.distribute_strategy.scope():
            if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
                self.optimizer.build(self.main_trainable_variables())
            for group, opt in self._group_optimizers.items():
                if not opt.built:
                    opt.build(self.parameter_group_variables(group))

    # -- training --------------------------------------------------------------------------
    @property
    def metrics(self):
        return [self.loss_tracker] + list(self.term_trackers)

    def metric_logs(self):
        return reducible_logs({m.name: m.result() for m in self.metrics})

    def per_example_objective(self, terms, weights=None):
        weights = self.loss_weights() if weights is None else weights
        total = None
        for term, weight in weights.items():
            value = tf.cast(terms[term], tf.float32) * tf.cast(weight, tf.float32)
            total = value if total is None else total + value
        return total

    def global_loss(self, terms, sample_weight=None):
        """The batch's objective: ``sum_i w_i * objective_i / N`` over the global batch of ``N``
        examples (weights 1 when ``sample_weight`` is None), plus regularization losses scaled per replica."""
        per_example = self.per_example_objective(terms)
        loss = tf.nn.compute_average_loss(per_example, sample_weight=sample_weight)
        if self.losses:
            loss += tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in self.losses]))
        return per_example, loss

    def batch_entries(self):
        """The entries a batch may have: ``x``, ``sample_weight`` and those ``batch_extras_spec`` names."""
        return ("x", SAMPLE_WEIGHT) + tuple(self.batch_extras_spec())

    def check_batch_entries(self, names, where="a batch"):
        """``ValueError`` naming the entries of a batch this model would not use, or the missing ones."""
        specs = self.batch_extras_spec()
        unknown = sorted(set(names) - set(self.batch_entries()))
        if unknown:
            uses = ", ".join(repr(k) for k in self.batch_entries())
            hint = " (Keras's fit(x, y): this model learns from x alone; call fit(x))" if "y" in unknown else ""
            raise ValueError(f"{type(self).__name__} does not use the batch entries {unknown} of {where}: "
                             f"it takes {uses}{hint}")
        missing = sorted(set(specs) - set(names))
        if missing:
            raise ValueError(f"{type(self).__name__} needs the batch entries {missing} in every batch "
                             f"((x, y) or a dict), got {sorted(names)}")

    def _split_batch(self, data):
        """A training batch -> ``(x, extras, weights)``: the extras ``batch_extras_spec`` names, weights ``[B]`` or None."""
        batch = unpack_batch(data)
        self.check_batch_entries(batch)
        specs = self.batch_extras_spec()
        x = tf.cast(batch["x"], self.data_spec.dtype)
        weights = example_weights(batch.get(SAMPLE_WEIGHT))
        return x, {k: tf.cast(batch[k], s.dtype) for k, s in specs.items()}, weights

    def _update_metrics(self, terms, per_example, sample_weight):
        # The loss as Keras reports a weighted loss (sum w_i l_i / N); the terms as it reports
        # weighted metrics (sum w_i t_i / sum w_i). Without weights both are plain means.
        self.loss_tracker.update_state(per_example if sample_weight is None else per_example * sample_weight)
        for tracker in self.term_trackers:
            if tracker.name in terms:
                tracker.update_state(terms[tracker.name], sample_weight=sample_weight)
        return self.metric_logs()

    def set_schedule(self, variable, schedule):
        """Compute ``model.<variable>`` in every train step as ``schedule.graph_value(step)``.

        ``step`` is the optimizer's iteration count before the step, so the value is the same
        whatever ``steps_per_execution`` is (a callback acting between executions would lag by
        up to ``steps_per_execution - 1`` steps). ``schedule=None`` removes it. A change after the
        train function was built rebuilds it (the schedules are read when it is traced).
        """
        target = getattr(self, variable, None)
        if target is None or not hasattr(target, "assign"):
            raise ValueError(f"{type(self).__name__} has no variable {variable!r} to schedule")
        current = self._schedules.get(variable)
        if schedule is None:
            self._schedules.pop(variable, None)
        else:
            self._schedules[variable] = schedule
        if current is not schedule and self.train_function is not None:
            self.make_train_function(force=True)

    def _apply_schedules(self):
        step = self.optimizer.iterations
        for variable, schedule in self._schedules.items():
            target = getattr(self, variable)
            target.assign(tf.cast(schedule.graph_value(step), target.dtype))

    def train_step(self, data):
        self._apply_schedules()
        x, extras, weights = self._split_batch(data)
        variables = self.main_trainable_variables()
        with tf.GradientTape() as tape:
            terms = self._loss_terms(x, training=True, **extras)
            per_example, loss = self.global_loss(terms, weights)
            scaled = self.optimizer.scale_loss(loss)
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        for group, opt in self._group_optimizers.items():
            group_variables = self.parameter_group_variables(group)
            with tf.GradientTape() as tape:
                group_terms = self._group_loss_terms(group, x, training=True, **extras)
                objective = self.per_example_objective(group_terms, {t: 1.0 for t in self.PARAMETER_GROUPS[group]})
                scaled = opt.scale_loss(tf.nn.compute_average_loss(objective, sample_weight=weights))
            opt.apply(tape.gradient(scaled, group_variables), group_variables)
            terms = {**terms, **group_terms}
        self._non_gradient_updates(x, weights, **extras)
        return self._update_metrics(terms, per_example, weights)

    def test_step(self, data):
        x, extras, weights = self._split_batch(data)
        terms = self._loss_terms(x, training=False, **extras)
        for group in self.PARAMETER_GROUPS:
            terms = {**terms, **self._group_loss_terms(group, x, training=False, **extras)}
        per_example, _ = self.global_loss(terms, weights)
        return self._update_metrics(terms, per_example, weights)

    def make_train_function(self, force=False):
        """Keras's train function, except with XLA and ``steps_per_execution > 1`` on one replica.

        Keras runs ``steps_per_execution`` steps as a graph loop that launches the XLA-compiled
        step once per batch; on a 2-core CPU the launch, the loop's optionals and the handover of
        every batch cost about 15% of a 784-512-16 VAE step. There the train function runs all
        the steps of one call as one XLA program instead
        (:func:`keras_ae.models.steps.make_fused_train_function`): the same steps on the same
        batches in the same order, so the weights agree with Keras's loop to float32 round-off
        (tested).
        """
        if self.train_function is not None and not force:
            return self.train_function
        self._build_optimizers()
        if not (self.jit_compile and self.steps_per_execution > 1 and not self.run_eagerly
                and is_default_strategy(self.distribute_strategy)):
            return super().make_train_function(force=force)
        self.train_function = make_fused_train_function(self, self.steps_per_execution)
        return self.train_function

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Workaround for keras-team/keras#20585 and tensorflow/tensorflow#72388 (checked with
        # Keras 3.15.1, TF 2.21): fit's first-batch symbolic build pulls a distributed batch and
        # reduces it with ``strategy.reduce``, an extra cross-worker collective under
        # MultiWorkerMirroredStrategy. ``build()`` has already created every weight eagerly on a
        # zero batch, so only the optimizers' slots are left, and they must be made in scope.
        if not self.built:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        self._build_optimizers()

    def _check_fit_data(self, x):
        if x is None:
            return
        if isinstance(x, tf.data.Dataset):
            spec = unpack_batch(x.element_spec)
            if tuple(spec["x"].shape[1:]) != self.data_shape:
                raise ValueError(
                    f"dataset elements must have shape (batch,) + {self.data_shape}, got {tuple(spec['x'].shape)}"
                )
            self.check_batch_entries(spec, "the dataset's elements")
        elif isinstance(x, dict):
            self.check_batch_entries(unpack_batch(x), "x")
            self.check_inputs(x["x"])
        elif isinstance(x, (np.ndarray, tf.Tensor, list)):
            self.check_inputs(x)

    def _fit_input(self, x, y, sample_weight, name="x"):
        """``(x, y)`` for Keras's ``fit``/``evaluate``, with nothing of the input dropped.

        Keras packs array input as ``(x, y, sample_weight)`` only when ``y`` is given and drops
        ``sample_weight`` otherwise; here array input with weights becomes one dict
        ``{"x", "y"?, "sample_weight"}``, which every training path unpacks. A ``y`` this model
        does not use is refused, as is any weight that is not one finite value >= 0 per example.
        """
        if isinstance(x, tf.data.Dataset):
            if sample_weight is not None:
                raise ValueError(f"{name}: a dataset carries its weights in its elements ((x, y, w), (x, None, w) "
                                 f"or a dict with 'sample_weight'), not in sample_weight=")
            self._check_fit_data(x)
            return self._checked_dataset(x, name), y
        self._check_fit_data(x)
        if x is None or (y is None and sample_weight is None):
            return x, y
        if isinstance(x, dict):
            raise ValueError(f"{name} is a dict batch: give its labels and weights in it ('y', 'sample_weight'), "
                             f"not as y= or sample_weight=")
        batch = {"x": x} if y is None else {"x": x, "y": y}
        self.check_batch_entries(batch, name)
        if sample_weight is None:
            return x, y
        batch[SAMPLE_WEIGHT] = _checked_weights(sample_weight, int(np.shape(x)[0]))
        return batch, None

    def _validation_input(self, data):
        if data is None or isinstance(data, tf.data.Dataset):
            return self._fit_input(data, None, None, "validation_data")[0]
        if isinstance(data, (tuple, list)):
            if not 1 <= len(data) <= 3:
                raise ValueError(f"validation_data is (x,), (x, y) or (x, y, sample_weight), got {len(data)} parts")
            x, y, w = tuple(data) + (None,) * (3 - len(data))
            x, y = self._fit_input(x, y, w, "validation_data")
            return x if y is None else (x, y)
        return self._fit_input(data, None, None, "validation_data")[0]

    def fit(self, x=None, y=None, *args, sample_weight=None, **kwargs):
        """Keras's ``fit``; ``sample_weight`` (or weights in the batches) weights each example's loss.

        See the module docstring for the convention (``sum_i w_i loss_i / N``).
        """
        if kwargs.get("class_weight") is not None and "y" not in self.batch_extras_spec():
            raise ValueError(f"{type(self).__name__} does not use class_weight (got {kwargs['class_weight']!r}): "
                             f"it weights examples by their label y, and this model takes no labels; "
                             f"give sample_weight")
        x, y = self._fit_input(x, y, sample_weight)
        if not self.built:
            self.build()
        self._plan_speed(x, kwargs)
        x, y, kwargs = self._array_epochs(x, y, kwargs)
        if kwargs.get("validation_data") is not None:
            kwargs["validation_data"] = self._validation_input(kwargs["validation_data"])
        return _raise_dataset_errors(super().fit, x, y, *args, **kwargs)

    def _array_epochs(self, x, y, kwargs):
        """Arrays as one dataset of every epoch's batches, iterated once: ``(x, y, kwargs)`` for Keras's ``fit``.

        Keras makes a new iterator over its array dataset every epoch, and the first batch of
        an epoch waits for the pipeline to start. Here the epochs follow each other in one
        iterator (``steps_per_epoch`` = the epoch's batches), so the next epoch's first batches
        are prefetched while the last ones train. The batches are those Keras makes: every
        example once an epoch, reshuffled every epoch (``shuffle=True``, from a seed drawn from
        TensorFlow's global generator, so ``keras.utils.set_random_seed`` repeats a run) or in
        order, the last batch smaller. Used on the default strategy when an epoch is a whole
        number of calls (``steps_per_execution`` divides its batches) and neither
        ``class_weight``, ``validation_split``, ``steps_per_epoch`` nor ``shuffle="batch"`` is
        given; otherwise Keras's own adapter. Measured on the 784-512-16 VAE, batch 100, 4,000
        examples, 30 epochs, ``compile`` defaults (whole processes, 4 runs each alternated with
        Keras's adapter, load average 6.4-8.7): 0.91x the wall time (pairs 0.86-0.97), the same
        CPU time (1.02x), 50 MB less memory.
        """
        shuffle = kwargs.get("shuffle", True)
        if not is_default_strategy(self.distribute_strategy) or shuffle not in (True, False) or any(
                kwargs.get(k) for k in ("class_weight", "validation_split", "steps_per_epoch")):
            return x, y, kwargs
        inputs = x if y is None else (x, y)
        leaves = tf.nest.flatten(inputs)
        if not leaves or not all(isinstance(leaf, np.ndarray) and leaf.ndim >= 1 for leaf in leaves):
            return x, y, kwargs
        batch = int(kwargs.get("batch_size") or 32)
        num = len(leaves[0])
        batches = -(-num // batch)
        if num == 0 or batches % self.steps_per_execution or any(len(leaf) != num for leaf in leaves):
            return x, y, kwargs
        seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64) if shuffle else None
        kwargs = {**kwargs, "steps_per_epoch": batches, "shuffle": False}
        kwargs.pop("batch_size", None)
        if kwargs.get("validation_data") is not None:
            kwargs["validation_batch_size"] = kwargs.get("validation_batch_size") or batch
        return array_epochs(inputs, batch, seed), None, kwargs

    def evaluate(self, x=None, y=None, *args, sample_weight=None, **kwargs):
        """Keras's ``evaluate``; ``sample_weight`` weights each example as in ``fit``."""
        if kwargs.get("_use_cached_eval_dataset"):
            # fit's validation after every epoch: Keras reads the dataset fit checked and cached
            # (x is not used); checking it again cost ~50 ms of CPU an epoch (a new checked
            # dataset traced each time) for the 784-512-16 VAE's 1,000 test examples.
            return _raise_dataset_errors(super().evaluate, x, y, *args, sample_weight=sample_weight, **kwargs)
        x, y = self._fit_input(x, y, sample_weight)
        if not self.built:
            self.build()
        return _raise_dataset_errors(super().evaluate, x, y, *args, **kwargs)

    def _checked_dataset(self, x, name="x"):
        """A ``tf.data`` input with the value checks numpy input gets (finite, the likelihood's range).

        Elements with a ``None`` entry (``(x, None, w)``) become dicts without it, so every
        training path (the fused one stacks whole elements) sees tensors only; weights are
        checked as they are read (finite, >= 0).
        """
        if not isinstance(x, tf.data.Dataset):
            return x
        if _has_absent_entry(x.element_spec):
            x = x.map(lambda *element: unpack_batch(element))
        x = _checks.check_dataset_values(
            x, unpack_x, name, (0.0, 1.0) if self.unit_interval_data else None,
            f"a {self.data_likelihood} likelihood" if self.data_likelihood else None)
        if SAMPLE_WEIGHT in unpack_batch(x.element_spec):
            x = _checks.check_dataset_values(x, lambda element: unpack_batch(element)[SAMPLE_WEIGHT],
                                             f"{name}'s sample_weight", (0.0, np.inf), "a weight of an example")
        return x


def array_epochs(inputs, batch_size, seed=None):
    """Batches of the arrays ``inputs`` (a structure of ``[N, ...]`` arrays), epoch after epoch, forever.

    Epoch ``e`` gathers the examples in the order ``stateless_shuffle(range(N), seed + e)``
    (``seed`` an int64 ``[2]`` tensor; in order when ``seed`` is None) in batches of
    ``batch_size``, the last one smaller when ``batch_size`` does not divide ``N``: each
    example once an epoch, as Keras's array adapter gives them, with one batch of indices
    gathered from the arrays at a time (the arrays are not copied per example).
    """
    num = len(tf.nest.flatten(inputs)[0])
    full, rest = divmod(num, batch_size)

    def epoch(e):
        order = tf.range(num, dtype=tf.int64)
        if seed is not None:
            order = tf.random.experimental.stateless_shuffle(order, seed=seed + e)
        batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full * batch_size], [full, batch_size]))
        if rest:
            batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size:]))
        return batches

    indices = tf.data.Dataset.counter().flat_map(epoch)
    data = tf.data.Dataset.from_tensors(inputs).repeat()
    ds = tf.data.Dataset.zip((indices, data)).map(
        lambda i, arrays: tf.nest.map_structure(lambda a: tf.gather(a, i), arrays),
        num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def auto_steps_per_execution(full_steps, base):
    """Steps per call for ``full_steps`` equal batches an epoch: a divisor near ``base``, so no call is left over.

    The fused XLA function compiles a second program for a call with fewer steps than
    ``steps_per_execution``; a divisor of the epoch's full batches in ``[base / 2, 4 base]``
    (the one nearest ``base``, the larger on a tie) avoids it. An epoch of fewer than ``base``
    batches runs as one call; without such a divisor, ``base``.
    """
    if full_steps < 1:
        return 1
    if full_steps <= base:
        return full_steps
    divisors = [d for d in range(max(1, base // 2), 4 * base + 1) if full_steps % d == 0]
    return min(divisors, key=lambda d: (abs(d - base), -d)) if divisors else base


def planned_speed(xla_pays, full_steps, partial, epochs, base_steps, break_even_steps):
    """``(jit_compile, steps_per_execution)`` for a fit of ``epochs`` x (``full_steps`` batches + a smaller one if ``partial``).

    XLA only when the model's step is faster under it (``xla_pays``) and the planned steps pay
    for every program XLA compiles: ``epochs * steps >= programs * break_even_steps``, with one
    program for the fused calls, one more for a call with fewer steps, one more for the smaller
    last batch (its shape differs).
    """
    steps = auto_steps_per_execution(full_steps, base_steps)
    programs = (full_steps > 0) + (full_steps % steps != 0) + bool(partial)
    total = epochs * (full_steps + bool(partial))
    return bool(xla_pays) and total >= max(programs, 1) * break_even_steps, steps


def _checked_weights(sample_weight, batch):
    """Array weights ``[N]`` float32 of ``N`` examples: finite and >= 0, shape ``[N]`` or ``[N, 1]``."""
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (batch,):
        raise ValueError(f"sample_weight must give one weight per example, shape ({batch},) or ({batch}, 1), "
                         f"got shape {np.shape(sample_weight)}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = w[~(np.isfinite(w) & (w >= 0))]
        raise ValueError(f"sample_weight must be finite and >= 0 (a weight counts an example's loss), got {bad[0]}")
    return w.astype(np.float32)


def _raise_dataset_errors(method, *args, **kwargs):
    """``method(*args, **kwargs)``, a failed ``tf.data`` value check raised as a one-line ``ValueError``."""
    try:
        return method(*args, **kwargs)
    except tf.errors.InvalidArgumentError as e:
        error = _checks.dataset_check_error(e)
        if error is None:
            raise
        raise error from None
