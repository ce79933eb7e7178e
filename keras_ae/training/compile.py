"""Compile with the optimizer every recipe is measured with; speed settings are the model's own defaults."""

import keras


def default_optimizer(learning_rate=1e-3):
    """Adam, the optimizer every zoo recipe is measured with."""
    return keras.optimizers.Adam(learning_rate=learning_rate)


def compile_model(model, learning_rate=1e-3, **kwargs):
    """``model.compile`` with ``Adam(learning_rate)``; ``kwargs`` go to ``model.compile``.

    ``jit_compile`` and ``steps_per_execution`` left out take the model's measured defaults
    (``"auto"``, see :meth:`keras_ae.models.base.BaseAutoencoder.compile`), the same a library user
    gets from ``model.compile()``.
    """
    kwargs.setdefault("optimizer", default_optimizer(learning_rate))
    model.compile(**kwargs)
    return model


#: the environment variable the zoo reads for :func:`enable_xla_cache` (a directory).
XLA_CACHE_VARIABLE = "KERAS_AE_XLA_CACHE"
_CACHE_FLAG = "--tf_xla_persistent_cache_directory"


def enable_xla_cache(directory):
    """Keep XLA-compiled train steps in ``directory`` so that later processes load them instead of compiling.

    TensorFlow's persistent XLA cache (the ``--tf_xla_persistent_cache_directory`` flag of
    ``TF_XLA_FLAGS``): every program compiled by a ``jit_compile=True`` function is written to
    ``directory`` as ``xla_compile_cache__<function>__<signature>__XLA_CPU_JIT.pb`` and read back
    by a process that compiles the same graph on the same shapes. The key is the traced graph, so
    a model built without a ``seed`` (random seeds in its graph) misses the cache every run, and
    files are never evicted (delete the directory to empty it).

    TensorFlow reads ``TF_XLA_FLAGS`` once, at the process's first XLA compilation, so call this
    before any (e.g. at the top of a script; the zoo reads the ``KERAS_AE_XLA_CACHE``
    environment variable before it builds a model). It compiles a one-matmul probe and raises
    ``RuntimeError`` if the probe was not written (the flags were read already); with another
    ``TF_XLA_FLAGS`` cache directory set it raises ``ValueError``.

    Measured (``fit`` of the 784-512-16 VAE on 4,000 examples, batch 100, XLA, 10 steps per call;
    fixed seeds; 2-core CPU at load average 6.7-6.8): the first epoch took 6.37 s in the process
    that filled the cache and 1.89 and 2.17 s in the next two, about the 1.6-1.8 s of the same
    epoch without XLA (tracing alone). Whole processes of a 5-epoch XLA fit, 3 runs each
    alternated, load average 5.3-7.0: 0.82x the CPU time with the cache filled (10.5 against
    12.8 CPU s; the wall time, 13.8 against 13.3 s, was lost in the load).

    Returns the absolute ``directory`` (created if missing).
    """
    import os

    import numpy as np
    import tensorflow as tf

    path = os.path.abspath(os.fspath(directory))
    flags = os.environ.get("TF_XLA_FLAGS", "").split()
    given = [f.split("=", 1)[1] for f in flags if f.startswith(_CACHE_FLAG + "=")]
    if given and os.path.abspath(given[-1]) != path:
        raise ValueError(f"directory={directory!r}: TF_XLA_FLAGS already names the XLA cache {given[-1]!r}")
    os.makedirs(path, exist_ok=True)
    if not given:
        os.environ["TF_XLA_FLAGS"] = " ".join(flags + [f"{_CACHE_FLAG}={path}"])
    before = set(os.listdir(path))
    marker = float(np.random.default_rng().integers(1, 2**31))  # a graph no earlier process compiled

    @tf.function(jit_compile=True, autograph=False)
    def probe(x):
        return tf.matmul(x, x) + marker

    probe(tf.ones([3, 3], tf.float32))
    written = set(os.listdir(path)) - before
    for name in written:  # the probe's own program: of no use to anyone
        os.remove(os.path.join(path, name))
    if not written:
        raise RuntimeError(f"the XLA cache {path!r} was not used: TensorFlow read TF_XLA_FLAGS before this call "
                           f"(an XLA program was compiled already); call enable_xla_cache first, or set "
                           f"TF_XLA_FLAGS={_CACHE_FLAG}={path} in the environment")
    return path
