"""Class-conditional samples of a model conditioned on labels (``num_classes``): one row per class."""

import numpy as np

from keras_ae import samplers
from keras_ae.pictures.drawing import as_numpy, draw_grid, model_name


def class_sample_grid(model, path, per_class=10, seed=0):
    """Write class-conditional samples of a conditional model: one row per class, one code per column.

    Column ``j`` uses the same code ``z_j ~ p(z)`` in every row (``model.sample(K * per_class,
    seed, y=labels)`` draws the codes from ``seed`` alone), so a row shows its class and a column
    one "style" across the classes.

    Args:
        model: a conditional model with ``num_classes`` labels (``ConditionalVAE``, ``M2``, ...).
        path: PNG file to write.
        per_class: samples per class (columns), default 10.
        seed: sampling seed, default 0 (the same seed gives the same picture).
    Returns:
        ``path``.
    """
    model.require("is_generative", "class_sample_grid")
    model.require("num_classes", "class_sample_grid")
    classes = model.capabilities()["num_classes"]
    per_class = int(per_class)
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    # Row-major: row k holds class k; the codes of one seed repeat along the rows.
    codes = as_numpy(model.prior().sample(per_class, seed=samplers.stateless_seed(seed)))
    labels = np.repeat(np.arange(classes), per_class).astype(np.int32)
    samples = as_numpy(model.decode(np.tile(codes, (classes, 1)), y=labels))
    return draw_grid(samples, classes, per_class, path, f"{model_name(model)}: samples by class (seed {seed})",
                      row_labels=[f"class {k}" for k in range(classes)])
