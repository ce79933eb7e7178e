"""Samples of a generative model (``is_generative``): a square grid of ``model.sample(n, seed)``."""

import math

from keras_ae.pictures.drawing import as_numpy, draw_grid, model_name


def sample_grid(model, path, n=64, seed=0):
    """Write ``n`` samples from a generative model's prior (``model.sample(n, seed)``) as a square grid.

    Args:
        model: a model with ``is_generative`` true.
        path: PNG file to write.
        n: number of samples, default 64.
        seed: sampling seed, default 0 (the same seed gives the same picture).
    Returns:
        ``path``.
    """
    model.require("is_generative", "sample_grid")
    samples = as_numpy(model.sample(n, seed=seed))
    cols = math.ceil(math.sqrt(n))
    return draw_grid(samples, math.ceil(n / cols), cols, path, f"{model_name(model)}: samples (seed {seed})")
