"""One plain line per epoch: what ``python -m zoo train`` prints when its output is piped or redirected.

Keras's ``fit(verbose=2)`` prints two lines per epoch (``Epoch 38/200``, then the step count,
the time and the metrics), and ``verbose=1`` a progress bar drawn with backspaces. A log file
or a pipe is easier to read, grep and tail with one line per epoch, all of it on that line::

    epoch 38/200 - 1.2 s - loss: 24.5310 - reconstruction: 21.0042 - val_loss: 24.9012
"""

import sys
import time

import keras


def format_value(value):
    """A logged number as Keras's progress bar writes it: 4 decimals, scientific below 1e-3."""
    value = float(value)
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"


class EpochLine(keras.callbacks.Callback):
    """Print ``epoch E/N - T s - name: value - ...`` once per epoch (train logs, then ``val_`` logs).

    Args:
        stream: where to print, default ``sys.stdout`` (flushed after every line).

    Use it with ``fit(verbose=0)``; the zoo does for ``--verbose 2``, its default when stdout is
    not a terminal.
    """

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._start = None
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs")

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - (self._start if self._start is not None else time.perf_counter())
        logs = dict(logs or {})
        # the training logs, then the validation ones; the loss first in each
        names = sorted(logs, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss", k))
        parts = [f"epoch {epoch + 1}/{self._epochs}", f"{seconds:.1f} s"]
        for name in names:
            try:
                parts.append(f"{name}: {format_value(logs[name])}")
            except (TypeError, ValueError):
                continue  # not a number
        stream = self.stream or sys.stdout
        print(" - ".join(parts), file=stream, flush=True)
