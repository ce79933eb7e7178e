"""``python -m zoo bench NAME``: training throughput of a recipe on random data of its shape.

Trains the recipe's model with ``fit`` on random binary data (no download) through the same
``tf.data`` pipeline as ``train`` and prints examples per second and step time in steady state
(after compilation and ``--warmup`` steps), the whole ``fit`` including compilation, the peak
memory of the process, and the steady FLOP rate of the train step's products (dense and
convolutional) as a fraction of the rate of its largest matmul's shape, measured in the same run
(:func:`train_step_flops`, :func:`matmul_rate`). The speed settings are those a long run gets:
``compile``'s answer from the model, not ``fit``'s decision for the few planned steps.

Example::

    python -m zoo bench vae-mnist --batch-size 100 --steps 500
"""

import json
import resource
import sys
import time

import numpy as np

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


#: ops whose arithmetic is counted: dense and convolutional products, forward and backward.
_PRODUCT_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv2DBackpropInput",
                "Conv2DBackpropFilter", "Conv3D", "DepthwiseConv2dNative")


def _static(shape):
    dims = shape.as_list() if shape.rank is not None else None
    return None if dims is None or None in dims else dims


def product_flops(op):
    """``(FLOPs, (m, k, n) or None)`` of one dense or convolutional op of a graph (2 per multiply-add)."""
    if op.type in ("MatMul",) or op.type.startswith("BatchMatMul"):
        a, out = _static(op.inputs[0].shape), _static(op.outputs[0].shape)
        if a is None or out is None:
            return 0, None
        transposed = op.get_attr("transpose_a") if op.type == "MatMul" else op.get_attr("adj_x")
        k = a[-2] if transposed else a[-1]
        batch = int(np.prod(out[:-2])) if len(out) > 2 else 1
        return 2 * batch * out[-2] * k * out[-1], (batch * out[-2], k, out[-1])
    # a convolution: every output element (or, for the filter gradient, every filter element) is
    # a sum over the other tensor's window; 2 x (output elements) x (window of input channels)
    shapes = [_static(t.shape) for t in list(op.inputs) + list(op.outputs)]
    if any(sh is None for sh in shapes):
        return 0, None
    if op.type == "Conv2DBackpropFilter":  # inputs: input, filter sizes, out_backprop; output: filter grad
        grad = shapes[2]
        return 2 * int(np.prod(grad)) * int(np.prod(shapes[-1][:-1])), None
    if op.type == "Conv2DBackpropInput":  # inputs: input sizes, filter, out_backprop
        return 2 * int(np.prod(shapes[2])) * int(np.prod(shapes[1][:-1])), None
    out, kernel = shapes[-1], shapes[1]
    window = int(np.prod(kernel[:-1])) if op.type != "DepthwiseConv2dNative" else int(np.prod(kernel[:-2]))
    return 2 * int(np.prod(out)) * window, None


def train_step_flops(model, batch_size):
    """``(FLOPs of one train step, (m, k, n) of its largest matmul or None, FLOPs in matmuls)``.

    Counted on the traced train step (forward, backward and the update) of a batch of
    ``batch_size``: every dense and convolutional product (``_PRODUCT_OPS``), 2 FLOPs per
    multiply-add; elementwise work is left out (for the 784-512-16 VAE it is 2% of TensorFlow's
    own profiler count, 424.7 MFLOP of which 416.2 are the 11 matmuls: 4 forward, 4 weight
    gradients and 3 input gradients, the data needing none).
    """
    import tensorflow as tf

    spec = tf.TensorSpec([batch_size] + list(model.data_shape), model.data_spec.dtype)
    extras = model.batch_extras_spec()
    if extras:
        spec = {"x": spec, **{k: tf.TensorSpec([batch_size] + s.shape.as_list()[1:], s.dtype)
                              for k, s in extras.items()}}
    model._build_optimizers()
    graph = tf.function(model.train_step, autograph=False).get_concrete_function(spec).graph
    total, matmuls, largest = 0, 0, (0, None)
    for op in graph.get_operations():
        if op.type in _PRODUCT_OPS:
            flops, shape = product_flops(op)
            total += flops
            if shape is not None:
                matmuls += flops
                if flops > largest[0]:
                    largest = (flops, shape)
    return total, largest[1], matmuls


def matmul_rate(m, k, n, seconds=0.3, repeats=5):
    """The float32 ``[m, k] x [k, n]`` matmul rate of this machine now, FLOP/s (the best of ``repeats``).

    A ``tf.function`` loop of products (each input depends on the previous result, so none is
    skipped), timed for about ``seconds`` per repeat, the best repeat reported: a ceiling for a
    step whose work is products of that shape.
    """
    import tensorflow as tf

    a = tf.random.stateless_uniform([m, k], seed=[0, 1])
    b = tf.random.stateless_uniform([k, n], seed=[0, 2])

    @tf.function(autograph=False)
    def products(count):
        def body(i, carry):
            return i + 1, carry + tf.reduce_sum(tf.matmul(a + carry * 0.0, b)[:1, :1])

        return tf.while_loop(lambda i, carry: i < count, body, (tf.constant(0), tf.constant(0.0)))[1]

    flop = 2.0 * m * k * n
    products(tf.constant(2)).numpy()
    count = 2
    while True:  # enough products for about `seconds`
        start = time.perf_counter()
        products(tf.constant(count)).numpy()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 4 or count > 10**6:
            break
        count *= 4
    count = max(1, int(count * seconds / max(elapsed, 1e-9)))
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        products(tf.constant(count)).numpy()
        best = max(best, count * flop / (time.perf_counter() - start))
    return best


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
        # The settings a long run gets (compile's answer from the model), held for this short fit,
        # for which fit would decide from its few planned steps.
        training.compile_model(model, learning_rate=recipe.learning_rate, jit_compile=bool(model.jit_compile),
                               steps_per_execution=model.steps_per_execution)
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
    flops, largest, in_matmuls = train_step_flops(model, batch_size // strategy.num_replicas_in_sync)
    # A matmul's rate is the ceiling of a step whose products are mostly matmuls; convolutions
    # run other kernels, so a step of mostly convolutions gets no ceiling.
    largest = largest if in_matmuls >= 0.5 * flops else None
    ceiling = matmul_rate(*largest) if largest else None
    rate = flops / step_seconds * strategy.num_replicas_in_sync
    return {
        "train_step_flops": flops,
        "matmul_share": in_matmuls / flops if flops else None,
        "flop_rate": rate,
        "matmul_shape": list(largest) if largest else None,
        "matmul_rate": ceiling,
        "fraction_of_matmul": rate / ceiling if ceiling else None,
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
    print(f"  FLOP rate:     {result['flop_rate'] / 1e9:.1f} GFLOP/s steady ({result['train_step_flops'] / 1e6:.1f} "
          f"MFLOP per step in its products)" + (
              f", {result['fraction_of_matmul']:.2f} of the {result['matmul_rate'] / 1e9:.1f} GFLOP/s of a float32 "
              f"[{mkn[0]}, {mkn[1]}] x [{mkn[1]}, {mkn[2]}] matmul measured now"
              if (mkn := result["matmul_shape"]) else ", mostly convolutions: no matmul ceiling"))
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}))
    return 0
