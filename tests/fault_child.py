"""A zoo or export command run with one fault aimed at a named moment (used by tests/test_faults.py).

    python tests/fault_child.py FAULT zoo|export ARGS...

``FAULT`` is a key of :data:`FAULTS`: ``kill:MOMENT`` SIGKILLs this process at that moment of the
real code path; ``enospc:WRITER`` makes that writer fail as a full disk does (``OSError(ENOSPC)``,
or TensorFlow's ``ResourceExhaustedError`` for the SavedModel writer); ``nan:loss`` makes the
decoder's last bias NaN when epoch 2 begins, ``nan:weights`` a weight NaN where the loss does not
see it (at the end of epoch 2). ``none`` runs the command as it is. The fault is a patch applied
here, so the library carries no test hook and each moment is reached every time, not by chance.
The exit status and stderr are the command's own.

Only the kills need this process. The ``enospc`` and ``nan`` faults take the function that applies
them (``setattr`` here), and the tests apply them with ``monkeypatch.setattr`` and run the command
through its ``main`` in their own process; so does :func:`failing_dynamic` (a TFLite dynamic file
failing as LiteRT does).
"""

import errno
import os
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _full(path):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def kill_mid_epoch():
    """In the second epoch, after its first training step: a backup of epoch 1 exists, epoch 2 is half done."""
    import keras

    from zoo import runner

    class KillInSecondEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self._epoch == 1:
                _die()

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

    build = runner.build_callbacks
    runner.build_callbacks = lambda recipe: build(recipe) + [KillInSecondEpoch()]


def kill_backup():
    """In the backup of epoch 2: its weights file is written, the metadata still names epoch 1."""
    from keras_ae.training import backup

    write = backup.atomic_write_json

    def metadata_then_die(path, obj, mode=None):
        if os.path.basename(path) == "training_metadata.json" and obj.get("epoch") == 2:
            assert os.path.isfile(os.path.join(os.path.dirname(path), obj["weights"]))
            _die()
        return write(path, obj, mode=mode)

    backup.atomic_write_json = metadata_then_die


def kill_evaluation():
    """During the test metrics after ``fit``: every epoch is backed up, nothing final is written."""
    from zoo import runner

    def evaluate(*args, **kwargs):
        _die()

    runner.test_metrics = evaluate


def kill_save():
    """During the save of ``model.keras``: the temporary file is written, not yet renamed."""
    from keras_ae.training import atomic

    def save_then_die(model, path):
        with atomic.atomic_file(path, prefix=".model.", suffix=".keras") as tmp:
            model.save(tmp)
            _die()

    atomic.atomic_save_model = save_then_die


def kill_export():
    """In an export, once the SavedModel is written into the staged version, at the first TFLite file."""
    from keras_ae import serving

    def convert(*args, **kwargs):
        _die()

    serving.export_tflite = convert


def enospc_model(patch=setattr):
    """The write of ``model.keras`` fails half-way."""
    from keras_ae.training import atomic

    def full_disk(model, path):
        with atomic.atomic_file(path, prefix=".model.", suffix=".keras") as tmp:
            with open(tmp, "wb") as f:
                f.write(b"PK half a model")
            raise _full(tmp)

    patch(atomic, "atomic_save_model", full_disk)


def enospc_saved_model(patch=setattr):
    """TensorFlow's SavedModel writer runs out of space (as it reports it: an OpError).

    ``patch(module, name, value)`` applies it (the ``enospc`` and ``nan`` faults take one: a test running
    the command in its own process passes ``monkeypatch.setattr``)."""
    import tensorflow as tf

    from keras_ae import serving

    def full_disk(model, path, check_finite=True):
        os.makedirs(os.path.join(path, "variables"), exist_ok=True)
        with open(os.path.join(path, "saved_model.pb.tmp1234"), "wb") as f:
            f.write(b"half")
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{path}/saved_model.pb.tmp1234; No space left on device")

    patch(serving, "write_saved_model", full_disk)


def _enospc_text_writer(match, patch=setattr):
    from keras_ae import training

    write = training.atomic_write_text

    def full_disk(path, text, mode=None):
        if match(path):
            raise _full(path)
        return write(path, text, mode=mode)

    patch(training, "atomic_write_text", full_disk)


def enospc_tflite(patch=setattr):
    """The second TFLite file's write fails (the first one is written)."""
    from keras_ae.serving import tflite

    write = tflite.atomic_write_bytes
    calls = []

    def full_disk(path, data, mode=None):
        calls.append(path)
        if len(calls) == 2:
            raise _full(path)
        return write(path, data, mode=mode)

    patch(tflite, "atomic_write_bytes", full_disk)


def nan_at_epoch_2(index):
    """When epoch 2 begins, the trainable weight ``index`` becomes NaN (the last one: the loss goes NaN)."""
    def apply(patch=setattr):
        import keras
        import numpy as np

        from zoo import runner

        class Poison(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:
                    variable = self.model.trainable_variables[index]
                    variable.assign(variable * np.nan)

        build = runner.build_callbacks
        patch(runner, "build_callbacks", lambda recipe: build(recipe) + [Poison()])

    return apply


def failing_dynamic(convert):
    """``convert`` (``serving.export_tflite``) whose ``dynamic`` file cannot be made (as LiteRT failing
    vae-cb-digits's int8 DIV says it); the other quantizations convert."""
    from keras_ae import serving

    def dynamic_fails(model, path, quantization="none", **kwargs):
        if quantization == "dynamic":
            raise serving.ExportError("the TFLite dynamic file does not run in LiteRT: Node number 32 (DIV) "
                                      "failed to invoke")
        return convert(model, path, quantization, **kwargs)

    return dynamic_fails


def nan_weights_unseen_by_the_loss(patch=setattr):
    """At the end of epoch 2 (its steps and validation done), a weight becomes NaN: the logs stay finite."""
    import keras
    import numpy as np

    from zoo import runner

    class Poison(keras.callbacks.Callback):  # the recipe's callbacks run before StopOnNaN's epoch end
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                variable = self.model.trainable_variables[0]
                variable.assign(variable * np.nan)

    build = runner.build_callbacks
    patch(runner, "build_callbacks", lambda recipe: build(recipe) + [Poison()])


FAULTS = {
    "none": lambda: None,
    "kill:mid-epoch": kill_mid_epoch,
    "kill:backup": kill_backup,
    "kill:evaluation": kill_evaluation,
    "kill:save": kill_save,
    "kill:export": kill_export,
    "nan:loss": nan_at_epoch_2(-1),
    "nan:weights": nan_weights_unseen_by_the_loss,
    "enospc:model.keras": enospc_model,
    "enospc:saved_model": enospc_saved_model,
    "enospc:tflite": enospc_tflite,
    "enospc:request": lambda patch=setattr: _enospc_text_writer(lambda p: os.sep + "requests" + os.sep in p, patch),
    "enospc:models.config": lambda patch=setattr: _enospc_text_writer(lambda p: p.endswith("models.config"), patch),
}


def run_child(fault, *argv, timeout=300):
    """Run ``fault_child.py FAULT ARGV...`` in a subprocess (for the tests): ``(exit status, stdout, stderr)``.

    The exit status of a process killed by SIGKILL is ``-9``.
    """
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), fault, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def main(argv):
    from zoo.native_logs import filtered_stderr

    fault, command, args = argv[0], argv[1], argv[2:]
    with filtered_stderr():  # the patches import TensorFlow: its start-up noise is not the command's
        FAULTS[fault]()
    if command == "zoo":
        from zoo.cli import main as run
    else:
        from export.cli import main as run
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
