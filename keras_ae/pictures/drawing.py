"""Drawing primitives of the pictures: arrays to images, mosaics, labelled grids, atomic PNG files.

Matplotlib is driven through its object API with the Agg canvas: no pyplot state, no display,
and the global backend of the calling program is left alone. Every picture is written atomically
(:func:`keras_ae.training.atomic_write_bytes`), so a run directory never holds half a picture.
Examples are drawn as images when they are ``H x W``, ``H x W x C`` or vectors of a square size
(values shown on [0, 1]); any other vector is drawn as a line plot.
"""

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_ae.training import atomic_write_bytes

#: separator value between tiles of a mosaic: mid grey, visible on black and white digits alike.
SEPARATOR = 0.5
CELL_INCHES = 0.75
DPI = 100
_ENCODE_BATCH = 512


def as_numpy(values):
    return np.asarray(values.numpy() if hasattr(values, "numpy") else values, dtype=np.float32)


def batched(fn, values, batch=_ENCODE_BATCH):
    """``fn`` over ``values`` in chunks (bounded memory for large test sets) -> numpy."""
    values = np.asarray(values, dtype=np.float32)
    return np.concatenate([as_numpy(fn(values[i:i + batch])) for i in range(0, len(values), batch)], axis=0)


def encode_batched(model, x):
    return batched(model.encode, x)


def decode_batched(model, z):
    return batched(model.decode, z)


def as_images(batch):
    """``[N, *shape]`` -> ``[N, H, W]`` grey or ``[N, H, W, 3]`` RGB on [0, 1], or None (not an image).

    Images with channels other than 1 or 3 show their channels side by side.
    """
    batch = np.asarray(batch, np.float32)
    shape = batch.shape[1:]
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            return None
        batch = batch.reshape((-1, side, side))  # [N, D] -> [N, sqrt(D), sqrt(D)]
    elif len(shape) == 3:
        channels = shape[2]
        if channels == 1:
            batch = batch[..., 0]
        elif channels != 3:
            # [N, H, W, C] -> [N, H, C * W]: channel c is the c-th panel from the left.
            batch = np.concatenate([batch[..., c] for c in range(channels)], axis=2)
    elif len(shape) != 2:
        return None
    return np.clip(batch, 0.0, 1.0)


def mosaic(images, rows, cols):
    """Tile ``rows * cols`` images ``[N, H, W(, 3)]`` (row-major, missing tiles blank) with 1-px separators."""
    n, h, w = images.shape[:3]
    tail = images.shape[3:]
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1) + tail, SEPARATOR, np.float32)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = images[k]
    return canvas


def new_figure(width, height):
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def draw_grid(cells, rows, cols, path, title, row_labels=None, col_labels=None):
    """Draw ``rows * cols`` examples ``[N, *shape]`` (row-major) as one picture and save it.

    Images become a single mosaic (fast for 400 tiles); other vectors become small line plots
    sharing one y-range, so rows can be compared by eye.
    """
    cells = np.asarray(cells, np.float32)
    images = as_images(cells)
    label_width = max(1.2, 0.07 * max(len(label) for label in row_labels)) if row_labels else 0.3
    if images is not None:
        h, w = images.shape[1:3]
        aspect = w / h
        fig = new_figure(cols * CELL_INCHES * max(aspect, 0.5) + label_width, rows * CELL_INCHES + 0.8)
        ax = fig.add_axes((label_width / fig.get_figwidth(), 0.25 / fig.get_figheight(),
                           1 - (label_width + 0.1) / fig.get_figwidth(), 1 - 0.8 / fig.get_figheight()))
        ax.imshow(mosaic(images, rows, cols), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest",
                  aspect="auto")
        ax.set_xticks([1 + c * (w + 1) + w / 2 for c in range(cols)] if col_labels else [])
        ax.set_yticks([1 + r * (h + 1) + h / 2 for r in range(rows)] if row_labels else [])
        if col_labels:
            ax.set_xticklabels(col_labels, fontsize=7)
        if row_labels:
            ax.set_yticklabels(row_labels, fontsize=8)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.tick_params(length=0)
    else:
        fig = new_figure(cols * 1.3 + label_width, rows * 0.9 + 0.8)
        ax = fig.add_axes((label_width / fig.get_figwidth(), 0.35 / fig.get_figheight(),
                           1 - (label_width + 0.1) / fig.get_figwidth(), 1 - 0.9 / fig.get_figheight()))
        centres_x, centres_y = _draw_line_cells(ax, cells.reshape((len(cells), -1)), rows, cols)
        ax.set_xticks(centres_x if col_labels else [])
        ax.set_yticks(centres_y if row_labels else [])
        if col_labels:
            ax.set_xticklabels(col_labels, fontsize=7)
        if row_labels:
            ax.set_yticklabels(row_labels, fontsize=8)
        ax.tick_params(length=0)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def _draw_line_cells(ax, flat, rows, cols):
    """Draw vectors ``[N, D]`` as line plots in a ``rows x cols`` layout of one axes.

    One ``LineCollection`` in one axes instead of a subplot per cell: a 20 x 20 manifold of
    subplots takes minutes to render, this takes a fraction of a second. Every cell shares the
    y-range of all the vectors, so cells can be compared by eye.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Rectangle

    length = flat.shape[1]
    low, high = float(flat.min()), float(flat.max())
    height = max(high - low, 1e-6)
    gap_x, gap_y = 0.15 * max(length - 1, 1), 0.2 * height
    step_x, step_y = max(length - 1, 1) + gap_x, height + gap_y
    t = np.arange(length, dtype=np.float32)
    segments = []
    for k in range(min(len(flat), rows * cols)):
        r, c = divmod(k, cols)
        segments.append(np.stack([c * step_x + t, (rows - 1 - r) * step_y + flat[k] - low], axis=1))
    ax.add_collection(LineCollection(segments, linewidths=0.8))
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((c * step_x, (rows - 1 - r) * step_y), max(length - 1, 1), height,
                                   fill=False, edgecolor="0.8", linewidth=0.5))
    ax.set_xlim(-gap_x / 2, cols * step_x - gap_x / 2)
    ax.set_ylim(-gap_y / 2, rows * step_y - gap_y / 2)
    for side in ax.spines.values():
        side.set_visible(False)
    centres_x = [c * step_x + max(length - 1, 1) / 2 for c in range(cols)]
    centres_y = [(rows - 1 - r) * step_y + height / 2 for r in range(rows)]
    return centres_x, centres_y


def model_name(model):
    return type(model).__name__
