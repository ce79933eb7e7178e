"""The keras-ae model zoo: named recipes, the ``python -m zoo`` command line and its Python API.

    import zoo
    run = zoo.train("vae-digits", epochs=5, out="runs/vae")   # a runner.TrainResult
    run.metrics["nll"], run.run_dir
    model = zoo.load("runs/vae")                                # the trained Keras model

Importing the package does not import TensorFlow (``keras-ae --help`` stays fast).
"""


def train(name, *, out=None, epochs=None, batch_size=None, learning_rate=None, seed=None, dataset=None,
          num_samples=100, resume=False, data_dir=None, download=False, quiet=True, from_run=None,
          **model_arguments):
    """Train recipe ``name`` as ``python -m zoo train`` does and return its ``runner.TrainResult``.

    Args:
        name: a recipe (``python -m zoo list``).
        out: the run directory (default ``runs/NAME-TIMESTAMP``).
        epochs, batch_size, learning_rate, seed, dataset: instead of the recipe's.
        num_samples: importance samples of the test log-likelihood in ``metrics.json``.
        resume: continue the interrupted run in ``out``.
        data_dir, download: TFDS data directory, and whether TFDS may download.
        quiet: no progress output (default); False prints one line per epoch.
        from_run: a finished run this recipe builds on (``--from``: two-stage training).
        model_arguments: model arguments instead of the recipe's (``--set``), e.g. ``latent_dim=4``.

    Returns:
        ``runner.TrainResult``: ``status``, ``run_dir``, ``metrics``, ``files``.

    Raises:
        ValueError: a bad name, option, data or run directory (the message the command line prints).
    """
    import json

    from zoo import cli, runner

    argv = ["train", name, "--num-samples", str(num_samples)]
    for flag, value in (("--out", out), ("--epochs", epochs), ("--batch-size", batch_size),
                        ("--learning-rate", learning_rate), ("--seed", seed), ("--dataset", dataset),
                        ("--data-dir", data_dir), ("--from", from_run)):
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--resume"] * bool(resume) + ["--download"] * bool(download)
    argv += ["--quiet"] if quiet else ["--verbose", "2"]
    for key, value in model_arguments.items():
        argv += ["--set", f"{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}"]
    args = cli._parser().parse_args(argv)
    args.argv = argv
    try:
        return cli.train_from_args(args)
    except runner.CliError as e:
        raise ValueError(str(e)) from None


def load(run_dir):
    """The trained model of a finished run directory (its ``model.keras``)."""
    from zoo import runner

    try:
        return runner.load_run(run_dir)[1]
    except runner.CliError as e:
        raise ValueError(str(e)) from None
