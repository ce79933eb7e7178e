"""Reconstructions: inputs with their reconstructions below them (every model that reconstructs ``x`` alone)."""

import math

import numpy as np

from keras_ae.pictures.drawing import SEPARATOR, batched, draw_grid, model_name


def reconstruction_grid(model, x, path, n=10):
    """Write ``n`` inputs with their reconstructions directly below them.

    Up to 10 examples per row pair; more examples add row pairs (input row, reconstruction row).

    Args:
        model: any keras-ae model.
        x: data ``[N, *input_shape]``; the first ``n`` examples are shown.
        path: PNG file to write.
        n: number of examples, default 10.
    Returns:
        ``path``.
    """
    x = np.asarray(x, np.float32)[:n]
    recon = batched(model.reconstruct, x)
    cols = min(len(x), 10)
    blocks = math.ceil(len(x) / cols)
    cells, labels = [], []
    for b in range(blocks):
        for source, label in ((x, "input"), (recon, "reconstruction")):
            row = source[b * cols:(b + 1) * cols]
            blank = np.full((cols - len(row),) + row.shape[1:], np.nan, np.float32)
            cells.append(np.concatenate([row, blank]) if len(blank) else row)
            labels.append(label)
    cells = np.concatenate(cells)
    cells = np.where(np.isnan(cells), SEPARATOR, cells)
    return draw_grid(cells, 2 * blocks, cols, path, f"{model_name(model)}: inputs and reconstructions",
                      row_labels=labels)
