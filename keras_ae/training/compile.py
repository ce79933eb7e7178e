"""Compile defaults: the optimizer every recipe is measured with, and the fastest compile options."""

import keras
import tensorflow as tf


def default_optimizer(learning_rate=1e-3):
    """Adam, the optimizer every zoo recipe is measured with."""
    return keras.optimizers.Adam(learning_rate=learning_rate)


def compile_model(model, learning_rate=1e-3, **kwargs):
    """Compile with the zoo defaults (Adam); ``kwargs`` go to ``model.compile``."""
    kwargs.setdefault("optimizer", default_optimizer(learning_rate))
    model.compile(**kwargs)
    return model


def fast_compile_options(strategy=None, per_batch_callbacks=False, model=None):
    """``compile`` arguments measured fastest on this project's 2-core CPU (``python -m zoo bench``).

    Measured with ``python -m zoo bench`` (random data, batch = the recipe's): running 10 steps per
    ``tf.function`` call (``steps_per_execution``) made the small digits models up to 2.4x faster;
    XLA (``jit_compile``) made the MNIST-size MLPs (512 hidden units) 1.3-1.6x faster, but the
    digits-size and convolutional models 1.2-2x slower, so it is used only for MLPs with a layer
    of 512 units or more. Both apply on a single replica only, where they were measured. With
    both on, the base model runs the 10 steps of a call as one XLA program
    (``BaseAutoencoder.make_train_function``), another 1.1-1.2x on the 784-512-16 VAE.
    Callbacks that act before every batch would run only every 10 steps, so
    ``per_batch_callbacks=True`` keeps one step per call. (KL warm-up and temperature annealing
    no longer need it: they are computed in the train step from the step count, identically
    with 1 or 10 steps per call, tested; the zoo still passes it for recipes with callbacks,
    so their README figures stay comparable.)

    Args:
        strategy: the ``tf.distribute`` strategy (default: the current one).
        per_batch_callbacks: whether the run has callbacks that act on every batch.
        model: the model to compile (XLA is chosen from its architecture); None: no XLA.

    Example:
        >>> fast_compile_options(tf.distribute.get_strategy())
        {'jit_compile': False, 'steps_per_execution': 10}
    """
    strategy = strategy or tf.distribute.get_strategy()
    single = strategy.num_replicas_in_sync == 1 and not isinstance(strategy, tf.distribute.TPUStrategy)
    large_mlp = (model is not None and getattr(model, "architecture", None) == "mlp"
                 and max(getattr(model, "hidden_units", ()) or (0,)) >= 512
                 and getattr(model, "supports_xla", True))
    return {"jit_compile": bool(single and large_mlp),
            "steps_per_execution": 10 if single and not per_batch_callbacks else 1}

