"""Size, test quality and latency of zoo recipes: Keras, SavedModel and each TFLite variant.

    python -m export.benchmark [--recipes ae-digits,vae-digits] [--out bench.md] [--repeats 20]
    python -m export.benchmark --run runs/vae-digits [--run runs/vae-mnist] [--out bench.md]

Without ``--run`` each recipe's model is built at full size (the recipe's own arguments) and left
untrained: latency and size do not depend on the weights' values. No dataset is loaded: int8
calibration uses uniform [0, 1] noise of the recipe's shape, which is fine for timing (not for
accuracy), and the test-quality column is empty. With ``--run RUN_DIR`` (a finished ``python -m zoo
train`` run, repeatable) the run's trained model is measured instead: int8 is calibrated on 500
examples of its training split, and every artifact's test quality is measured on the run's whole
test split (:mod:`keras_ae.serving.quality`: a Gaussian-posterior Bernoulli VAE's importance-sampled
NLL from the artifact's encode and decode with draws shared by every artifact, else the mean
``score`` signature; the same estimator for every file of a model, larger is worse).

Prints a Markdown table: recipe, artifact, size, test quality, and the median latency of ``encode``
and ``reconstruct`` at batch 1 and 64 (Keras ``predict_on_batch``, the SavedModel signature, the
LiteRT signature runner, one thread). A script, not a timed test.
"""

import argparse
import os
import sys
import tempfile


def _timings(call_encode, call_reconstruct, x1, x64, repeats):
    from keras_ae.serving import measure_latency

    return [measure_latency(lambda f=f, x=x: f(x), repeats=repeats)
            for f in (call_encode, call_reconstruct) for x in (x1, x64)]


#: training examples that calibrate int8 with ``--run`` (the export command's default).
CALIBRATION_EXAMPLES = 500


def trained_model(run_dir):
    """``(model, calibration x, test x, test condition)`` of a finished run; ``ValueError`` naming the fault."""
    from export import cli

    try:
        config, model_path = cli.read_run(run_dir)
        model = cli.load_model(model_path, config)
        calibration = cli._load_dataset(config, CALIBRATION_EXAMPLES)
    except cli.CliError as e:
        raise ValueError(f"--run {run_dir}: {e}") from None
    x_test, condition, why_not = cli.quality_split(config, model)
    if x_test is None:
        raise ValueError(f"--run {run_dir}: no test split for the quality column: {why_not}")
    return model, calibration, x_test, condition


def benchmark_recipe(recipe, folder, quantizations, repeats, run_dir=None):
    """Rows ``(artifact, size, quality or None, 4 latencies)``: Keras, the SavedModel, each TFLite file.

    ``run_dir``: measure that run's trained model, with its test quality
    (:func:`keras_ae.serving.measure_quality`); None: the recipe's untrained model, no quality.
    """
    import numpy as np
    import tensorflow as tf

    from keras_ae import data, models, serving

    if run_dir is None:
        shape = data.dataset_shape(recipe.dataset)
        model = getattr(models, recipe.model)(input_shape=shape, seed=0, **recipe.model_args)
        model.build()
        x = np.random.default_rng(0).uniform(0, 1, (64,) + tuple(shape)).astype(np.float32)
        model.post_fit(x, seed=0)
        calibration, x_test, condition = x, None, None
    else:
        model, calibration, x_test, condition = trained_model(run_dir)
        x = np.resize(calibration, (64,) + calibration.shape[1:]).astype(np.float32)
    x1, x64 = x[:1], x

    def quality(run):
        return None if x_test is None else serving.measure_quality(model, run, x_test, condition)

    path = serving.export_saved_model(model, folder, recipe.name)
    saved = quality(serving.saved_model_runner(path))
    keras_quality = None if saved is None else {**saved, "mean": saved["keras_mean"], "difference": 0.0}
    rows = [("keras", "-", keras_quality, *_timings(model.encode, model.predict_on_batch, x1, x64, repeats))]
    sigs = tf.saved_model.load(path).signatures
    rows.append(("savedmodel", serving.file_size(path), saved,
                 *_timings(lambda v: sigs["encode"](x=tf.constant(v)), lambda v: sigs["reconstruct"](x=tf.constant(v)),
                           x1, x64, repeats)))
    for q in quantizations:
        tflite = os.path.join(folder, f"{recipe.name}.{q}.tflite")
        info = serving.export_tflite(model, tflite, q, representative_data=calibration if q == "int8" else None,
                                     measure_parity=False, quality_data=x_test, quality_condition=condition)
        interpreter = serving.litert_interpreter(model_path=tflite)
        enc, rec = interpreter.get_signature_runner("encode"), interpreter.get_signature_runner("reconstruct")
        rows.append((f"tflite {q}", os.path.getsize(tflite), info.get("quality"),
                     *_timings(lambda v: enc(x=v), lambda v: rec(x=v), x1, x64, repeats)))
    return rows


def quality_text(quality):
    """``"mean ± standard error (difference to Keras)"`` of a quality entry; ``"-"`` when not measured."""
    if not quality or "skipped" in quality:
        return "-"
    if quality["mean"] is None:
        return f"non-finite ({quality['non_finite_examples']} examples)"
    return f"{quality['mean']:.3f} ± {quality['standard_error']:.2f} ({quality['difference']:+.4f})"


def record(name, run_dir, artifact, size, quality, times):
    """One table row as JSON fields (``--json``): sizes in bytes, latencies in ms, the quality entry's numbers."""
    row = {"recipe": name, "trained": run_dir is not None, "artifact": artifact,
           "size_bytes": None if isinstance(size, str) else int(size),
           **{key: round(t * 1e3, 4) for key, t in zip(("encode_b1_ms", "encode_b64_ms", "reconstruct_b1_ms",
                                                         "reconstruct_b64_ms"), times)}}
    if quality and "skipped" not in quality:
        row.update(quality_mean=quality["mean"], quality_standard_error=quality["standard_error"],
                   quality_difference=quality["difference"], quality_examples=quality["examples"],
                   quality_estimator=quality.get("estimator_name"))
    return {k: v for k, v in row.items() if v is not None}  # a missing field renders as "-"


def check_arguments(args, recipes):
    """``(recipe names, quantizations)`` from the parsed options, or ``ValueError`` naming the bad one.

    The checks that need no TensorFlow come first, so those mistakes are reported at once.
    """
    runs = list(args.run or [])
    for run_dir in runs:
        if not os.path.isfile(os.path.join(run_dir, "model.keras")):
            raise ValueError(f"--run {run_dir} holds no model.keras (train one with `python -m zoo train`)")
    names = [n.strip() for n in args.recipes.split(",") if n.strip()] if args.recipes else \
        ([] if runs else sorted(recipes))
    unknown = [n for n in names if n not in recipes]
    if unknown or not (names or runs):
        raise ValueError(f"unknown recipe {unknown[0]!r} in --recipes; known recipes: {', '.join(sorted(recipes))}"
                         if unknown else "--recipes names no recipe")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    for option, path in (("--out", args.out), ("--json", args.json)):
        if path and os.path.isdir(path):
            raise ValueError(f"{option} {path} is a folder; name the file to write")
    from keras_ae.serving import QUANTIZATIONS

    quantizations = [q.strip() for q in args.tflite.split(",") if q.strip()]
    bad = [q for q in quantizations if q not in QUANTIZATIONS]
    if bad:
        raise ValueError(f"unknown quantization {bad[0]!r} in --tflite; choose from {', '.join(QUANTIZATIONS)}")
    return names, quantizations


def main(argv=None):
    """Run the benchmark; the exit status. TensorFlow's native start-up noise is kept off stderr."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    from zoo.native_logs import filtered_stderr

    with filtered_stderr():
        return _main(argv)


def _main(argv=None):
    from keras_ae.presets import RECIPES, get_recipe

    parser = argparse.ArgumentParser(prog="python -m export.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", help="comma-separated recipe names, measured untrained "
                                          "(default: every recipe, or none with --run)")
    parser.add_argument("--run", action="append", metavar="RUN_DIR",
                        help="a finished zoo run: its trained model, with the test-score column; repeatable")
    parser.add_argument("--tflite", default="none,float16,dynamic,int8", help="TFLite variants to time")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per cell (median reported)")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    parser.add_argument("--json", help="also write the rows as JSON (what benchmarks/tables render)")
    args = parser.parse_args(argv)
    try:
        names, quantizations = check_arguments(args, RECIPES)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    from keras_ae.serving import human_size

    def ms(seconds):
        return f"{seconds * 1e3:.3f}"

    lines = ["| recipe | artifact | size | test NLL or score (vs Keras) | encode b=1 (ms) | encode b=64 (ms) "
             "| reconstruct b=1 (ms) | reconstruct b=64 (ms) |", "|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    records = []
    jobs = [(name, None) for name in names] + [(None, run_dir) for run_dir in args.run or []]
    with tempfile.TemporaryDirectory(prefix="keras_ae_bench_") as folder:
        for name, run_dir in jobs:
            if run_dir is not None:
                from export import cli

                name = cli.default_name(cli.read_run(run_dir)[0], run_dir)
            try:
                rows = benchmark_recipe(get_recipe(name), folder, quantizations, args.repeats, run_dir)
            except ValueError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            label = name if run_dir is None else f"{name} (trained)"
            for artifact, size, quality, *times in rows:
                size_text = size if isinstance(size, str) else human_size(size)
                line = (f"| {label} | {artifact} | {size_text} | {quality_text(quality)} | "
                        + " | ".join(ms(t) for t in times) + " |")
                lines.append(line)
                print(line, flush=True)
                records.append(record(name, run_dir, artifact, size, quality, times))
    if args.json:
        from keras_ae.training import atomic_write_json

        atomic_write_json(args.json, {"command": "python -m export.benchmark " + " ".join(argv or sys.argv[1:]),
                                      "rows": records})
    if args.out:
        from keras_ae.training import atomic_write_text

        atomic_write_text(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
