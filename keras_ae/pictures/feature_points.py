"""Feature points of a model that declares them (``has_feature_points``), drawn on their frames."""

import math

import matplotlib
import numpy as np

from keras_ae.pictures.drawing import as_images, batched, model_name, new_figure, save_figure


def feature_point_grid(model, x, path, positions=None, n=16, cols=8):
    """Write ``n`` frames with the model's feature points drawn on them (and the true object positions).

    Each of the ``K`` feature points (``model.feature_points(x)``, ``(x, y)`` in [-1, 1] as
    :class:`keras_ae.layers.SpatialSoftmax` gives them) is a coloured dot, the same colour for
    the same point in every frame; the true object positions, when given, are red rings.

    Args:
        model: a model with ``feature_points`` (:class:`keras_ae.models.DeepSpatialAutoencoder`).
        x: frames ``[N, H, W, C]``; the first ``n`` are drawn (consecutive frames show the points move).
        path: PNG file to write.
        positions: the true positions ``[N, M, 2]`` in the same coordinates, or None.
        n: frames drawn, default 16.
        cols: frames per row, default 8.
    Returns:
        ``path``.
    """
    model.require("has_feature_points", "feature_point_grid")
    x = np.asarray(x, np.float32)[:n]
    if len(x) == 0:
        raise ValueError("feature_point_grid needs at least one frame")
    points = batched(model.feature_points, x)  # [n, K, 2]
    images = as_images(x)
    height, width = images.shape[1:3]
    to_pixels = lambda p, size: (np.asarray(p) + 1.0) * (size - 1) / 2.0  # noqa: E731
    if positions is not None:
        positions = np.asarray(positions, np.float32)[:n]
        if len(positions) != len(x) or positions.ndim != 3 or positions.shape[-1] != 2:
            raise ValueError(f"positions must be [N, M, 2] for the {len(x)} frames, got shape {positions.shape}")
    cols = max(1, min(cols, len(x)))
    rows = math.ceil(len(x) / cols)
    fig = new_figure(cols * 1.3, rows * 1.3 + 0.5)
    colours = np.asarray([matplotlib.colormaps["tab20"](k % 20) for k in range(points.shape[1])])
    for i in range(len(x)):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(images[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.scatter(to_pixels(points[i, :, 0], width), to_pixels(points[i, :, 1], height), s=9, c=colours,
                   edgecolors="black", linewidths=0.3)
        if positions is not None:
            ax.scatter(to_pixels(positions[i, :, 0], width), to_pixels(positions[i, :, 1], height), s=70,
                       marker="o", facecolors="none", edgecolors="red", linewidths=1.0)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        ax.set_xticks([])
        ax.set_yticks([])
    legend = " (red rings: true positions)" if positions is not None else ""
    fig.suptitle(f"{model_name(model)}: feature points{legend}", fontsize=9)
    return save_figure(fig, path)
