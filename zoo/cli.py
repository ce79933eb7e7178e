"""The ``python -m zoo`` command line.

    python -m zoo list
    python -m zoo train NAME [--dataset D] [--epochs N] [--batch-size B] [--out DIR] [--seed S]
                             [--strategy auto|default|mirrored|multiworker|tpu]
                             [--precision float32|mixed_float16|mixed_bfloat16] [--resume]
    python -m zoo eval RUN_DIR [--num-samples K]
    python -m zoo bench NAME [--steps N] [--batch-size B]

Bad names (recipe, dataset, strategy), a malformed TF_CONFIG, a global batch the replicas cannot
share and bad run directories end with exit status 2 and one line on stderr, never a traceback.
A loss that stops being finite ends training with exit status 1 and ``"status": "failed"`` in
``metrics.json``.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np


class CliError(Exception):
    """An error the user can fix: printed as one line, exit status 2."""


def _parser():
    parser = argparse.ArgumentParser(prog="python -m zoo", description="The keras-ae model zoo.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="print the recipes as a table")

    train = sub.add_parser("train", help="train a recipe and write a run directory")
    train.add_argument("name", help="recipe name (see `python -m zoo list`)")
    train.add_argument("--dataset", help="dataset instead of the recipe's (digits, mnist, ..., npz:PATH)")
    train.add_argument("--epochs", type=int, help="epochs instead of the recipe's")
    train.add_argument("--batch-size", type=int, help="global batch size instead of the recipe's")
    train.add_argument("--out", help="run directory (default runs/NAME-TIMESTAMP)")
    train.add_argument("--seed", type=int, help="seed of weights, shuffling and noise (default 0)")
    train.add_argument("--num-samples", type=int, default=100,
                       help="importance samples for the test log-likelihood in metrics.json (default 100)")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity")
    train.add_argument("--learning-rate", type=float, help="Adam learning rate instead of the recipe's")
    _add_speed_arguments(train)
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in --out from its last finished epoch")

    bench = sub.add_parser("bench", help="measure training speed on random data of the recipe's shape")
    bench.add_argument("name", help="recipe name (see `python -m zoo list`)")
    bench.add_argument("--steps", type=int, default=300, help="timed training steps (default 300)")
    bench.add_argument("--warmup", type=int, default=50, help="untimed steps after compilation (default 50)")
    bench.add_argument("--batch-size", type=int, help="global batch size instead of the recipe's")
    _add_speed_arguments(bench)

    ev = sub.add_parser("eval", help="recompute the test metrics of a run directory")
    ev.add_argument("run_dir")
    ev.add_argument("--num-samples", type=int, default=1000,
                    help="importance samples for the test log-likelihood (default 1000)")
    return parser


def _add_speed_arguments(parser):
    from keras_ae import training

    parser.add_argument("--strategy", default="auto",
                        help=f"tf.distribute strategy: {', '.join(training.STRATEGIES)} (default auto)")
    parser.add_argument("--precision", default="float32",
                        help=f"dtype policy: {', '.join(training.PRECISIONS)} (default float32)")
    parser.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                        help="XLA compilation of the train step (default: the measured fast default)")
    parser.add_argument("--steps-per-execution", type=int,
                        help="train steps per tf.function call (default: the measured fast default)")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    try:
        if args.command == "list":
            return cmd_list()
        if args.command == "train":
            return cmd_train(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "bench":
            from zoo.bench import cmd_bench

            return cmd_bench(args)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


# -- list ------------------------------------------------------------------------------------
def cmd_list():
    from zoo.recipes import RECIPES

    rows = [(r.name, r.model, r.dataset, str(r.epochs), str(r.batch_size), r.description)
            for r in sorted(RECIPES.values(), key=lambda r: r.name)]
    header = ("recipe", "model", "dataset", "epochs", "batch", "description")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header[:-1])]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + cells[-1]  # noqa: E731
    print(line(header))
    print(line(tuple("-" * w for w in widths) + ("-" * len(header[-1]),)))
    for row in rows:
        print(line(row))
    return 0


# -- shared helpers --------------------------------------------------------------------------
def resolve_recipe(name):
    from zoo.recipes import UnknownRecipeError, get_recipe

    try:
        return get_recipe(name)
    except UnknownRecipeError as e:
        raise CliError(str(e)) from None


def resolve_dataset(name):
    from keras_ae import data

    try:
        return data.check_dataset_name(name)
    except ValueError as e:
        raise CliError(str(e).splitlines()[0]) from None


def load_split(dataset, split, binarize, seed):
    """Arrays of one split; Bernoulli recipes evaluate on one fixed binarization of the test set."""
    from keras_ae import data

    static = "static" if binarize in ("static", "dynamic") and split == "test" else binarize
    if split == "train" and binarize == "dynamic":
        static = None  # sampled afresh each epoch by the pipeline
    try:
        return data.load_arrays(dataset, split, binarize=static, seed=seed)
    except ValueError as e:
        raise CliError(str(e).splitlines()[0]) from None


def build_model(recipe, input_shape, seed, **overrides):
    """The recipe's model for data of ``input_shape`` (a recipe is data: class name + arguments)."""
    from keras_ae import models

    cls = getattr(models, recipe.model)
    kwargs = {**recipe.model_args, **overrides}
    return cls(input_shape=tuple(input_shape), seed=seed, **kwargs)


def build_callbacks(recipe):
    from keras_ae import callbacks as callback_module

    built = []
    for name, kwargs in recipe.callbacks:
        built.append(getattr(callback_module, name)(**kwargs))
    return built


def _versions():
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "tensorflow_probability": tfp.__version__}


def test_metrics(model, x_test, num_samples):
    from keras_ae import evaluation

    metrics = evaluation.evaluate_model(model, x_test, num_samples=num_samples)
    # numpy scalars -> JSON numbers; counts stay integers
    return {k: int(v) if isinstance(v, (int, np.integer)) else float(v) if hasattr(v, "__float__") else v
            for k, v in metrics.items()}


# -- train -----------------------------------------------------------------------------------
def setup_strategy(args, batch_size):
    """Precision policy, strategy and checked global batch from the speed options, or ``CliError``."""
    from keras_ae import training

    try:
        training.set_precision(args.precision)
        strategy = training.make_strategy(args.strategy)
        training.check_global_batch(batch_size, strategy)
    except ValueError as e:
        raise CliError(str(e).splitlines()[0]) from None
    if args.steps_per_execution is not None and args.steps_per_execution < 1:
        raise CliError(f"--steps-per-execution must be >= 1, got {args.steps_per_execution}")
    return strategy


def compile_options(args, strategy, recipe=None, model=None):
    """``jit_compile`` and ``steps_per_execution`` for ``compile``: the user's or the fast defaults."""
    from keras_ae import training

    options = training.fast_compile_options(strategy, per_batch_callbacks=bool(recipe and recipe.callbacks),
                                            model=model)
    if args.jit != "auto":
        options["jit_compile"] = args.jit == "on"
    if args.steps_per_execution is not None:
        options["steps_per_execution"] = args.steps_per_execution
    return options


def weights_digest(model):
    """SHA-256 of every weight's bytes: equal digests mean bitwise-equal models."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(w.tobytes())
    return digest.hexdigest()[:16]


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot read {path}: {e}") from None


def check_run_dir(run_dir, recipe, resume):
    """The saved ``config.json`` of an interrupted run to resume (or ``None``), or ``CliError``."""
    if os.path.exists(os.path.join(run_dir, "model.keras")):
        raise CliError(f"{run_dir} already holds a trained model; choose another --out")
    config_path = os.path.join(run_dir, "config.json")
    previous = _read_json(config_path) if os.path.isfile(config_path) else None
    if previous is not None:
        other = previous.get("recipe", {}).get("name")
        if other != recipe.name:
            raise CliError(f"{run_dir} holds a run of recipe {other!r}, not {recipe.name!r}; choose another --out")
    if not resume and os.path.isdir(os.path.join(run_dir, "backup")):
        raise CliError(f"{run_dir} holds an interrupted run; pass --resume to continue it or choose another --out")
    return previous if resume else None


def cmd_train(args):
    recipe = resolve_recipe(args.name)
    if args.resume and not args.out:
        raise CliError("--resume needs --out RUN_DIR, the run to continue")
    run_dir = os.path.abspath(args.out or os.path.join("runs", f"{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}"))
    previous = check_run_dir(run_dir, recipe, args.resume)
    saved = previous or {}
    dataset = resolve_dataset(args.dataset or saved.get("dataset") or recipe.dataset)
    epochs = args.epochs or saved.get("epochs") or recipe.epochs
    batch_size = args.batch_size or saved.get("batch_size") or recipe.batch_size
    seed = args.seed if args.seed is not None else saved.get("seed", 0)
    learning_rate = args.learning_rate or saved.get("learning_rate") or recipe.learning_rate
    if args.epochs is not None and args.epochs < 1:
        raise CliError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size is not None and args.batch_size < 1:
        raise CliError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.num_samples < 1:
        raise CliError(f"--num-samples must be >= 1, got {args.num_samples}")
    if not learning_rate > 0:
        raise CliError(f"--learning-rate must be > 0, got {learning_rate}")

    # The strategy comes first: multi-worker collectives are configured when TensorFlow starts.
    strategy = setup_strategy(args, batch_size)

    import keras

    from keras_ae import data, pictures, training

    chief = training.is_chief(strategy)
    # Non-chief workers train in step but write nothing shared: their files go to a scratch folder.
    write_dir = run_dir if chief else tempfile.mkdtemp(prefix="zoo-worker-")
    backup_dir = os.path.join(run_dir, "backup")
    keras.utils.set_random_seed(seed)
    x_train, _ = load_split(dataset, "train", recipe.binarize, seed)
    x_test, y_test = load_split(dataset, "test", recipe.binarize, seed)
    with strategy.scope():
        model = build_model(recipe, x_train.shape[1:], seed)
        model.build()
        options = compile_options(args, strategy, recipe, model)
        training.compile_model(model, learning_rate=learning_rate, **options)
    train_ds = data.training_pipeline(x_train, batch_size, shuffle=True, seed=seed,
                                      binarize="dynamic" if recipe.binarize == "dynamic" else None)
    test_ds = data.evaluation_pipeline(x_test, batch_size)

    os.makedirs(write_dir, exist_ok=True)
    config = {
        "recipe": recipe.to_dict(),
        "dataset": dataset,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "input_shape": list(x_train.shape[1:]),
        "num_train": int(len(x_train)),
        "num_test": int(len(x_test)),
        "strategy": args.strategy,
        "replicas": strategy.num_replicas_in_sync,
        "precision": args.precision,
        "compile": options,
        "versions": _versions(),
        "command": "python -m zoo " + " ".join(args.argv),
    }
    if previous is None:
        training.atomic_write_json(os.path.join(write_dir, "config.json"), config)

    history_path = os.path.join(write_dir, "history.csv")
    stop_on_nan = training.StopOnNaN()
    callbacks = build_callbacks(recipe) + [
        keras.callbacks.TensorBoard(log_dir=os.path.join(write_dir, "tensorboard"), write_graph=False),
        stop_on_nan,
        # The history is written before the backup, so it is never behind the epoch restored.
        training.HistoryWriter(history_path, training.read_history(history_path) if previous else ()),
        training.AtomicBackupAndRestore(backup_dir, write=chief),
    ]
    resumed_at = training.backup_epoch(backup_dir) if previous else 0
    print(f"training {recipe.name} on {dataset}: {len(x_train)} examples, {epochs} epochs, batch {batch_size}"
          + (f", {strategy.num_replicas_in_sync} replicas" if strategy.num_replicas_in_sync > 1 else "")
          + (f", resuming after epoch {resumed_at}" if resumed_at else ""))
    start = time.perf_counter()
    model.fit(train_ds, validation_data=test_ds, epochs=epochs, callbacks=callbacks,
              shuffle=False, verbose=args.verbose)  # the pipeline shuffles
    train_seconds = time.perf_counter() - start

    if stop_on_nan.failure:
        message = f"training stopped: {stop_on_nan.failure}; the run is marked failed"
        if chief:
            training.atomic_write_json(os.path.join(write_dir, "metrics.json"), {
                "status": "failed", "error": stop_on_nan.failure, "train_seconds": round(train_seconds, 2)})
        print(f"error: {message}", file=sys.stderr)
        return 1
    if args.strategy == "multiworker":
        print(f"weights digest: {weights_digest(model)}")
    if not chief:
        shutil.rmtree(write_dir, ignore_errors=True)
        print(f"worker finished; the chief writes the run directory {run_dir}")
        return 0
    model.post_fit(x_train, seed=seed)

    training.atomic_save_model(model, os.path.join(run_dir, "model.keras"))
    metrics = test_metrics(model, x_test, args.num_samples)
    metrics.update(status="completed", train_seconds=round(train_seconds, 2), epochs=epochs)
    training.atomic_write_json(os.path.join(run_dir, "metrics.json"), metrics)
    written = pictures.write_run_pictures(model, x_test, y_test, run_dir, seed=seed)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"run directory: {run_dir}")
    print("  " + ", ".join(["config.json", "model.keras", "history.csv", "metrics.json", "tensorboard/"]
                           + [os.path.basename(p) for p in written]))
    return 0


# -- eval ------------------------------------------------------------------------------------
def load_run(run_dir):
    """``(config, model)`` of a run directory, or ``CliError`` naming what is missing or broken."""
    from keras_ae import training

    config_path = os.path.join(run_dir, "config.json")
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isdir(run_dir):
        raise CliError(f"run directory {run_dir} does not exist")
    for path in (config_path, model_path):
        if not os.path.isfile(path):
            raise CliError(f"{run_dir} is not a finished run: {os.path.basename(path)} is missing")
    config = _read_json(config_path)
    if not isinstance(config.get("recipe"), dict) or "dataset" not in config:
        raise CliError(f"{config_path} is not a zoo run configuration (no recipe or dataset)")
    try:
        return config, training.load_model_file(model_path)
    except ValueError as e:
        raise CliError(str(e)) from None


def cmd_eval(args):
    if args.num_samples < 1:
        raise CliError(f"--num-samples must be >= 1, got {args.num_samples}")
    from keras_ae import training

    config, model = load_run(args.run_dir)
    x_test, _ = load_split(config["dataset"], "test", config["recipe"].get("binarize"), config.get("seed", 0))
    metrics_path = os.path.join(args.run_dir, "metrics.json")
    previous = {}
    if os.path.isfile(metrics_path):
        previous = _read_json(metrics_path)
    metrics = test_metrics(model, x_test, args.num_samples)
    merged = {**previous, **metrics}
    training.atomic_write_json(metrics_path, merged)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0
