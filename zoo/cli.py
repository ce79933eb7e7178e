"""The ``python -m zoo`` command line.

    python -m zoo list
    python -m zoo train NAME [--dataset D] [--epochs N] [--batch-size B] [--out DIR] [--seed S]
                             [--strategy auto|default|mirrored|multiworker|tpu]
                             [--precision float32|mixed_float16|mixed_bfloat16] [--resume]
    python -m zoo eval RUN_DIR [--num-samples K] [--ais [--ais-chains C] [--ais-steps T] [--ais-examples N]]
    python -m zoo eval RUN_DIR --gaps [--gaps-examples N] [--gaps-steps S] [--gaps-families gaussian,flow] [--ais]
    python -m zoo eval RUN_DIR --disentanglement [--disentanglement-scale S] [--disentanglement-metrics M,...]
    python -m zoo bench NAME [--steps N] [--batch-size B]
    python -m zoo compress RUN_DIR --out FILE.npz [--max-examples N]
    python -m zoo decompress RUN_DIR FILE.npz --out IMAGES.npz
    python -m zoo search RUN_DIR (--class C | --target INDEX) [--codes N] [--steps S] [--prior-weight W] [--out PNG]

Bad names (recipe, dataset, strategy), a malformed TF_CONFIG, a global batch the replicas cannot
share, bad or damaged data, bad run directories, a run directory another process writes (each is
locked while `train` or `eval` runs) and a failed write (e.g. a full disk) end with exit status 2
and one line on stderr, never a traceback. A loss (or a weight) that stops being finite ends
training with exit status 1, ``"status": "failed"`` in ``metrics.json``, and the backup of the
last good epoch kept for ``--resume``.

``KERAS_AE_XLA_CACHE=DIR`` (environment): `train` and `bench` keep the XLA-compiled steps in DIR
and a later run of the same recipe, shapes and seed loads them instead of compiling
(``keras_ae.training.enable_xla_cache``).

A run directory is complete when ``model.keras`` is there: it is written last, after the
metrics and the pictures. Until then the backup of the last finished epoch is kept, so a run
interrupted at any moment (Ctrl-C, SIGKILL, a full disk) continues with ``--resume``; a resumed
run's weights equal an uninterrupted run's.
"""

import argparse
import json
import os
import sys
import time

from zoo import bench, runner
from zoo.runner import CliError


def _parser(prog="python -m zoo"):
    parser = argparse.ArgumentParser(prog=prog, description="The keras-ae model zoo.",
                                     epilog="keras-ae export RUN_DIR ... exports a run (python -m export)"
                                     if prog == "keras-ae" else None)
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
    train.add_argument("--verbose", type=int, choices=(0, 1, 2),
                       help="Keras fit verbosity (default: 1, a progress bar, on a terminal; 2, one line per "
                            "epoch, when the output is piped or redirected)")
    train.add_argument("--quiet", action="store_true", help="print only errors and the final metrics")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                       help="a model argument instead of the recipe's, e.g. --set latent_dim=32 --set "
                            "hidden_units=[256,128] (VALUE is JSON; a bare word is a string); repeatable")
    _add_data_arguments(train)
    train.add_argument("--learning-rate", type=float, help="Adam learning rate instead of the recipe's")
    _add_speed_arguments(train)
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in --out from its last finished epoch (its settings "
                            "unless given again: each change, e.g. --learning-rate, is recorded in config.json "
                            "with the epoch it takes effect; --epochs fewer than finished is refused)")
    train.add_argument("--from", dest="from_run", metavar="RUN_DIR",
                       help="a finished run whose trained model this recipe builds on (two-stage training, e.g. "
                            "a prior over the frozen codes of a vqvae run); its dataset is the default")

    timing = sub.add_parser("bench", help="measure training speed on random data of the recipe's shape")
    timing.add_argument("name", help="recipe name (see `python -m zoo list`)")
    timing.add_argument("--steps", type=int, default=300, help="timed training steps (default 300)")
    timing.add_argument("--warmup", type=int, default=50, help="untimed steps after compilation (default 50)")
    timing.add_argument("--batch-size", type=int, help="global batch size instead of the recipe's")
    _add_speed_arguments(timing)

    ev = sub.add_parser("eval", help="recompute the test metrics of a run directory")
    ev.add_argument("run_dir")
    ev.add_argument("--num-samples", type=int, default=1000,
                    help="importance samples for the test log-likelihood (default 1000)")
    ev.add_argument("--ais", action="store_true",
                    help="also estimate the test log-likelihood by annealed importance sampling (nll_ais)")
    ev.add_argument("--ais-chains", type=int, default=16, help="AIS chains per example (default 16)")
    ev.add_argument("--ais-steps", type=int, default=1000, help="AIS transitions per chain (default 1000)")
    ev.add_argument("--ais-start", choices=("prior", "posterior"), default="prior",
                    help="AIS initial distribution: the prior (default) or the encoder's q(z|x)")
    ev.add_argument("--ais-examples", type=int, default=100,
                    help="first test examples that AIS evaluates (default 100; AIS costs ais-steps x 10 "
                         "gradient evaluations per chain)")
    ev.add_argument("--gaps", action="store_true",
                    help="also split the inference gap into approximation and amortization gaps (Cremer et al. "
                         "2018, keras_ae.evaluation.gaps); log p(x) by AIS with --ais (its chains and steps), else by "
                         "importance sampling with --num-samples")
    ev.add_argument("--gaps-examples", type=int, default=100, help="first test examples of --gaps (default 100)")
    ev.add_argument("--gaps-steps", type=int, default=1000,
                    help="Adam steps of each example's local posterior (default 1000)")
    ev.add_argument("--gaps-families", default="gaussian,flow",
                    help="comma-separated local families: gaussian (factorized), flow (Gaussian + 10 planar "
                         "flows); default both")
    ev.add_argument("--quiet", action="store_true", help="print only errors and the metrics")
    ev.add_argument("--disentanglement", action="store_true",
                    help="compute the disentanglement metrics (keras_ae.evaluation.disentanglement, disentanglement_lib's "
                         "protocol) instead of the test likelihood, for a run on a dataset with ground-truth "
                         "factors (dsprites-procedural); also writes traversals_factors.png")
    ev.add_argument("--disentanglement-scale", type=float, default=1.0,
                    help="fraction of the protocol's point counts (default 1: 10,000 training points, ...)")
    ev.add_argument("--disentanglement-metrics",
                    help="comma-separated subset of beta_vae, factor_vae, mig, sap, dci, modularity_explicitness, "
                         "gaussian_total_correlation (default: all)")
    _add_data_arguments(ev)

    comp = sub.add_parser("compress", help="lossless bits-back compression of a run's binarized test set")
    comp.add_argument("run_dir", help="a finished run of a VAE with a Bernoulli likelihood")
    comp.add_argument("--out", required=True, help="the compressed message (.npz)")
    comp.add_argument("--max-examples", type=int, help="compress only the first N test examples")
    comp.add_argument("--seed", type=int, default=0, help="seed of the initial random bits (default 0)")
    _add_data_arguments(comp)
    decomp = sub.add_parser("decompress", help="the images of a compressed message, bit for bit")
    decomp.add_argument("run_dir", help="the run that compressed the message")
    decomp.add_argument("message", help="a file written by `compress`")
    decomp.add_argument("--out", required=True, help="the images (.npz with x, uint8 0/1)")
    find = sub.add_parser("search", help="optimise codes in a run's latent space for a class or a target image "
                                         "under the prior (keras_ae.evaluation.latent_search) and draw the path")
    find.add_argument("run_dir", help="a finished run of a VAE-family model")
    goal = find.add_mutually_exclusive_group(required=True)
    goal.add_argument("--class", dest="label", type=int,
                      help="maximise a logistic-regression classifier's log-probability of this class (the "
                           "classifier is fitted on the run's labelled training split)")
    goal.add_argument("--target", type=int, help="come close to this test example (its index)")
    find.add_argument("--codes", type=int, default=8, help="codes searched from prior draws (default 8)")
    find.add_argument("--steps", type=int, default=300, help="Adam steps (default 300)")
    find.add_argument("--learning-rate", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    find.add_argument("--prior-weight", type=float, default=1.0,
                      help="weight of log p(z) in the objective (default 1; 0 ignores the prior)")
    find.add_argument("--seed", type=int, default=0, help="seed of the starting codes (default 0)")
    find.add_argument("--out", help="the picture (default RUN_DIR/latent_search.png)")
    _add_data_arguments(find)
    return parser


def _add_data_arguments(parser):
    parser.add_argument("--data-dir", help="TFDS data directory (default: TFDS's own, ~/tensorflow_datasets)")
    parser.add_argument("--download", action="store_true",
                        help="let TFDS download a dataset that is not prepared in the data directory")


def _fit_verbosity(args):
    """Keras ``fit`` verbosity: --verbose; else 0 with --quiet, a progress bar on a terminal, one
    plain line per epoch (no terminal escapes) when stdout is piped or redirected."""
    if args.verbose is not None:
        return args.verbose
    if args.quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def _say(args, message):
    """A progress line on stdout, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(message, flush=True)


def parse_overrides(items):
    """``["latent_dim=32", "likelihood=gaussian"]`` -> ``{"latent_dim": 32, "likelihood": "gaussian"}``, or ``CliError``."""
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise CliError(f"--set takes KEY=VALUE with KEY a model argument, got {item!r}")
        if key in ("input_shape", "seed"):
            raise CliError(f"--set {key}: {key} comes from the data and --seed, not --set")
        try:
            value = json.loads(text)
        except ValueError:
            value = text  # a bare word: a string (likelihood=gaussian)
        overrides[key] = tuple(value) if isinstance(value, list) else value
    return overrides


#: the names ``keras_ae.training.STRATEGIES`` and ``PRECISIONS`` accept, written out so that
#: ``--help`` does not import TensorFlow (tests/test_zoo_cli.py checks they agree).
STRATEGY_NAMES = ("auto", "default", "mirrored", "multiworker", "tpu")
PRECISION_NAMES = ("float32", "mixed_float16", "mixed_bfloat16")


def _add_speed_arguments(parser):
    parser.add_argument("--strategy", default="auto",
                        help=f"tf.distribute strategy: {', '.join(STRATEGY_NAMES)} (default auto)")
    parser.add_argument("--precision", default="float32",
                        help=f"dtype policy: {', '.join(PRECISION_NAMES)} (default float32)")
    parser.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                        help="XLA compilation of the train step (default: the measured fast default)")
    parser.add_argument("--steps-per-execution", type=int,
                        help="train steps per tf.function call (default: the measured fast default)")


def main(argv=None, prog=None):
    """Run one command; the exit status. TensorFlow's native start-up noise is kept off stderr."""
    from zoo.native_logs import filtered_stderr

    with filtered_stderr():
        return _main(argv, prog)


def console_main(argv=None):
    """The ``keras-ae`` console script: the zoo command line (``keras-ae train vae-digits``), and
    ``keras-ae export RUN_DIR ...`` for ``python -m export``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        from export.cli import main as export_main

        return export_main(argv[1:], prog="keras-ae export")
    return main(argv, prog="keras-ae")


def _main(argv=None, prog=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser(prog or "python -m zoo").parse_args(argv)
    args.argv = argv
    try:
        if args.command == "list":
            return cmd_list()
        if args.command == "train":
            return cmd_train(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "bench":
            return bench.cmd_bench(args)
        if args.command == "compress":
            return cmd_compress(args)
        if args.command == "decompress":
            return cmd_decompress(args)
        if args.command == "search":
            return cmd_search(args)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


# -- list ------------------------------------------------------------------------------------
def cmd_list():
    from keras_ae.presets import RECIPES

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


# -- train -----------------------------------------------------------------------------------
def cmd_train(args):
    """``train``: train, then print the metrics and the run directory; the exit status."""
    result = train_from_args(args)
    run_dir = result.run_dir
    if result.status == "failed":
        print(f"error: training stopped: {result.error}; the run is marked failed", file=sys.stderr)
        return 1
    if args.strategy == "multiworker":
        print(f"weights digest: {result.weights_digest}")
    if result.status == "worker":
        print(f"worker finished; the chief writes the run directory {run_dir}")
        return 0
    print(json.dumps(_without_definitions(result.metrics), indent=2, sort_keys=True))
    print(f"run directory: {run_dir} (metrics.json defines each number)")
    print("  " + ", ".join(result.files))
    return 0


def train_from_args(args):
    """Check the options, lock the run directory, then resolve the settings (option, else the
    resumed run's, else the recipe's) and train; the ``runner.TrainResult`` (``CliError`` if bad)."""
    recipe = runner.resolve_recipe(args.name)
    if args.resume and not args.out:
        raise CliError("--resume needs --out RUN_DIR, the run to continue")
    if args.epochs is not None and args.epochs < 1:
        raise CliError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size is not None and args.batch_size < 1:
        raise CliError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise CliError(f"--seed must be an integer in [0, 2**32 - 1], got {args.seed}")
    if args.num_samples < 1:
        raise CliError(f"--num-samples must be >= 1, got {args.num_samples}")
    if args.learning_rate is not None and not (0 < args.learning_rate < float("inf")):
        raise CliError(f"--learning-rate must be a finite number > 0, got {args.learning_rate}")
    overrides = parse_overrides(args.overrides) if args.overrides else None
    run_dir = os.path.abspath(args.out or os.path.join("runs", f"{recipe.name}-{time.strftime('%Y%m%d-%H%M%S')}"))
    speed = runner.Speed.from_args(args)
    # One writer per run directory: a second `train` into it ends here with one line.
    chief = runner.is_chief_process(speed)
    with runner.locked_run_dir(run_dir, lock=chief):
        previous = runner.check_run_dir(run_dir, recipe, args.resume, chief=chief)
        saved = previous or {}

        def setting(option, key, default):
            return option if option is not None else saved.get(key, default)

        from_run = args.from_run or saved.get("from_run")
        from_run = os.path.abspath(from_run) if from_run else None
        first_stage = runner.read_run_config(from_run) if from_run else {}
        dataset = runner.resolve_dataset(args.dataset or saved.get("dataset") or first_stage.get("dataset")
                                         or recipe.dataset)
        result = runner.train_run(recipe, dataset, epochs=setting(args.epochs, "epochs", recipe.epochs),
                                  batch_size=setting(args.batch_size, "batch_size", recipe.batch_size),
                                  learning_rate=setting(args.learning_rate, "learning_rate", recipe.learning_rate),
                                  seed=setting(args.seed, "seed", 0), run_dir=run_dir, speed=speed,
                                  num_samples=args.num_samples, verbose=_fit_verbosity(args),
                                  resuming=previous is not None, quiet=args.quiet,
                                  model_overrides=overrides if overrides is not None else saved.get("model_overrides"),
                                  data_dir=args.data_dir or saved.get("data_dir"), download=args.download,
                                  command="python -m zoo " + " ".join(args.argv), from_run=from_run)
    return result


# -- eval ------------------------------------------------------------------------------------
def cmd_eval(args):
    """Recompute the test metrics of a finished run and merge them into its ``metrics.json``."""
    for flag in ("num_samples", "ais_chains", "ais_steps", "ais_examples", "gaps_examples", "gaps_steps"):
        if getattr(args, flag) < 1:
            raise CliError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.disentanglement:
        return cmd_eval_disentanglement(args)
    if args.disentanglement_metrics is not None or args.disentanglement_scale != 1.0:
        raise CliError("--disentanglement-scale and --disentanglement-metrics need --disentanglement")
    from keras_ae import evaluation, training

    if not os.path.isdir(args.run_dir):
        raise CliError(f"run directory {args.run_dir} does not exist")
    with runner.locked_run_dir(args.run_dir):  # not while a `train` writes it, nor two evals at once
        config, model = runner.load_run(args.run_dir)
        # A complete run killed between saving model.keras and removing its backup: tidy up.
        training.remove_backup(os.path.join(args.run_dir, "backup"))
        x_test, y_test = runner.load_split(config["dataset"], "test", config["recipe"].get("binarize"),
                                           config.get("seed", 0), args.data_dir or config.get("data_dir"),
                                           args.download)
        if tuple(x_test.shape[1:]) != tuple(model.data_shape):
            raise CliError(f"the test split of {config['dataset']} now holds examples of shape "
                           f"{tuple(x_test.shape[1:])}, "
                           f"but the model of {args.run_dir} was trained on {tuple(model.data_shape)}")
        if not len(x_test):
            raise CliError(f"the test split of {config['dataset']} is empty; there is nothing to evaluate")
        metrics_path = os.path.join(args.run_dir, "metrics.json")
        previous = {}
        if os.path.isfile(metrics_path):
            previous = runner.read_json(metrics_path, expect=dict)
        _say(args, f"evaluating {args.run_dir}: {len(x_test)} test examples, "
                   f"{args.num_samples} importance samples each")
        start = time.perf_counter()
        x_eval, eval_extras = runner.evaluation_data(model, config["dataset"], x_test,
                                                     config["recipe"].get("name", "?"), y_test)
        metrics = runner.test_metrics(model, x_eval, args.num_samples, eval_extras)
        metrics.update(runner.position_metrics(model, config["dataset"]))
        _say(args, f"evaluated in {time.perf_counter() - start:.1f} s")
        ais_log_px = None
        if args.ais:
            ais_metrics, ais_log_px = _ais_metrics(args, model, x_test)
            metrics.update(ais_metrics)
        if args.gaps:
            metrics.update(_gap_metrics(args, model, x_test, ais_log_px))
        merged = {**previous, **metrics}
        merged["definitions"] = evaluation.describe_metrics(merged)
        training.atomic_write_json(metrics_path, merged)
    print(json.dumps(_without_definitions(metrics), indent=2, sort_keys=True))
    return 0


def cmd_eval_disentanglement(args):
    """Compute the disentanglement metrics of a finished run on a ground-truth dataset, merge them
    into its ``metrics.json`` and draw its traversals labelled by factor."""
    if not args.disentanglement_scale > 0:
        raise CliError(f"--disentanglement-scale must be > 0, got {args.disentanglement_scale}")
    metric_names = None
    if args.disentanglement_metrics is not None:
        metric_names = tuple(name.strip() for name in args.disentanglement_metrics.split(",") if name.strip())
    if not os.path.isdir(args.run_dir):
        raise CliError(f"run directory {args.run_dir} does not exist")
    config_path = os.path.join(args.run_dir, "config.json")
    if os.path.isfile(config_path):  # refused before the model is loaded
        runner.ground_truth_of(runner.read_run_config(args.run_dir)["dataset"])
    from keras_ae import evaluation, pictures, training
    from keras_ae.evaluation import disentanglement

    with runner.locked_run_dir(args.run_dir):
        config, model = runner.load_run(args.run_dir)
        training.remove_backup(os.path.join(args.run_dir, "backup"))
        data = runner.ground_truth_of(config["dataset"])
        if tuple(data.observation_shape) != tuple(model.data_shape):
            raise CliError(f"the observations of {config['dataset']} have shape {tuple(data.observation_shape)}, "
                           f"but the model of {args.run_dir} was trained on {tuple(model.data_shape)}")
        represent = disentanglement.model_representation(model)
        _say(args, f"disentanglement metrics of {args.run_dir} on {config['dataset']}: "
                   f"{args.disentanglement_scale:g} x disentanglement_lib's point counts")
        start = time.perf_counter()
        try:
            metrics = disentanglement.evaluate_disentanglement(
                data, represent, seed=0, scale=args.disentanglement_scale,
                **({"metrics": metric_names} if metric_names is not None else {}))
        except ValueError as e:
            raise CliError(str(e).splitlines()[0]) from None
        _say(args, f"evaluated in {time.perf_counter() - start:.1f} s")
        if pictures.has_vector_code(model):
            num = max(50, int(round(disentanglement.PROTOCOL["mig"]["num_train"] * args.disentanglement_scale)))
            information = disentanglement.code_factor_information(data, represent, rng=0, num_train=num)
            labels = disentanglement.factor_labels(information, getattr(data, "FACTOR_NAMES", None))
            x = data.sample_observations_from_factors(data.sample_factors(1000, 0), 0)
            pictures.latent_traversal(model, x, os.path.join(args.run_dir, "traversals_factors.png"),
                                      dim_labels=labels)
        metrics_path = os.path.join(args.run_dir, "metrics.json")
        previous = runner.read_json(metrics_path, expect=dict) if os.path.isfile(metrics_path) else {}
        merged = {**previous, **metrics}
        merged["definitions"] = evaluation.describe_metrics(merged)
        training.atomic_write_json(metrics_path, merged)
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


def _ais_metrics(args, model, x_test):
    """``(metrics, log_px)``: ``nll_ais`` and its companions over the first ``--ais-examples`` test
    examples, and the AIS estimates themselves."""
    import numpy as np

    from keras_ae import evaluation

    if not evaluation.is_probabilistic(model):
        raise CliError(f"--ais needs a model with a likelihood; {type(model).__name__} has none")
    x = x_test[:args.ais_examples]
    _say(args, f"AIS: {len(x)} test examples, {args.ais_chains} chains of {args.ais_steps} HMC transitions")
    start = time.perf_counter()
    try:
        log_px = evaluation.log_likelihood(model, x, num_samples=args.ais_chains, method="ais",
                                           ais_steps=args.ais_steps, ais_start=args.ais_start)
    except ValueError as e:  # discrete codes: HMC cannot move them
        raise CliError(str(e)) from None
    log_px_is = evaluation.log_likelihood(model, x, num_samples=args.num_samples)
    _say(args, f"AIS in {time.perf_counter() - start:.1f} s")
    return {"nll_ais": float(-log_px.mean()), "nll_ais_stderr": float(log_px.std(ddof=1) / np.sqrt(len(x)))
            if len(x) > 1 else 0.0, "nll_ais_chains": args.ais_chains, "nll_ais_steps": args.ais_steps,
            "nll_ais_examples": len(x), "nll_ais_start": args.ais_start,
            "nll_is_same_examples": float(-log_px_is.mean())}, log_px


def _gap_metrics(args, model, x_test, ais_log_px=None):
    """The gap split (``gap_*``) over the first ``--gaps-examples`` test examples.

    With ``--ais``, ``log p(x)`` is the AIS estimate of the same run (``ais_log_px``, computed
    again only for gap examples beyond ``--ais-examples``)."""
    from keras_ae.evaluation import gaps

    families = tuple(name.strip() for name in args.gaps_families.split(",") if name.strip())
    x = x_test[:args.gaps_examples]
    method = "ais" if args.ais else "importance"
    _say(args, f"gaps: {len(x)} test examples, local families {', '.join(families)}, {args.gaps_steps} Adam steps, "
               f"log p(x) by {method}")
    start = time.perf_counter()
    reuse = ais_log_px if ais_log_px is not None and len(ais_log_px) >= len(x) else None
    try:
        out = gaps.gap_metrics(model, x, families=families, steps=args.gaps_steps, log_px_method=method,
                               log_px_samples=args.ais_chains if args.ais else args.num_samples,
                               ais_steps=args.ais_steps, log_px=None if reuse is None else reuse[:len(x)])
    except ValueError as e:  # not a VAE-family model, an unknown family
        raise CliError(str(e)) from None
    _say(args, f"gaps in {time.perf_counter() - start:.1f} s")
    out.update({"gap_log_px_method": method, "gap_steps": args.gaps_steps, "gap_learning_rate": gaps.LEARNING_RATE})
    return out


# -- compress / decompress ---------------------------------------------------------------------
def cmd_compress(args):
    """Bits-back compress a run's test set; prints the net bits per dimension beside the ELBO's."""
    import numpy as np

    from keras_ae import evaluation
    from keras_ae.evaluation import compression

    config, model = runner.load_run(args.run_dir)
    x, _ = runner.load_split(config["dataset"], "test", config["recipe"].get("binarize"), config.get("seed", 0),
                             args.data_dir or config.get("data_dir"), args.download)
    if args.max_examples is not None:
        if args.max_examples < 1:
            raise CliError(f"--max-examples must be >= 1, got {args.max_examples}")
        x = x[:args.max_examples]
    try:
        message = compression.compress(model, x, seed=args.seed)
    except ValueError as e:
        raise CliError(str(e)) from None
    compression.save_message(args.out, message)
    dims = x[0].size * len(x)
    elbo = evaluation.elbo(model, x, num_samples=100)["elbo"]
    report = {"images": len(x), "net_bits": message.net_bits(), "bits_per_dim": message.net_bits() / dims,
              "elbo_bits_per_dim": float(-np.mean(elbo) / np.log(2) / x[0].size),
              "initial_bits": 32 * message.initial_words, "message_bytes": 4 * len(message.words), "out": args.out}
    print(json.dumps(report, indent=2))
    return 0


def cmd_decompress(args):
    """Decompress a message with the run's model and write the images."""
    import numpy as np

    from keras_ae.evaluation import compression
    from keras_ae.training import atomic

    _, model = runner.load_run(args.run_dir)
    try:
        images = compression.decompress(model, compression.load_message(args.message))
    except ValueError as e:
        raise CliError(str(e)) from None
    with atomic.atomic_file(args.out, suffix=".npz") as tmp:
        np.savez(tmp, x=images.astype(np.uint8))
    print(f"{len(images)} images -> {args.out}")
    return 0


# -- search ----------------------------------------------------------------------------------
def cmd_search(args):
    """Latent search for a class or a target image; writes the path picture and prints the result."""
    import numpy as np

    from keras_ae import pictures
    from keras_ae.evaluation import latent_search

    for flag in ("codes", "steps"):
        if getattr(args, flag) < 1:
            raise CliError(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    if not os.path.isdir(args.run_dir):
        raise CliError(f"run directory {args.run_dir} does not exist")
    config, model = runner.load_run(args.run_dir)
    data_dir = args.data_dir or config.get("data_dir")
    binarize, seed = config["recipe"].get("binarize"), config.get("seed", 0)
    target = None
    if args.target is not None:
        x_test, _ = runner.load_split(config["dataset"], "test", binarize, seed, data_dir, args.download)
        if not 0 <= args.target < len(x_test):
            raise CliError(f"--target {args.target} is out of range: the test split has {len(x_test)} examples")
        target = x_test[args.target]
        objective, what = latent_search.target_objective(target), f"test example {args.target}"
    else:
        from sklearn.linear_model import LogisticRegression

        x_train, y_train = runner.load_split(config["dataset"], "train", "static" if binarize else None, seed,
                                             data_dir, args.download)
        if y_train is None:
            raise CliError(f"--class needs labels, and {config['dataset']} has none")
        classes = np.unique(y_train)
        if args.label not in classes:
            raise CliError(f"--class {args.label} is not a label of {config['dataset']} (labels: {classes.tolist()})")
        fitted = LogisticRegression(max_iter=1000).fit(x_train.reshape(len(x_train), -1), y_train)
        coef = fitted.coef_.T.astype(np.float32)
        intercept = fitted.intercept_.astype(np.float32)

        def logits(x):
            import tensorflow as tf

            return tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), coef) + intercept

        objective = latent_search.class_objective(logits, int(np.searchsorted(fitted.classes_, args.label)))
        what = f"class {args.label}"
    try:
        path = latent_search.search_model(model, objective, num_codes=args.codes, seed=args.seed, steps=args.steps,
                                          learning_rate=args.learning_rate, prior_weight=args.prior_weight,
                                          record_every=max(1, args.steps // 10))
    except ValueError as e:
        raise CliError(str(e)) from None
    out = args.out or os.path.join(args.run_dir, "latent_search.png")
    pictures.latent_search_grid(path, out, f"{os.path.basename(os.path.normpath(args.run_dir))}: {what}", target)
    report = {"goal": what, "codes": args.codes, "steps": args.steps, "prior_weight": args.prior_weight,
              "objective_start": float(path.objective[0].mean()), "objective_end": float(path.objective[-1].mean()),
              "log_prior_start": float(path.log_prior[0].mean()), "log_prior_end": float(path.log_prior[-1].mean()),
              "picture": out}
    if args.label is not None:
        report["class_probability_start"] = float(np.exp(path.objective[0]).mean())
        report["class_probability_end"] = float(np.exp(path.objective[-1]).mean())
    print(json.dumps(report, indent=2))
    return 0


def _without_definitions(metrics):
    return {k: v for k, v in metrics.items() if k != "definitions"}
