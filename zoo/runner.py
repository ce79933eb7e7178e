"""What ``python -m zoo train``, ``eval`` and ``bench`` share, and a training run as one function.

``train_run`` reads top to bottom: strategy, data, model, callbacks, ``fit``, the ``post_fit``
hook, evaluation, then the run directory's last files. The run directory's lifecycle
(``config.json``, ``history.csv`` and backups, pictures, ``metrics.json``, and ``model.keras``
last: a run directory is complete exactly when ``model.keras`` is there) is
:mod:`keras_ae.training.run_directory`; its errors reach the user here as ``CliError``. The
command line (``zoo.cli``) resolves its arguments and calls it; ``zoo.bench``
builds models with the same helpers. TensorFlow is imported only inside the functions, after the
strategy is chosen: multi-worker collectives are configured when TensorFlow starts.

Example::

    from zoo import runner

    result = runner.train_run(runner.resolve_recipe("vae-digits"), "digits", epochs=2, batch_size=64,
                              learning_rate=1e-3, seed=0, run_dir="runs/vae-digits-try")
    result.metrics["nll"]
"""

import contextlib
import dataclasses
import hashlib
import time
from typing import Optional

import numpy as np


class CliError(Exception):
    """An error the user can fix: printed as one line, exit status 2."""


@dataclasses.dataclass(frozen=True)
class Speed:
    """How a run is distributed and compiled (the ``--strategy``, ``--precision``, ``--jit`` and
    ``--steps-per-execution`` options); ``"auto"`` and ``None`` mean the measured fast defaults."""

    strategy: str = "auto"
    precision: str = "float32"
    jit: str = "auto"
    steps_per_execution: Optional[int] = None

    @classmethod
    def from_args(cls, args):
        """The speed options of parsed command-line ``args``."""
        return cls(args.strategy, args.precision, args.jit, args.steps_per_execution)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """How a training run ended.

    Attributes:
        status: ``"completed"``, ``"failed"`` (the loss stopped being finite; ``metrics.json`` says
            so) or ``"worker"`` (a non-chief worker, which leaves the run directory to the chief).
        run_dir: the run directory.
        metrics: what ``metrics.json`` holds once completed (test metrics, status, train seconds).
        files: the names written in ``run_dir`` once completed.
        weights_digest: ``weights_digest`` of the trained model (equal on every worker).
        error: why a failed run stopped.
    """

    status: str
    run_dir: str
    metrics: dict = dataclasses.field(default_factory=dict)
    files: tuple = ()
    weights_digest: Optional[str] = None
    error: Optional[str] = None


# -- names, data, models ---------------------------------------------------------------------
def resolve_recipe(name):
    """The registered recipe ``name``, or ``CliError`` listing the known names."""
    from keras_ae.presets import UnknownRecipeError, get_recipe

    try:
        return get_recipe(name)
    except UnknownRecipeError as e:
        raise CliError(str(e)) from None


def resolve_dataset(name):
    """The checked dataset name (``digits``, ``mnist``, ..., ``npz:PATH``), or ``CliError``."""
    from keras_ae import data

    try:
        return data.check_dataset_name(name)
    except ValueError as e:
        raise CliError(str(e).splitlines()[0]) from None


def ground_truth_of(dataset):
    """The ground-truth factor space of ``dataset`` for the disentanglement metrics, or ``CliError``."""
    from keras_ae import data

    try:
        spec = data.dataset_spec(dataset)
    except ValueError as e:
        raise CliError(str(e).splitlines()[0]) from None
    if spec.ground_truth is None:
        names = ", ".join(n for n in data.dataset_names() if data.dataset_spec(n).ground_truth is not None)
        raise CliError(f"--disentanglement needs a dataset with ground-truth factors to sample from, and {dataset} "
                       f"has none; train on one that has ({names}, or dsprites-procedural:N)")
    return spec.ground_truth(dataset)


def load_split(dataset, split, binarize, seed, data_dir=None, download=False):
    """Arrays of one split; Bernoulli recipes evaluate on one fixed binarization of the test set.

    ``data_dir`` and ``download`` reach TFDS (``--data-dir``, ``--download``).
    """
    from keras_ae import data

    static = "static" if binarize in ("static", "dynamic") and split == "test" else binarize
    if split == "train" and binarize == "dynamic":
        static = None  # sampled afresh each epoch by the pipeline
    try:
        return data.load_arrays(dataset, split, binarize=static, seed=seed, data_dir=data_dir, download=download)
    except ValueError as e:
        raise CliError(str(e).splitlines()[0]) from None


def build_model(recipe, input_shape, seed, **overrides):
    """The recipe's model for data of ``input_shape`` (a recipe is data: class name + arguments)."""
    from keras_ae import models

    cls = getattr(models, recipe.model)
    kwargs = {**recipe.model_args, **overrides}
    try:
        return cls(input_shape=tuple(input_shape), seed=seed, **kwargs)
    except (TypeError, ValueError) as e:
        reason = str(e).splitlines()[0]
        if isinstance(e, TypeError) or "keyword argument" in reason:  # an argument it does not take (--set)
            raise CliError(f"recipe {recipe.name}: {recipe.model} does not take the arguments given "
                           f"({reason})") from None
        stage = cls.previous_stage
        if stage in overrides and not isinstance(overrides[stage], dict):  # the trained model of --from
            raise CliError(f"recipe {recipe.name} cannot build on the run given with --from: {reason}") from None
        if overrides:
            raise CliError(f"recipe {recipe.name} with {overrides}: {reason}") from None
        # e.g. a conv recipe on vector data: the model says what it needs
        raise CliError(f"recipe {recipe.name} cannot take data of shape {tuple(input_shape)}: {reason}") from None


def stage_argument(recipe):
    """The constructor argument that takes the first stage of a two-stage recipe's model, else None.

    A recipe names a model class or a named configuration (a function returning a model of its
    declared ``family``, e.g. ``FactorVAE`` a :class:`keras_ae.models.VAE`): the class declares
    ``previous_stage``.
    """
    import inspect

    from keras_ae import models

    cls = getattr(models, recipe.model, None)
    if cls is not None and not inspect.isclass(cls):
        cls = cls.family  # a named configuration
    return None if cls is None else cls.previous_stage


def previous_stage(recipe, from_run):
    """``{argument: model}``: the trained model of ``from_run`` for a two-stage recipe, else ``{}``.

    The recipe's class names the constructor argument in ``previous_stage`` (e.g. the prior over
    a VQ-VAE's codes takes ``autoencoder``). ``CliError`` when ``--from`` is missing for such a
    recipe or given to another one.
    """
    argument = stage_argument(recipe)
    if argument is None:
        if from_run:
            raise CliError(f"recipe {recipe.name} ({recipe.model}) does not build on another run; leave out --from")
        return {}
    if not from_run:
        raise CliError(f"recipe {recipe.name} trains on the model of a finished run: pass --from RUN_DIR")
    _, model = load_run(from_run)
    return {argument: model}


def build_callbacks(recipe):
    """The recipe's callbacks, built by name from ``keras_ae.callbacks``."""
    from keras_ae import callbacks as callback_module

    return [getattr(callback_module, name)(**kwargs) for name, kwargs in recipe.callbacks]


def test_metrics(model, x_test, num_samples, extras=None):
    """``keras_ae.evaluation.evaluate_model`` as JSON numbers (counts stay integers)."""
    from keras_ae import evaluation

    metrics = evaluation.evaluate_model(model, x_test, num_samples=num_samples, extras=extras)
    return {k: int(v) if isinstance(v, (int, np.integer)) else float(v) if hasattr(v, "__float__") else v
            for k, v in metrics.items()}


# -- video datasets: consecutive frames and true positions -------------------------------------
def sequences_of(dataset, split):
    """The ``keras_ae.data.video.VideoSplit`` (frames as sequences, true positions) of a video dataset, else None."""
    from keras_ae import data

    spec = data.dataset_spec(dataset)
    return None if spec.load_sequences is None else spec.load_sequences(dataset, split)


def _check_sequence_model(model, dataset, recipe_name):
    """``CliError`` unless the zoo can make the batch entries ``model`` needs from ``dataset``."""
    from keras_ae import data
    from keras_ae.data import video

    needs = sorted(model.batch_extras_spec())
    name = f"recipe {recipe_name} ({type(model).__name__})"
    if needs != sorted(video.NEIGHBOUR_KEYS):
        raise CliError(f"{name} needs the batch entries {needs}, which zoo train cannot make; "
                       "train it with your own batches (docs/adding-a-model.md)")
    if data.dataset_spec(dataset).load_sequences is None:
        videos = ", ".join(n for n in data.dataset_names() if data.dataset_spec(n).load_sequences is not None)
        raise CliError(f"{name} trains on consecutive frames, and {dataset} is not a video dataset; "
                       f"train it on one ({videos})")


def labels_needed(model):
    """How ``model`` takes labels from the dataset, by its declarations: ``"all"`` (a model conditioned
    on labels: every example labelled), ``"few"`` (a semi-supervised model, one that classifies and
    infers its label: labels ``-1`` mark unlabelled examples), else None."""
    capabilities = model.capabilities()
    if set(model.batch_extras_spec()) != {"y"} or capabilities["num_classes"] is None \
            or "y" not in capabilities["condition_spec"]:
        return None
    return "few" if capabilities["can_classify"] and not capabilities["condition_required"] else "all"


def _check_labels(model, recipe, dataset, y, split):
    """The labels of a split for a model that takes them, or ``CliError`` (no labels, out of range)."""
    y = np.asarray(y)
    name = f"recipe {recipe.name} ({type(model).__name__})"
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise CliError(f"{name} trains on class labels, and the {split} split of {dataset} has none "
                       "(its labels are -1); train it on a labelled dataset (digits, mnist, ...)")
    classes = model.capabilities()["num_classes"]
    if y.size and y.max() >= classes:
        raise CliError(f"{name} has {classes} classes, and the {split} split of {dataset} has labels up "
                       f"to {int(y.max())}; set num_classes with --set num_classes={int(y.max()) + 1}")
    return y.astype(np.int32)


def _labelled_pipeline(model, recipe, dataset, x_train, y_train, batch_size, seed):
    """Training batches ``{"x", "y"}``: every label (a conditional model), or a few labels per class
    mixed with unlabelled examples (a semi-supervised model, ``recipe.labels_per_class`` and
    ``recipe.labelled_per_batch``)."""
    import tensorflow as tf

    from keras_ae.data import semisupervised

    kind = labels_needed(model)
    name = f"recipe {recipe.name} ({type(model).__name__})"
    if recipe.binarize == "dynamic":
        raise CliError(f"{name} trains on labelled batches, which are not binarized afresh each epoch; "
                       "give the recipe binarize='static' or None")
    y_train = _check_labels(model, recipe, dataset, y_train, "train")
    if kind == "all":
        if recipe.labels_per_class is not None or recipe.labelled_per_batch is not None:
            raise CliError(f"{name} trains on every label; labels_per_class and labelled_per_batch are for "
                           "semi-supervised models (M2, ADGM, M1M2)")
        ds = tf.data.Dataset.from_tensor_slices({"x": np.asarray(x_train, np.float32), "y": y_train})
        return ds.shuffle(min(len(x_train), 60_000), seed=seed, reshuffle_each_iteration=True).batch(
            batch_size).prefetch(tf.data.AUTOTUNE)
    if recipe.labels_per_class is None or recipe.labelled_per_batch is None:
        raise CliError(f"{name} is semi-supervised: its recipe must give labels_per_class and labelled_per_batch")
    try:
        split = semisupervised.labelled_split(x_train, y_train, labels_per_class=recipe.labels_per_class,
                                              seed=seed, num_classes=model.capabilities()["num_classes"])
        return semisupervised.mixed_pipeline(split, batch_size, recipe.labelled_per_batch, seed=seed)
    except ValueError as e:
        raise CliError(f"{name} on {dataset}: {str(e).splitlines()[0]}") from None


def training_pipelines(model, recipe, dataset, x_train, x_test, batch_size, seed, y_train=None, y_test=None):
    """``(train_ds, test_ds)`` for ``fit``: batches of ``x``; for a model that needs neighbouring
    frames (``x_prev``, ``x_next``) consecutive-frame triples of the dataset's sequences; for a
    model that takes labels ``y`` (``labels_needed``) batches ``{"x", "y"}`` of the training
    labels (all, or a few mixed with unlabelled examples) and the test set with its labels."""
    from keras_ae import data
    from keras_ae.data import video

    if not model.batch_extras_spec():
        train_ds = data.training_pipeline(x_train, batch_size, shuffle=True, seed=seed,
                                          binarize="dynamic" if recipe.binarize == "dynamic" else None)
        return train_ds, data.evaluation_pipeline(x_test, batch_size)
    if labels_needed(model):
        import tensorflow as tf

        train_ds = _labelled_pipeline(model, recipe, dataset, x_train, y_train, batch_size, seed)
        y_test = _check_labels(model, recipe, dataset, y_test, "test")
        test_ds = tf.data.Dataset.from_tensor_slices({"x": np.asarray(x_test, np.float32), "y": y_test})
        return train_ds, test_ds.batch(batch_size)
    _check_sequence_model(model, dataset, recipe.name)
    return (video.window_pipeline(sequences_of(dataset, "train").frames, batch_size, shuffle=True, seed=seed),
            video.window_pipeline(sequences_of(dataset, "test").frames, batch_size, shuffle=False))


def evaluation_data(model, dataset, x_test, recipe_name="?", y_test=None):
    """``(x, extras)`` the test metrics run on: ``x_test``; for a model that needs neighbouring
    frames the middle frames of the test split's consecutive-frame triples and their neighbours;
    for a model that takes labels, ``x_test`` with ``{"y": y_test}``."""
    from keras_ae.data import video

    if not model.batch_extras_spec():
        return x_test, None
    if labels_needed(model):
        y = np.asarray(y_test) if y_test is not None else None
        if y is None or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise CliError(f"recipe {recipe_name} ({type(model).__name__}) is evaluated with the test labels, "
                           f"and the test split of {dataset} has none")
        return x_test, {"y": y.astype(np.int32)}
    _check_sequence_model(model, dataset, recipe_name)
    windows = video.frame_windows(sequences_of(dataset, "test").frames)
    return windows.pop("x"), windows


def position_metrics(model, dataset):
    """For a dataset with true object positions and a model with a float vector code: the R^2 of
    a linear map from the code to the positions (``keras_ae.evaluation.feature_points.position_r2``, fitted on
    the training frames, scored on the test frames) as ``position_r2``, ``position_r2_min`` and
    ``position_r2_train``; else ``{}``."""
    from keras_ae import pictures
    from keras_ae.evaluation import feature_points

    test = sequences_of(dataset, "test")
    if test is None or not pictures.has_vector_code(model):
        return {}
    train = sequences_of(dataset, "train")
    flat = lambda a: a.reshape((-1,) + a.shape[2:])  # noqa: E731  [S, T, ...] -> [S * T, ...]
    r2 = feature_points.position_r2(model, flat(train.frames), flat(train.positions), flat(test.frames),
                                    flat(test.positions))
    return {"position_r2": r2["r2"], "position_r2_min": r2["r2_min"], "position_r2_train": r2["r2_train"]}


def test_positions(dataset):
    """The true positions of the test frames (in ``load_arrays`` order) of a video dataset, else None."""
    test = sequences_of(dataset, "test")
    return None if test is None else test.positions.reshape((-1,) + test.positions.shape[2:])


def weights_digest(model):
    """SHA-256 of every weight's bytes: equal digests mean bitwise-equal models."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(w.tobytes())
    return digest.hexdigest()[:16]


# -- speed -----------------------------------------------------------------------------------
def setup_strategy(speed, batch_size):
    """Precision policy, strategy and checked global batch from the ``Speed`` options, or ``CliError``."""
    import os

    from keras_ae import training

    try:
        if os.environ.get(training.XLA_CACHE_VARIABLE):  # before anything is compiled (TensorFlow reads it once)
            training.enable_xla_cache(os.environ[training.XLA_CACHE_VARIABLE])
        training.set_precision(speed.precision)
        strategy = training.make_strategy(speed.strategy)
        training.check_global_batch(batch_size, strategy)
    except (ValueError, RuntimeError) as e:
        raise CliError(str(e).splitlines()[0]) from None
    if speed.steps_per_execution is not None and speed.steps_per_execution < 1:
        raise CliError(f"--steps-per-execution must be >= 1, got {speed.steps_per_execution}")
    return strategy


def compile_options(speed):
    """The ``compile`` arguments the user set (``--jit``, ``--steps-per-execution``); the rest are the model's defaults."""
    options = {}
    if speed.jit != "auto":
        options["jit_compile"] = speed.jit == "on"
    if speed.steps_per_execution is not None:
        options["steps_per_execution"] = speed.steps_per_execution
    return options


# -- run directories: the lifecycle is keras_ae.training.run_directory; here, its errors as CliError ---------
@contextlib.contextmanager
def _cli_errors():
    """A :class:`keras_ae.training.run_directory.RunDirectoryError` as the CLI's one-line ``CliError``."""
    from keras_ae.training.run_directory import RunDirectoryError

    try:
        yield
    except RunDirectoryError as e:
        raise CliError(str(e)) from None


def read_json(path, expect=None):
    """The JSON document at ``path`` (``expect=dict``: a JSON object), or ``CliError`` saying why it cannot be read."""
    from keras_ae.training import run_directory

    with _cli_errors():
        return run_directory.read_json(path, expect)


def read_run_config(run_dir, need_dataset=True):
    """The ``config.json`` of a zoo run directory, checked to be one, or ``CliError``."""
    from keras_ae.training import run_directory

    with _cli_errors():
        return run_directory.read_run_config(run_dir, need_dataset)


def is_chief_process(speed):
    """Whether this process writes the run directory: every process but a non-chief multi-worker task."""
    if speed.strategy != "multiworker":
        return True
    from keras_ae import training

    try:
        config = training.parse_tf_config()
    except ValueError as e:
        raise CliError(str(e).splitlines()[0]) from None
    task = config["task"]
    return task["type"] == "chief" or (task["type"] == "worker" and task["index"] == 0
                                        and "chief" not in config["cluster"])


@contextlib.contextmanager
def locked_run_dir(run_dir, lock=True):
    """Hold the run directory's lock for the block (``CliError`` if another process holds it)."""
    from keras_ae.training import run_directory

    with _cli_errors(), run_directory.locked(run_dir, lock):
        yield


def check_run_dir(run_dir, recipe, resume, chief=True):
    """The saved ``config.json`` of an interrupted run to resume (or ``None``), or ``CliError``
    (:func:`keras_ae.training.run_directory.check_run_dir`)."""
    from keras_ae.training import run_directory

    with _cli_errors():
        return run_directory.check_run_dir(run_dir, recipe.name, resume, chief)


def load_run(run_dir):
    """``(config, model)`` of a finished run directory, or ``CliError`` naming what is missing or broken."""
    from keras_ae.training import run_directory

    with _cli_errors():
        return run_directory.load_run(run_dir)


# -- train -----------------------------------------------------------------------------------
def train_run(recipe, dataset, *, epochs, batch_size, learning_rate, seed, run_dir, speed=Speed(),
              num_samples=100, verbose=1, resuming=False, command=None, model_overrides=None, data_dir=None,
              download=False, quiet=False, from_run=None):
    """Train ``recipe``'s model on ``dataset`` and write the run directory ``run_dir``.

    Args:
        recipe: a ``keras_ae.presets.Recipe`` (model class and arguments, binarization, callbacks).
        dataset: a checked dataset name (``resolve_dataset``).
        epochs, batch_size, learning_rate, seed: the training settings; ``batch_size`` is global.
        run_dir: the run directory (checked with ``check_run_dir`` by the caller).
        speed: the ``Speed`` options (strategy, precision, XLA, steps per execution).
        num_samples: importance samples of the test log-likelihood in ``metrics.json``.
        verbose: ``fit`` verbosity: 0 silent, 1 Keras's progress bar, 2 one plain line per epoch
            (``zoo.progress.EpochLine``).
        resuming: continue the interrupted run in ``run_dir`` from its backup (its ``config.json``
            and ``history.csv`` are kept).
        command: the command line recorded in ``config.json``.
        model_overrides: constructor arguments replacing the recipe's (``--set key=value``).
        data_dir, download: where TFDS finds the data and whether it may download it.
        quiet: print nothing (no "training ..." line).
        from_run: a finished run directory whose model is the first stage of this recipe's model
            (given as the constructor argument the class names in ``previous_stage``).

    Returns:
        A ``TrainResult``. Bad names, data or speed options raise ``CliError``.
    """
    # The strategy comes first: multi-worker collectives are configured when TensorFlow starts.
    strategy = setup_strategy(speed, batch_size)

    import keras

    from keras_ae import data, evaluation, pictures, training

    from keras_ae.training.run_directory import RunDirectory, versions, write_failure_message

    run = RunDirectory(run_dir, chief=training.is_chief(strategy))
    keras.utils.set_random_seed(seed)
    x_train, y_train = load_split(dataset, "train", recipe.binarize, seed, data_dir, download)
    x_test, y_test = load_split(dataset, "test", recipe.binarize, seed, data_dir, download)
    for split, x in (("train", x_train), ("test", x_test)):
        if not len(x):  # found now, not after training when the evaluation would fail
            raise CliError(f"dataset {dataset} has an empty {split} split; a run needs examples in both")
    with strategy.scope():
        stage = previous_stage(recipe, from_run)
        model = build_model(recipe, x_train.shape[1:], seed, **{**(model_overrides or {}), **stage})
        model.build()
        options = compile_options(speed)
        training.compile_model(model, learning_rate=learning_rate, **options)
    train_ds, test_ds = training_pipelines(model, recipe, dataset, x_train, x_test, batch_size, seed, y_train, y_test)

    history, resumed_at, changed = [], 0, {}
    # The settings a resumed run may change; each change is recorded with the epoch it takes effect.
    settings = {"dataset": dataset, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                "seed": seed, "model_overrides": dict(model_overrides or {}), "data_dir": data_dir,
                "strategy": speed.strategy, "replicas": strategy.num_replicas_in_sync, "precision": speed.precision,
                "compile": options, "versions": versions()}
    with _cli_errors():
        if resuming:  # a torn or foreign backup or history is found here, not inside fit
            history, resumed_at = run.resume_state(model, train_ds)
            if resumed_at > epochs:  # refused: training cannot be undone, and finishing at once says nothing
                raise CliError(f"--resume: {run_dir} has finished {resumed_at} epochs, more than --epochs {epochs}; "
                               f"pass --epochs {resumed_at} or more (without --epochs it trains to the recorded "
                               f"{read_run_config(run_dir, need_dataset=False).get('epochs')})")
            changed = run.record_resume(settings, resumed_at, command)
        else:
            run.write_config({
                "recipe": recipe.to_dict(),
                **settings,
                "input_shape": list(x_train.shape[1:]),
                "num_train": int(len(x_train)),
                "num_test": int(len(x_test)),
                "command": command,
                "from_run": from_run,
            })

    stop_on_nan = training.StopOnNaN()
    callbacks = build_callbacks(recipe) + [stop_on_nan] + run.callbacks(history, learning_rate=learning_rate)
    if verbose == 2:  # one plain line per epoch (Keras's verbose=2 prints two)
        from zoo.progress import EpochLine

        callbacks.append(EpochLine())
        verbose = 0
    if not quiet:
        print(f"training {recipe.name} on {dataset}: {len(x_train)} examples, {epochs} epochs, batch {batch_size}"
              + (f", {strategy.num_replicas_in_sync} replicas" if strategy.num_replicas_in_sync > 1 else "")
              + (f", resuming after epoch {resumed_at}" if resumed_at else "")
              + "".join(f", {k} {was} -> {now}" for k, (was, now) in changed.items() if k != "versions"),
              flush=True)
    start = time.perf_counter()
    try:
        model.fit(train_ds, validation_data=test_ds, epochs=epochs, callbacks=callbacks,
                  shuffle=False, verbose=verbose)  # the pipeline shuffles
    except OSError as e:  # a callback's write (history, backup) failed, e.g. on a full disk
        raise CliError(write_failure_message(run_dir, e)) from None
    train_seconds = round(time.perf_counter() - start, 2)

    if stop_on_nan.failure:
        failed = {"status": "failed", "error": stop_on_nan.failure, "train_seconds": train_seconds,
                  "last_good_epoch": stop_on_nan.last_good_epoch}
        run.record_failure(failed)
        return TrainResult("failed", run_dir, failed, error=stop_on_nan.failure)
    digest = weights_digest(model)
    if not run.chief:
        run.discard_worker_files()
        return TrainResult("worker", run_dir, weights_digest=digest)
    model.post_fit(x_train, seed=seed)

    # Evaluation first, then the run directory's last files (pictures, metrics.json, model.keras:
    # keras_ae.training.run_directory), so a run killed now is resumed (it only evaluates again).
    x_eval, eval_extras = evaluation_data(model, dataset, x_test, recipe.name, y_test)
    metrics = test_metrics(model, x_eval, num_samples, eval_extras)
    metrics.update(position_metrics(model, dataset))
    metrics.update(status="completed", train_seconds=train_seconds, epochs=epochs)
    metrics["definitions"] = evaluation.describe_metrics(metrics)

    def write_pictures():
        written = pictures.write_run_pictures(model, x_test, y_test, run_dir, seed=seed,
                                              positions=test_positions(dataset))
        return written + [pictures.loss_curves(training.read_history(run.history_path), run.file("loss_curves.png"))]

    try:
        files = run.finish(model, metrics, write_pictures)
    except OSError as e:  # e.g. a full disk: nothing half-written (atomic files), the backup is kept
        raise CliError(write_failure_message(run_dir, e)) from None
    return TrainResult("completed", run_dir, metrics, files, weights_digest=digest)
