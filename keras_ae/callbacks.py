"""Training callbacks, constructible by name with JSON arguments (recipes list ``(name, kwargs)``).

Schedules set a model's non-trainable variable (``kl_weight``, ``temperature``) at the start of
every training batch, so the value a step sees depends only on the epoch and batch index.
"""

import math

import keras

from keras_ae import _checks

KL_SCHEDULES = ("linear", "cyclical")


class _VariableSchedule(keras.callbacks.Callback):
    """Sets ``model.<variable>`` to ``value(progress)`` before each batch; progress in epochs (a float).

    The value is also written to the epoch logs, so ``history.csv`` shows the schedule.
    """

    def __init__(self, variable):
        super().__init__()
        self.variable = variable
        self._epoch = 0
        self._step = 0

    def value(self, epoch_progress, step):
        raise NotImplementedError

    def _target(self):
        target = getattr(self.model, self.variable, None)
        if target is None or not hasattr(target, "assign"):
            raise ValueError(
                f"{type(self).__name__} needs a model with a `{self.variable}` variable; "
                f"{type(self.model).__name__} has none"
            )
        return target

    def on_train_begin(self, logs=None):
        self._target()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = (self.params or {}).get("steps")
        progress = self._epoch + (batch / steps if steps else 0.0)
        self._target().assign(float(self.value(progress, self._step)))
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

    def value(self, epoch_progress, step=None):
        """The weight after ``epoch_progress`` epochs of training."""
        if self.schedule == "linear":
            fraction = min(1.0, epoch_progress / self.epochs)
        else:
            if self.cycles is not None and epoch_progress >= self.cycles * self.epochs:
                return self.end
            tau = (epoch_progress % self.epochs) / self.epochs
            fraction = min(1.0, tau / self.ratio)
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

    def value(self, epoch_progress, step):
        """The temperature at training step ``step``."""
        step = (step // self.every) * self.every
        return max(self.minimum, self.initial * math.exp(-self.rate * step))
