"""Size and latency of every zoo recipe: Keras, SavedModel and each TFLite variant.

    python -m export.benchmark [--recipes ae-digits,vae-digits] [--out bench.md] [--repeats 20]

For each recipe the model is built at full size (the recipe's own arguments) and left untrained:
latency and size do not depend on the weights' values. No dataset is loaded: int8 calibration
uses uniform [0, 1] noise of the recipe's shape, which is fine for timing (not for accuracy).
Prints a Markdown table: recipe, artifact, size, and the median latency of ``encode`` and
``reconstruct`` at batch 1 and 64 (Keras ``predict_on_batch``, the SavedModel signature, the
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


def benchmark_recipe(recipe, folder, quantizations, repeats):
    import numpy as np
    import tensorflow as tf

    from keras_ae import data, models, serving

    shape = data.dataset_shape(recipe.dataset)
    model = getattr(models, recipe.model)(input_shape=shape, seed=0, **recipe.model_args)
    model.build()
    x = np.random.default_rng(0).uniform(0, 1, (64,) + tuple(shape)).astype(np.float32)
    model.post_fit(x, seed=0)
    x1, x64 = x[:1], x
    rows = [("keras", "-", *_timings(model.encode,
                                     model.predict_on_batch, x1, x64, repeats))]
    path = serving.export_saved_model(model, folder, recipe.name)
    sigs = tf.saved_model.load(path).signatures
    rows.append(("savedmodel", serving.file_size(path),
                 *_timings(lambda v: sigs["encode"](x=tf.constant(v)), lambda v: sigs["reconstruct"](x=tf.constant(v)),
                           x1, x64, repeats)))
    for q in quantizations:
        tflite = os.path.join(folder, f"{recipe.name}.{q}.tflite")
        serving.export_tflite(model, tflite, q, representative_data=x if q == "int8" else None, measure_parity=False)
        interpreter = serving.litert_interpreter(model_path=tflite)
        enc, rec = interpreter.get_signature_runner("encode"), interpreter.get_signature_runner("reconstruct")
        rows.append((f"tflite {q}", os.path.getsize(tflite),
                     *_timings(lambda v: enc(x=v), lambda v: rec(x=v), x1, x64, repeats)))
    return rows


def check_arguments(args, recipes):
    """``(recipe names, quantizations)`` from the parsed options, or ``ValueError`` naming the bad one.

    The checks that need no TensorFlow come first, so those mistakes are reported at once.
    """
    names = [n.strip() for n in args.recipes.split(",") if n.strip()] if args.recipes else sorted(recipes)
    unknown = [n for n in names if n not in recipes]
    if unknown or not names:
        raise ValueError(f"unknown recipe {unknown[0]!r} in --recipes; known recipes: {', '.join(sorted(recipes))}"
                         if unknown else "--recipes names no recipe")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {args.repeats}")
    if args.out and os.path.isdir(args.out):
        raise ValueError(f"--out {args.out} is a folder; name the Markdown file to write")
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
    parser.add_argument("--recipes", help="comma-separated recipe names (default: every recipe)")
    parser.add_argument("--tflite", default="none,float16,dynamic,int8", help="TFLite variants to time")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per cell (median reported)")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    try:
        names, quantizations = check_arguments(args, RECIPES)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    from keras_ae.serving import human_size

    def ms(seconds):
        return f"{seconds * 1e3:.3f}"

    lines = ["| recipe | artifact | size | encode b=1 (ms) | encode b=64 (ms) | reconstruct b=1 (ms) "
             "| reconstruct b=64 (ms) |", "|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory(prefix="keras_ae_bench_") as folder:
        for name in names:
            for artifact, size, *times in benchmark_recipe(get_recipe(name), folder, quantizations, args.repeats):
                size_text = size if isinstance(size, str) else human_size(size)
                line = f"| {name} | {artifact} | {size_text} | " + " | ".join(ms(t) for t in times) + " |"
                lines.append(line)
                print(line, flush=True)
    if args.out:
        from keras_ae.training import atomic_write_text

        atomic_write_text(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
