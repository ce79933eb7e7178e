"""The ``python -m zoo`` command line.

    python -m zoo list
    python -m zoo train NAME [--dataset D] [--epochs N] [--batch-size B] [--out DIR] [--seed S]
    python -m zoo eval RUN_DIR [--num-samples K]

Bad names (recipe, dataset) and bad run directories end with exit status 2 and one line on
stderr, never a traceback.
"""

import argparse
import json
import os
import sys
import time


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
    train.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and noise (default 0)")
    train.add_argument("--num-samples", type=int, default=100,
                       help="importance samples for the test log-likelihood in metrics.json (default 100)")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity")

    ev = sub.add_parser("eval", help="recompute the test metrics of a run directory")
    ev.add_argument("run_dir")
    ev.add_argument("--num-samples", type=int, default=1000,
                    help="importance samples for the test log-likelihood (default 1000)")
    return parser


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
    return {k: (float(v) if hasattr(v, "__float__") else v) for k, v in metrics.items()}


# -- train -----------------------------------------------------------------------------------
def cmd_train(args):
    recipe = resolve_recipe(args.name)
    dataset = resolve_dataset(args.dataset or recipe.dataset)
    epochs = recipe.epochs if args.epochs is None else args.epochs
    batch_size = recipe.batch_size if args.batch_size is None else args.batch_size
    if epochs < 1:
        raise CliError(f"--epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise CliError(f"--batch-size must be >= 1, got {batch_size}")
    if args.num_samples < 1:
        raise CliError(f"--num-samples must be >= 1, got {args.num_samples}")
    run_dir = os.path.abspath(args.out or os.path.join("runs", f"{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}"))
    if os.path.exists(os.path.join(run_dir, "model.keras")):
        raise CliError(f"{run_dir} already holds a trained model; choose another --out")

    import keras

    from keras_ae import data, pictures, training

    keras.utils.set_random_seed(args.seed)
    x_train, _ = load_split(dataset, "train", recipe.binarize, args.seed)
    x_test, y_test = load_split(dataset, "test", recipe.binarize, args.seed)
    model = build_model(recipe, x_train.shape[1:], args.seed)
    training.compile_model(model, learning_rate=recipe.learning_rate)
    train_ds = data.training_pipeline(x_train, batch_size, shuffle=True, seed=args.seed,
                                      binarize="dynamic" if recipe.binarize == "dynamic" else None)
    test_ds = data.evaluation_pipeline(x_test, batch_size)

    os.makedirs(run_dir, exist_ok=True)
    config = {
        "recipe": recipe.to_dict(),
        "dataset": dataset,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": args.seed,
        "input_shape": list(x_train.shape[1:]),
        "num_train": int(len(x_train)),
        "num_test": int(len(x_test)),
        "versions": _versions(),
        "command": "python -m zoo " + " ".join(args.argv),
    }
    training.atomic_write_json(os.path.join(run_dir, "config.json"), config)

    callbacks = build_callbacks(recipe) + [
        keras.callbacks.TensorBoard(log_dir=os.path.join(run_dir, "tensorboard"), write_graph=False),
    ]
    print(f"training {recipe.name} on {dataset}: {len(x_train)} examples, {epochs} epochs, batch {batch_size}")
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=test_ds, epochs=epochs, callbacks=callbacks,
                        shuffle=False, verbose=args.verbose)  # the pipeline shuffles
    train_seconds = time.perf_counter() - start
    if hasattr(model, "fit_density"):
        model.fit_density(x_train, seed=args.seed)

    training.atomic_save_model(model, os.path.join(run_dir, "model.keras"))
    rows, fields = training.history_rows(history.history)
    training.atomic_write_csv(os.path.join(run_dir, "history.csv"), rows, fields)
    metrics = test_metrics(model, x_test, args.num_samples)
    metrics.update(status="completed", train_seconds=round(train_seconds, 2), epochs=epochs)
    training.atomic_write_json(os.path.join(run_dir, "metrics.json"), metrics)
    written = pictures.write_run_pictures(model, x_test, y_test, run_dir, seed=args.seed)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"run directory: {run_dir}")
    print("  " + ", ".join(["config.json", "model.keras", "history.csv", "metrics.json", "tensorboard/"]
                           + [os.path.basename(p) for p in written]))
    return 0


# -- eval ------------------------------------------------------------------------------------
def load_run(run_dir):
    """``(config, model)`` of a run directory, or ``CliError`` naming what is missing."""
    import keras

    import keras_ae  # noqa: F401  registers the model classes for load_model

    config_path = os.path.join(run_dir, "config.json")
    model_path = os.path.join(run_dir, "model.keras")
    if not os.path.isdir(run_dir):
        raise CliError(f"run directory {run_dir} does not exist")
    for path in (config_path, model_path):
        if not os.path.isfile(path):
            raise CliError(f"{run_dir} is not a finished run: {os.path.basename(path)} is missing")
    with open(config_path) as f:
        config = json.load(f)
    return config, keras.models.load_model(model_path)


def cmd_eval(args):
    if args.num_samples < 1:
        raise CliError(f"--num-samples must be >= 1, got {args.num_samples}")
    from keras_ae import training

    config, model = load_run(args.run_dir)
    x_test, _ = load_split(config["dataset"], "test", config["recipe"].get("binarize"), config.get("seed", 0))
    metrics_path = os.path.join(args.run_dir, "metrics.json")
    previous = {}
    if os.path.isfile(metrics_path):
        with open(metrics_path) as f:
            previous = json.load(f)
    metrics = test_metrics(model, x_test, args.num_samples)
    merged = {**previous, **metrics}
    training.atomic_write_json(metrics_path, merged)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0
