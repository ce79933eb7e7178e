"""Backup and resume are bit-exact for every optimizer structure, not only one optimizer.

Each case trains a tiny model for two epochs without a break, and again with a break after the
first epoch: a fresh model (as a restarted process builds it) resumes from the backup. The
weights and every optimizer's state must be equal bit for bit. The structures: a discriminator
with its own optimizer (FactorVAE, AdversarialAutoencoder), an EMA codebook updated outside the
gradient (VQ-VAE), and the PixelCNN prior of a two-stage run over a frozen first stage.
"""

import keras
import numpy as np
import pytest

from keras_ae import models, training

SHAPE = (8, 8, 1)


def _data():
    rng = np.random.default_rng(0)
    return (rng.uniform(0, 1, (48,) + SHAPE) > 0.5).astype(np.float32)


def _vqvae():
    return models.VQVAE(input_shape=SHAPE, filters=(4,), num_codes=8, embedding_dim=2, ema=True, seed=0)


_FIRST_STAGE = {}


def _prior():
    """The PixelCNN prior over a trained, frozen VQ-VAE (the second stage of ``vqvae-prior-digits``)."""
    if "vq" not in _FIRST_STAGE:
        keras.utils.set_random_seed(1)
        vq = _vqvae()
        training.compile_model(vq)
        vq.fit(_data(), epochs=1, batch_size=16, shuffle=False, verbose=0)
        _FIRST_STAGE["vq"] = vq
        keras.utils.set_random_seed(0)  # as _train set it: the second stage starts from the same state
    return models.VQPixelCNNPrior(input_shape=SHAPE, autoencoder=_FIRST_STAGE["vq"], num_layers=2, filters=4, seed=0)


MODELS = {
    "vae": lambda: models.VAE(input_shape=SHAPE, latent_dim=2, hidden_units=(8,), seed=0),
    "factorvae": lambda: models.FactorVAE(input_shape=SHAPE, latent_dim=2, hidden_units=(8,), gamma=5.0,
                                          discriminator_units=(8,), seed=0),
    "aae": lambda: models.AdversarialAutoencoder(input_shape=SHAPE, latent_dim=2, hidden_units=(8,),
                                                 discriminator_units=(8,), seed=0),
    "vqvae-ema": _vqvae,
    "vqvae-prior": _prior,
}


def _state(model):
    """Every weight of the model and every variable of each of its optimizers, as numpy arrays."""
    optimizers = [model.optimizer] + list(model.group_optimizers)
    return [np.asarray(w) for w in model.get_weights()] + [
        np.asarray(v) for opt in optimizers for v in opt.variables]


def _train(build, backup_dir, epochs, compile_first):
    """A fresh model (compiled before or after it is built, both orders happen) fit with the backup.

    The global seed is set first, as a new process of ``python -m zoo train`` does.
    """
    keras.utils.set_random_seed(0)
    model = build()
    if compile_first:
        training.compile_model(model)
        model.build()
    else:
        model.build()
        training.compile_model(model)
    model.fit(_data(), epochs=epochs, batch_size=16, shuffle=False, verbose=0,
              callbacks=[training.AtomicBackupAndRestore(backup_dir)])
    return model


@pytest.mark.parametrize("compile_first", [True, False], ids=["compiled-then-built", "built-then-compiled"])
@pytest.mark.parametrize("name", list(MODELS))
def test_resume_after_an_epoch_equals_the_uninterrupted_run(name, compile_first, tmp_path, recwarn):
    build = MODELS[name]
    whole = _state(_train(build, str(tmp_path / "whole"), 2, compile_first))
    _train(build, str(tmp_path / "broken"), 1, compile_first)  # the process dies after epoch 1 ...
    assert training.backup_epoch(str(tmp_path / "broken")) == 1
    resumed = _train(build, str(tmp_path / "broken"), 2, compile_first)  # ... and a new one resumes
    assert training.backup_epoch(str(tmp_path / "broken")) == 2
    state = _state(resumed)
    assert len(state) == len(whole)
    for i, (a, b) in enumerate(zip(whole, state)):
        assert a.shape == b.shape and np.array_equal(a, b), f"{name}: variable {i} differs after resuming"
    # Keras skips (with a warning) optimizer state whose variable count does not match: not here.
    assert not [w for w in recwarn if "Skipping variable loading for optimizer" in str(w.message)]


@pytest.mark.parametrize("name", ["factorvae", "aae"])
def test_a_backup_loaded_before_fit_restores_every_optimizer_on_its_own_variables(name, tmp_path, recwarn):
    """``check_backup`` (what ``--resume`` runs before ``fit``) on a model compiled before it was built.

    Its optimizers are not built yet; built on every trainable variable, the main one would not
    match the saved state (it never trains the discriminator), and Keras would skip that state.
    """
    trained = _train(MODELS[name], str(tmp_path / "backup"), 1, compile_first=False)
    keras.utils.set_random_seed(0)
    model = MODELS[name]()
    training.compile_model(model)
    model.build()
    assert training.check_backup(model, str(tmp_path / "backup")) == 1
    assert len(_state(model)) == len(_state(trained))
    for i, (a, b) in enumerate(zip(_state(trained), _state(model))):
        assert a.shape == b.shape and np.array_equal(a, b), f"{name}: variable {i} was not restored"
    assert not [w for w in recwarn if "Skipping variable loading for optimizer" in str(w.message)]


class CtrlCAfterEpoch(keras.callbacks.Callback):
    """Ctrl-C at the end of epoch ``epoch`` (0-based), once its backup is written (it runs after the backup)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_the_pixelcnn_prior_of_a_two_stage_run_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
    from zoo import cli, runner

    fast = ["--verbose", "0", "--num-samples", "2", "--quiet"]
    first = str(tmp_path / "vq")
    assert cli.main(["train", "vqvae-digits", "--epochs", "1", "--out", first, *fast]) == 0
    prior = ["train", "vqvae-prior-digits", "--from", first, "--epochs", "2", "--set", "num_layers=2",
             "--set", "filters=8", *fast]
    assert cli.main([*prior, "--out", str(tmp_path / "whole")]) == 0
    whole = runner.weights_digest(training.load_model_file(str(tmp_path / "whole" / "model.keras")))

    run_dir = str(tmp_path / "run")
    from keras_ae.training import run_directory

    callbacks = run_directory.RunDirectory.callbacks
    monkeypatch.setattr(run_directory.RunDirectory, "callbacks",
                        lambda self, history, **kwargs: callbacks(self, history, **kwargs) + [CtrlCAfterEpoch(0)])
    with pytest.raises(KeyboardInterrupt):
        cli.main([*prior, "--out", run_dir])
    monkeypatch.undo()
    assert training.backup_epoch(str(tmp_path / "run" / "backup")) == 1
    assert cli.main(["train", "vqvae-prior-digits", "--out", run_dir, "--resume", *fast]) == 0
    assert runner.weights_digest(training.load_model_file(str(tmp_path / "run" / "model.keras"))) == whole
