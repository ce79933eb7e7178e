"""``python -m zoo bench NAME``: training throughput of a recipe on random data of its shape.

Trains the recipe's model with ``fit`` on random binary data (no download) through the same
``tf.data`` pipeline as ``train`` and prints examples per second and step time in steady state
(after compilation and ``--warmup`` steps), the whole ``fit`` including compilation, and the peak
memory of the process.

Example::

    python -m zoo bench vae-mnist --batch-size 100 --steps 500
"""

import json
import resource
import sys
import time

from zoo import runner
from zoo.runner import CliError


def peak_memory_mb():
    """Peak memory in MB: the accelerator's peak where TensorFlow reports it, else the process RSS."""
    import tensorflow as tf

    for gpu in tf.config.list_logical_devices("GPU")[:1]:
        try:
            return tf.config.experimental.get_memory_info(gpu.name)["peak"] / 2**20, "gpu peak"
        except (ValueError, RuntimeError):
            pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10), "process max RSS"


class StepClock:
    """A Keras callback recording ``(steps done, time)`` after every train function call."""

    def __init__(self, steps_per_execution):
        import keras

        outer = self

        class _Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                outer.marks = [(0, time.perf_counter())]

            def on_train_batch_end(self, batch, logs=None):
                outer.marks.append((batch + 1, time.perf_counter()))

        self.callback = _Clock()
        self.marks = []

    def steady(self, warmup):
        """``(seconds per step, steps timed)`` over the marks after ``warmup`` steps."""
        after = [m for m in self.marks if m[0] >= warmup]
        if len(after) < 2:
            after = self.marks[-2:]
        (s0, t0), (s1, t1) = after[0], after[-1]
        return (t1 - t0) / max(s1 - s0, 1), s1 - s0


def run_bench(recipe, batch_size, steps, warmup, strategy, options, seed=0):
    """Time ``fit`` of ``recipe``'s model; ``options`` are the user's compile arguments (the rest: the model's defaults). Returns a dict."""
    import numpy as np

    from keras_ae import data, training

    shape = data.dataset_shape(recipe.dataset)
    rng = np.random.default_rng(seed)
    num = max(10 * batch_size, 10_000)
    x = (rng.uniform(size=(num,) + tuple(shape)) < 0.5).astype("float32")
    with strategy.scope():
        model = runner.build_model(recipe, shape, seed)
        model.build()
        training.compile_model(model, learning_rate=recipe.learning_rate, **options)
    ds = data.training_pipeline(x, batch_size, shuffle=True, seed=seed, repeat=True, drop_remainder=True)
    extras = model.batch_extras_spec()
    if extras:  # entries the loss needs besides x (labels, neighbouring frames): zeros time the same
        import tensorflow as tf

        def with_extras(x):
            batch = tf.shape(x)[:1]
            return {"x": x, **{k: tf.zeros(tf.concat([batch, tf.constant(s.shape.as_list(), tf.int32,
                                                                          [s.shape.rank])], 0), s.dtype)
                               for k, s in extras.items()}}

        ds = ds.map(with_extras)
    spe = model.steps_per_execution
    total_steps = -(-(warmup + steps) // spe) * spe
    clock = StepClock(spe)
    start = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=total_steps, callbacks=[clock.callback], verbose=0)
    fit_seconds = time.perf_counter() - start
    step_seconds, timed = clock.steady(warmup)
    first_steps, first_time = clock.marks[1][0], clock.marks[1][1] - clock.marks[0][1]
    memory, memory_kind = peak_memory_mb()
    return {
        "recipe": recipe.name,
        "model": recipe.model,
        "input_shape": list(shape),
        "batch_size": batch_size,
        "replicas": strategy.num_replicas_in_sync,
        "jit_compile": bool(model.jit_compile),
        "steps_per_execution": spe,
        "timed_steps": timed,
        "examples_per_second": batch_size / step_seconds,
        "step_ms": 1e3 * step_seconds,
        "first_call_seconds": first_time,
        "first_call_steps": first_steps,
        "fit_seconds": fit_seconds,
        "fit_steps": total_steps,
        "fit_examples_per_second": total_steps * batch_size / fit_seconds,
        "peak_memory_mb": memory,
        "memory_kind": memory_kind,
    }


def cmd_bench(args):
    """``python -m zoo bench``: check the options, time the recipe, print a summary and one JSON line."""
    recipe = runner.resolve_recipe(args.name)
    batch_size = recipe.batch_size if args.batch_size is None else args.batch_size
    if batch_size < 1:
        raise CliError(f"--batch-size must be >= 1, got {batch_size}")
    if args.steps < 1:
        raise CliError(f"--steps must be >= 1, got {args.steps}")
    if args.warmup < 0:
        raise CliError(f"--warmup must be >= 0, got {args.warmup}")
    speed = runner.Speed.from_args(args)
    strategy = runner.setup_strategy(speed, batch_size)
    result = run_bench(recipe, batch_size, args.steps, args.warmup, strategy,
                       runner.compile_options(speed))
    result["precision"] = args.precision
    print(f"{recipe.name} ({recipe.model}, input {tuple(result['input_shape'])}), batch {batch_size}, "
          f"precision {args.precision}, jit_compile {result['jit_compile']}, "
          f"steps_per_execution {result['steps_per_execution']}, {result['replicas']} replica(s)")
    print(f"  steady state:  {result['examples_per_second']:,.0f} examples/s, "
          f"{result['step_ms']:.2f} ms/step over {result['timed_steps']} steps")
    print(f"  whole fit:     {result['fit_examples_per_second']:,.0f} examples/s, {result['fit_seconds']:.2f} s "
          f"for {result['fit_steps']} steps (first call incl. compilation {result['first_call_seconds']:.2f} s)")
    print(f"  peak memory:   {result['peak_memory_mb']:,.0f} MB ({result['memory_kind']})")
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}))
    return 0
