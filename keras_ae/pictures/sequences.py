"""Step-wise outputs of a model that draws in steps (``has_step_outputs``, DRAW): PNG grids and a GIF."""

import io
import math

import numpy as np

from keras_ae.pictures.drawing import as_images, as_numpy, draw_grid, model_name, mosaic
from keras_ae.training import atomic_write_bytes


def has_canvas_sequence(model):
    """Whether ``model`` draws in steps and shows them: it declares ``has_step_outputs`` (DRAW)."""
    return model.capabilities()["has_step_outputs"]


def _sample_sequence(model, n, seed):
    """``model.sample_sequence(n, seed)`` as numpy ``[n, T, ...]``, or ``ValueError`` for a model without one."""
    model.require("has_step_outputs", "generation_sequence_grid")
    return as_numpy(model.sample_sequence(n, seed=seed))


def _step_labels(steps):
    return [f"t={t + 1}" for t in range(steps)]


def generation_sequence_grid(model, path, n=8, seed=0):
    """Write the generation sequence: one row per sample, one column per step (``model.sample_sequence``).

    Cell ``(i, t)`` is sample ``i``'s canvas after step ``t`` (DRAW: ``sigmoid(c_t)``); the last
    column is ``model.sample(n, seed)``.

    Args:
        model: a model with ``sample_sequence(n, seed)`` (``[n, T, *input_shape]``).
        path: PNG file to write.
        n: samples (rows), default 8.
        seed: sampling seed, default 0 (the same seed gives the same picture).
    Returns:
        ``path``.
    """
    sequence = _sample_sequence(model, n, seed)
    steps = sequence.shape[1]
    return draw_grid(sequence.reshape((-1,) + sequence.shape[2:]), len(sequence), steps, path,
                      f"{model_name(model)}: generation sequence, the canvas after each step (seed {seed})",
                      col_labels=_step_labels(steps))


def reconstruction_sequence_grid(model, x, path, n=8):
    """Write how the model draws its reconstructions: per row an input, then its canvas after each step.

    The canvases are ``model.canvas_sequence(model.encode(x))``; the last one is ``reconstruct(x)``.

    Args:
        model: a model with ``canvas_sequence(z)`` and ``encode``.
        x: data ``[N, *input_shape]``; the first ``n`` examples are drawn.
        path: PNG file to write.
        n: examples (rows), default 8.
    Returns:
        ``path``.
    """
    model.require("has_step_outputs", "reconstruction_sequence_grid")
    x = np.asarray(x, np.float32)[:n]
    sequence = as_numpy(model.canvas_sequence(model.encode(x)))  # [n, T, ...]
    steps = sequence.shape[1]
    rows = np.concatenate([x[:, None], sequence], axis=1)
    return draw_grid(rows.reshape((-1,) + x.shape[1:]), len(x), steps + 1, path,
                      f"{model_name(model)}: inputs and the canvas after each step of their reconstruction",
                      col_labels=["input"] + _step_labels(steps))


def generation_sequence_gif(model, path, n=16, seed=0, zoom=4, frame_ms=200, hold_ms=1500):
    """Write the generation sequence as an animated GIF: frame ``t`` shows every sample's canvas after step ``t``.

    The samples are tiled in a square grid (those of :func:`generation_sequence_grid` with the
    same ``seed`` come first), each pixel drawn as ``zoom x zoom``; the last frame stays
    ``hold_ms`` before the animation loops. Written with Pillow, atomically.

    Args:
        model: a model with ``sample_sequence(n, seed)``.
        path: GIF file to write.
        n: samples, default 16.
        seed: sampling seed, default 0.
        zoom: pixel magnification, default 4.
        frame_ms, hold_ms: duration of a step's frame and of the last one, default 200 and 1500 ms.
    Returns:
        ``path``.
    """
    from PIL import Image

    sequence = _sample_sequence(model, n, seed)
    steps = sequence.shape[1]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    frames = []
    for t in range(steps):
        images = as_images(sequence[:, t])
        if images is None:
            raise ValueError(f"{model_name(model)}'s examples are not images; a GIF needs images")
        tile = mosaic(images, rows, cols)
        tile = np.repeat(np.repeat(tile, zoom, axis=0), zoom, axis=1)
        pixels = np.round(np.clip(tile, 0.0, 1.0) * 255).astype(np.uint8)
        frames.append(Image.fromarray(pixels, "RGB" if pixels.ndim == 3 else "L"))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=[frame_ms] * (steps - 1) + [hold_ms])
    atomic_write_bytes(path, buffer.getvalue())
    return path
