"""Training callbacks, constructible by name with JSON arguments (recipes list ``(name, kwargs)``).

Schedules set a model's non-trainable variable (``kl_weight``, ``temperature``) at the start of
every training batch, so the value a step sees depends only on the epoch and batch index.
"""

import keras
import tensorflow as tf

from keras_ae import _checks

KL_SCHEDULES = ("linear", "cyclical")


class _VariableSchedule(keras.callbacks.Callback):
    """Schedules ``model.<variable>`` as ``value(epoch progress, step)``, computed in the train step.

    At the start of training the callback registers itself with the model
    (``model.set_schedule``), which assigns :meth:`graph_value` of the optimizer's iteration
    count at the start of every step, inside the compiled step: the values are the same with 1
    or 10 steps per execution, and a resumed run continues from its restored step. An epoch of
    unknown length falls back to assigning before each batch. The variable must be one the model
    declares (``model.schedulable_variables()``). The value is also written to the epoch logs, so ``history.csv`` shows the schedule.
    """

    def __init__(self, variable):
        super().__init__()
        self.variable = variable
        self.steps_per_epoch = None
        self._in_graph = False
        self._epoch = 0
        self._step = 0

    def formula(self, epoch_progress, step):
        """The value as a tensor, from tensors: training progress in epochs and the step index."""
        raise NotImplementedError

    def value(self, epoch_progress, step=0):
        """The value after ``epoch_progress`` epochs, at training step ``step`` (a float)."""
        return float(self.formula(tf.constant(float(epoch_progress)), tf.constant(int(step), tf.int64)))

    def graph_value(self, step):
        """The value at the start of training step ``step`` (a tensor), for the model's train step."""
        step = tf.cast(step, tf.int64)
        return self.formula(tf.cast(step, tf.float32) / float(self.steps_per_epoch), step)

    def _target(self):
        """The model's variable, as it declares it (``schedulable_variables``), or ``ValueError`` naming it."""
        return self.model.schedule_variable(self.variable, type(self).__name__)

    def on_train_begin(self, logs=None):
        self._target()
        self.steps_per_epoch = (self.params or {}).get("steps")
        self._in_graph = bool(self.steps_per_epoch)
        if self._in_graph:
            self.model.set_schedule(self.variable, self)

    def on_train_end(self, logs=None):
        if self._in_graph:
            self.model.set_schedule(self.variable, None)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self._in_graph:
            return
        steps = (self.params or {}).get("steps")
        progress = self._epoch + (batch / steps if steps else 0.0)
        self._target().assign(self.value(progress, self._step))
        self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.variable] = float(keras.ops.convert_to_numpy(self._target()))


class KLWarmup(_VariableSchedule):
    """Anneal the KL weight ``model.kl_weight`` from ``start`` to ``end``.

    Schedules, with ``t`` the training progress in epochs (fractional within an epoch):

    - ``"linear"`` (Sonderby et al. 2016): ``w(t) = start + (end - start) * min(1, t / epochs)``;
    - ``"cyclical"`` (Fu et al. 2019): ``epochs`` is one cycle; within a cycle
      ``w = start + (end - start) * min(1, tau / ratio)``, ``tau`` the fraction of the cycle done;
      after ``cycles`` cycles (if given) ``w = end``.

    Args:
        epochs: warm-up length (linear) or cycle length (cyclical) in epochs, > 0, default 10.
        schedule: ``"linear"`` (default) or ``"cyclical"``.
        start: weight at the start, >= 0, default 0.0.
        end: weight after warm-up, >= 0, default 1.0.
        ratio: cyclical only: fraction of a cycle spent increasing, in (0, 1], default 0.5.
        cycles: cyclical only: number of cycles, then constant; default None (cycle forever).
        variable: the model attribute to set, default ``"kl_weight"``.

    Example: ``model.fit(x, epochs=30, callbacks=[KLWarmup(epochs=10)])``; in a recipe
    ``callbacks=(("KLWarmup", {"epochs": 10}),)``.
    """

    def __init__(self, epochs=10, schedule="linear", start=0.0, end=1.0, ratio=0.5, cycles=None,
                 variable="kl_weight"):
        super().__init__(variable)
        _checks.check_choice(schedule, "schedule", KL_SCHEDULES)
        _checks.check_number(epochs, "epochs", minimum=0, exclusive_minimum=True)
        _checks.check_number(start, "start", minimum=0)
        _checks.check_number(end, "end", minimum=0)
        _checks.check_number(ratio, "ratio", minimum=0, maximum=1, exclusive_minimum=True)
        if cycles is not None:
            _checks.check_number(cycles, "cycles", minimum=1)
        self.epochs = float(epochs)
        self.schedule = schedule
        self.start = float(start)
        self.end = float(end)
        self.ratio = float(ratio)
        self.cycles = cycles

    def formula(self, epoch_progress, step):
        """The weight after ``epoch_progress`` epochs of training (tensors in, a tensor out)."""
        if self.schedule == "linear":
            fraction = tf.minimum(1.0, epoch_progress / self.epochs)
        else:
            tau = tf.math.floormod(epoch_progress, self.epochs) / self.epochs
            fraction = tf.minimum(1.0, tau / self.ratio)
            if self.cycles is not None:
                fraction = tf.where(epoch_progress >= self.cycles * self.epochs, 1.0, fraction)
        return self.start + (self.end - self.start) * fraction


class TemperatureAnnealing(_VariableSchedule):
    """Anneal the Gumbel-softmax temperature ``model.temperature`` (Jang et al. 2017, section 4).

    ``tau(s) = max(minimum, initial * exp(-rate * s))`` with ``s`` the training step, refreshed
    every ``every`` steps (Jang et al. use ``rate=1e-5``, ``every=500``, ``minimum=0.5`` on MNIST
    with 100k+ steps; small datasets need a larger rate).

    Args:
        initial: temperature at step 0, > 0, default 1.0.
        minimum: floor, > 0, default 0.5.
        rate: decay per step, >= 0, default 3e-4.
        every: steps between updates, >= 1, default 1.
        variable: the model attribute to set, default ``"temperature"``.

    Example: ``callbacks=(("TemperatureAnnealing", {"rate": 1e-3, "minimum": 0.5}),)``.
    """

    def __init__(self, initial=1.0, minimum=0.5, rate=3e-4, every=1, variable="temperature"):
        super().__init__(variable)
        _checks.check_number(initial, "initial", minimum=0, exclusive_minimum=True)
        _checks.check_number(minimum, "minimum", minimum=0, exclusive_minimum=True)
        _checks.check_number(rate, "rate", minimum=0)
        _checks.check_positive_int(every, "every")
        self.initial = float(initial)
        self.minimum = float(minimum)
        self.rate = float(rate)
        self.every = int(every)

    def formula(self, epoch_progress, step):
        """The temperature at training step ``step`` (tensors in, a tensor out)."""
        step = tf.cast((step // self.every) * self.every, tf.float32)
        return tf.maximum(self.minimum, self.initial * tf.exp(-self.rate * step))
