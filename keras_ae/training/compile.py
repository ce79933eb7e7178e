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
