"""Pictures for run directories: reconstructions, samples, interpolations, traversals, 2-D manifolds,
generation sequences (PNG and animated GIF) of models that draw in steps.

Every function takes a model that follows :class:`keras_ae.models.base.BaseAutoencoder`
(``encode``/``decode``; ``sample`` when ``model.is_generative``) and writes one PNG atomically
(:func:`keras_ae.training.atomic_write_bytes`), so a run directory never holds half a picture.
Examples are drawn as images when they are ``H x W``, ``H x W x C`` or vectors of a square size
(values shown on [0, 1]); any other vector is drawn as a line plot.

Matplotlib is driven through its object API with the Agg canvas: no pyplot state, no display,
and the global backend of the calling program is left alone.

Example::

    from keras_ae.pictures import write_run_pictures
    files = write_run_pictures(model, x_test, y_test, "runs/vae-digits", seed=0)
"""

import io
import math
import os
import statistics

import matplotlib
import numpy as np
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from keras_ae import samplers
from keras_ae.training import atomic_write_bytes

#: separator value between tiles of a mosaic: mid grey, visible on black and white digits alike.
_SEPARATOR = 0.5
_CELL_INCHES = 0.75
_DPI = 100
_ENCODE_BATCH = 512


# -- arrays ----------------------------------------------------------------------------------
def _numpy(values):
    return np.asarray(values.numpy() if hasattr(values, "numpy") else values, dtype=np.float32)


def _batched(fn, values, batch=_ENCODE_BATCH):
    """``fn`` over ``values`` in chunks (bounded memory for large test sets) -> numpy."""
    values = np.asarray(values, dtype=np.float32)
    return np.concatenate([_numpy(fn(values[i:i + batch])) for i in range(0, len(values), batch)], axis=0)


def _encode(model, x):
    return _batched(model.encode, x)


def _decode(model, z):
    return _batched(model.decode, z)


def _as_images(batch):
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


def _mosaic(images, rows, cols):
    """Tile ``rows * cols`` images ``[N, H, W(, 3)]`` (row-major, missing tiles blank) with 1-px separators."""
    n, h, w = images.shape[:3]
    tail = images.shape[3:]
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1) + tail, _SEPARATOR, np.float32)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = images[k]
    return canvas


# -- drawing ---------------------------------------------------------------------------------
def _new_figure(width, height):
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _draw_grid(cells, rows, cols, path, title, row_labels=None, col_labels=None):
    """Draw ``rows * cols`` examples ``[N, *shape]`` (row-major) as one picture and save it.

    Images become a single mosaic (fast for 400 tiles); other vectors become small line plots
    sharing one y-range, so rows can be compared by eye.
    """
    cells = np.asarray(cells, np.float32)
    images = _as_images(cells)
    label_width = max(1.2, 0.07 * max(len(label) for label in row_labels)) if row_labels else 0.3
    if images is not None:
        h, w = images.shape[1:3]
        aspect = w / h
        fig = _new_figure(cols * _CELL_INCHES * max(aspect, 0.5) + label_width, rows * _CELL_INCHES + 0.8)
        ax = fig.add_axes((label_width / fig.get_figwidth(), 0.25 / fig.get_figheight(),
                           1 - (label_width + 0.1) / fig.get_figwidth(), 1 - 0.8 / fig.get_figheight()))
        ax.imshow(_mosaic(images, rows, cols), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest",
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
        fig = _new_figure(cols * 1.3 + label_width, rows * 0.9 + 0.8)
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
    return _save(fig, path)


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


def _model_name(model):
    return type(model).__name__


# -- code-space reference --------------------------------------------------------------------
def has_vector_code(model):
    """Whether the model's code (``code_spec``) is a flat float vector: what interpolations,
    traversals and manifolds move through. A grid of integer indices is not."""
    spec = model.code_spec
    if not isinstance(spec, tf.TensorSpec):  # a structured code (VQVAE2's two index grids)
        return False
    return tf.as_dtype(spec.dtype).is_floating and len(spec.shape) == 1


def _code_size(model):
    return int(model.code_spec.shape[0])


def _code_reference(model, codes=None):
    """Centre and scale ``[latent_dim]`` that put a traversal or manifold on the code's own scale.

    A model with a diagonal Gaussian-like ``prior()`` over the code uses its mean and standard
    deviation (a VAE: 0 and 1); otherwise (deterministic codes, ex-post densities) the mean and
    standard deviation of ``codes``, or 0 and 1 when no codes are given.
    """
    latent_dim = _code_size(model)
    if model.capabilities()["is_generative"]:
        try:
            dist = model.prior()
            centre = np.broadcast_to(_numpy(dist.mean()), (latent_dim,))
            scale = np.broadcast_to(_numpy(dist.stddev()), (latent_dim,))
            return centre.astype(np.float32), scale.astype(np.float32)
        except (NotImplementedError, AttributeError, TypeError, ValueError):
            # Priors that are not over a flat real code (e.g. one-hot categories) fall through.
            pass
    if codes is None or len(codes) < 2:
        return np.zeros(latent_dim, np.float32), np.ones(latent_dim, np.float32)
    return codes.mean(axis=0), np.maximum(codes.std(axis=0), 1e-6)


# -- the pictures ----------------------------------------------------------------------------
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
    recon = _batched(model.reconstruct, x)
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
    cells = np.where(np.isnan(cells), _SEPARATOR, cells)
    return _draw_grid(cells, 2 * blocks, cols, path, f"{_model_name(model)}: inputs and reconstructions",
                      row_labels=labels)


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
    samples = _numpy(model.sample(n, seed=seed))
    cols = math.ceil(math.sqrt(n))
    return _draw_grid(samples, math.ceil(n / cols), cols, path, f"{_model_name(model)}: samples (seed {seed})")


def has_canvas_sequence(model):
    """Whether ``model`` draws in steps and shows them: it declares ``has_step_outputs`` (DRAW)."""
    return model.capabilities()["has_step_outputs"]


def _sample_sequence(model, n, seed):
    """``model.sample_sequence(n, seed)`` as numpy ``[n, T, ...]``, or ``ValueError`` for a model without one."""
    model.require("has_step_outputs", "generation_sequence_grid")
    return _numpy(model.sample_sequence(n, seed=seed))


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
    return _draw_grid(sequence.reshape((-1,) + sequence.shape[2:]), len(sequence), steps, path,
                      f"{_model_name(model)}: generation sequence, the canvas after each step (seed {seed})",
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
    sequence = _numpy(model.canvas_sequence(model.encode(x)))  # [n, T, ...]
    steps = sequence.shape[1]
    rows = np.concatenate([x[:, None], sequence], axis=1)
    return _draw_grid(rows.reshape((-1,) + x.shape[1:]), len(x), steps + 1, path,
                      f"{_model_name(model)}: inputs and the canvas after each step of their reconstruction",
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
        images = _as_images(sequence[:, t])
        if images is None:
            raise ValueError(f"{_model_name(model)}'s examples are not images; a GIF needs images")
        tile = _mosaic(images, rows, cols)
        tile = np.repeat(np.repeat(tile, zoom, axis=0), zoom, axis=1)
        pixels = np.round(np.clip(tile, 0.0, 1.0) * 255).astype(np.uint8)
        frames.append(Image.fromarray(pixels, "RGB" if pixels.ndim == 3 else "L"))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=[frame_ms] * (steps - 1) + [hold_ms])
    atomic_write_bytes(path, buffer.getvalue())
    return path


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
    codes = _numpy(model.prior().sample(per_class, seed=samplers.stateless_seed(seed)))
    labels = np.repeat(np.arange(classes), per_class).astype(np.int32)
    samples = _numpy(model.decode(np.tile(codes, (classes, 1)), y=labels))
    return _draw_grid(samples, classes, per_class, path, f"{_model_name(model)}: samples by class (seed {seed})",
                      row_labels=[f"class {k}" for k in range(classes)])


def _slerp(za, zb, t):
    """Spherical interpolation of codes ``[D]``; falls back to linear for (anti)parallel codes."""
    na, nb = np.linalg.norm(za), np.linalg.norm(zb)
    cos = np.dot(za, zb) / max(na * nb, 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return (1 - t) * za + t * zb
    return (np.sin((1 - t) * omega) * za + np.sin(t * omega) * zb) / np.sin(omega)


def interpolation_grid(model, x, path, pairs=5, steps=10, method="linear"):
    """Write decoded interpolations between pairs of examples in code space.

    Row ``i`` joins ``x[2i]`` and ``x[2i+1]``: the two inputs at the ends, and between them
    ``decode((1 - t) z_a + t z_b)`` for ``t`` evenly spaced on [0, 1] (``method="slerp"``:
    spherical interpolation, which stays near the shell where Gaussian codes live; White 2016).

    Args:
        model: any keras-ae model.
        x: data ``[N, *input_shape]`` with ``N >= 2``.
        path: PNG file to write.
        pairs: number of pairs (rows), default 5 (fewer if ``x`` is short).
        steps: decoded points per row including both ends, default 10, >= 2.
        method: ``"linear"`` (default) or ``"slerp"``.
    Returns:
        ``path``.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if method not in ("linear", "slerp"):
        raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
    x = np.asarray(x, np.float32)
    pairs = min(int(pairs), len(x) // 2)
    if pairs < 1:
        raise ValueError(f"interpolation needs at least 2 examples, got {len(x)}")
    x = x[:2 * pairs]
    z = _encode(model, x)
    ts = np.linspace(0.0, 1.0, steps)
    codes = []
    for i in range(pairs):
        za, zb = z[2 * i], z[2 * i + 1]
        for t in ts:
            codes.append(_slerp(za, zb, t) if method == "slerp" else (1 - t) * za + t * zb)
    decoded = _decode(model, np.stack(codes)).reshape((pairs, steps) + x.shape[1:])
    # Each row: x_a, the decoded path, x_b.
    rows = np.concatenate([x[0::2, None], decoded, x[1::2, None]], axis=1)
    col_labels = ["x_a"] + [f"{t:.2f}" for t in ts] + ["x_b"]
    return _draw_grid(rows.reshape((-1,) + x.shape[1:]), pairs, steps + 2, path,
                      f"{_model_name(model)}: {method} interpolation in code space", col_labels=col_labels)


def latent_search_grid(latent_path, path, title, target=None):
    """Draw a latent search (:func:`keras_ae.latent_search.search`): one row per code, one column per recorded step.

    ``latent_path`` is a :class:`keras_ae.latent_search.LatentPath`; ``target`` (optional, one image
    or one per row) is drawn in a last column. Columns are labelled with the step and, in the title,
    the mean objective at the start and the end.
    """
    decoded = np.asarray(latent_path.decoded, np.float32)  # [T, B, *shape]
    steps, rows = decoded.shape[:2]
    cells = np.swapaxes(decoded, 0, 1)  # [B, T, *shape]
    labels = [f"step {int(t)}" for t in latent_path.steps]
    if target is not None:
        target = np.broadcast_to(np.asarray(target, np.float32), (rows,) + decoded.shape[2:])
        cells = np.concatenate([cells, target[:, None]], axis=1)
        labels.append("target")
    objective = np.asarray(latent_path.objective)
    title = f"{title}: objective {objective[0].mean():.3g} -> {objective[-1].mean():.3g}"
    return _draw_grid(cells.reshape((-1,) + decoded.shape[2:]), rows, len(labels), path, title, col_labels=labels)


def latent_traversal(model, x, path, dims=None, steps=9, span=2.5, dim_labels=None):
    """Write traversals of single code dimensions around the code of ``x[0]``.

    Row ``d``: ``decode(z)`` with ``z = encode(x[0])`` except ``z_d = m_d + t s_d``, ``t`` evenly
    spaced on ``[-span, span]``, where ``m, s`` are the prior's mean and standard deviation for
    models with a Gaussian prior (so ``t`` is in prior standard deviations, as in Higgins et al.
    2017) and otherwise the mean and standard deviation of the codes of ``x``.

    Args:
        model: any keras-ae model.
        x: data ``[N, *input_shape]``; ``x[0]`` is the base example, all of ``x`` sets the scale.
        path: PNG file to write.
        dims: code dimensions to traverse; default: the (up to) 10 with the largest variance of
            ``encode(x)``, largest first (for a VAE: its most active units).
        steps: points per dimension, default 9, >= 2.
        span: half-width in standard deviations, default 2.5, > 0.
        dim_labels: one label per code dimension (all ``latent_dim`` of them), shown after the
            row's ``z<d>``, e.g. the factor the dimension captures best
            (:func:`keras_ae.disentanglement.factor_labels`); default none.
    Returns:
        ``path``.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if span <= 0:
        raise ValueError(f"span must be > 0, got {span}")
    x = np.asarray(x, np.float32)
    codes = _encode(model, x)
    latent_dim = codes.shape[1]
    if dims is None:
        dims = np.argsort(-codes.var(axis=0), kind="stable")[:10] if len(codes) > 1 else np.arange(min(latent_dim, 10))
    dims = [int(d) for d in dims]
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad or not dims:
        raise ValueError(f"dims must be a non-empty list of indices in [0, {latent_dim}), got {dims}")
    if dim_labels is not None and len(dim_labels) != latent_dim:
        raise ValueError(f"dim_labels must give one label per code dimension ({latent_dim}), got {len(dim_labels)}")
    centre, scale = _code_reference(model, codes)
    ts = np.linspace(-span, span, steps)
    grid = np.repeat(codes[:1], len(dims) * steps, axis=0).reshape(len(dims), steps, latent_dim)
    for r, d in enumerate(dims):
        grid[r, :, d] = centre[d] + ts * scale[d]
    decoded = _decode(model, grid.reshape(-1, latent_dim))
    return _draw_grid(decoded, len(dims), steps, path,
                      f"{_model_name(model)}: traversals of single code dimensions"
                      + (" (label: the factor each captures best, share of its entropy)" if dim_labels else ""),
                      row_labels=[f"z{d}" + (f" {dim_labels[d]}" if dim_labels else "") for d in dims],
                      col_labels=[f"{t:+.1f}" for t in ts])


def _check_two_dimensional(model, what):
    if not has_vector_code(model) or _code_size(model) != 2:
        raise ValueError(f"{what} needs a model whose code is a float vector of size 2, "
                         f"got code_spec {model.code_spec}")


def manifold_grid(model, path, n=20, x=None):
    """Write the learned 2-D manifold: decodings of an ``n x n`` grid of prior quantiles.

    As in Kingma & Welling 2014 (Fig. 4): evenly spaced points ``u`` on the unit square (cell
    centres ``(k + 0.5) / n``) are mapped through the standard normal inverse CDF and then by
    ``z = m + s * Phi^-1(u)`` with the prior's mean and standard deviation (a VAE: ``z =
    Phi^-1(u)``); for models without a Gaussian prior ``m, s`` are the mean and standard
    deviation of the codes of ``x`` (when given). The first code dimension runs left to right,
    the second bottom to top.

    Args:
        model: a model with ``latent_dim == 2``.
        path: PNG file to write.
        n: grid points per side, default 20.
        x: optional data whose codes set the scale for models without a Gaussian prior.
    Returns:
        ``path``.
    """
    _check_two_dimensional(model, "manifold_grid")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    codes = None if x is None else _encode(model, x)
    centre, scale = _code_reference(model, codes)
    q = np.array([statistics.NormalDist().inv_cdf((k + 0.5) / n) for k in range(n)], np.float32)
    z1, z2 = np.meshgrid(q, q[::-1])  # rows top to bottom = decreasing z2
    grid = np.stack([z1.ravel(), z2.ravel()], axis=1) * scale + centre
    decoded = _decode(model, grid)
    return _draw_grid(decoded, n, n, path, f"{_model_name(model)}: decoded grid over prior quantiles")


def latent_scatter(model, x, y, path, max_points=10000):
    """Write a scatter of the 2-D codes of ``x``, coloured by label ``y``.

    Args:
        model: a model with ``latent_dim == 2``.
        x: data ``[N, *input_shape]``.
        y: labels ``[N]`` (integers, or one-hot ``[N, K]``), or None for one colour.
        path: PNG file to write.
        max_points: at most this many (the first) examples, default 10000.
    Returns:
        ``path``.
    """
    _check_two_dimensional(model, "latent_scatter")
    x = np.asarray(x, np.float32)[:max_points]
    z = _encode(model, x)
    fig = _new_figure(6.5, 5.5)
    ax = fig.add_subplot()
    if y is None:
        ax.scatter(z[:, 0], z[:, 1], s=4, alpha=0.6)
    else:
        y = np.asarray(y)[:max_points]
        if len(y) != len(z):
            raise ValueError(f"y must have one label per example of x, got {len(y)} labels for {len(z)} examples")
        if y.ndim > 1:
            y = y.argmax(axis=-1)
        classes = np.unique(y)
        cmap = "tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else "viridis"
        points = ax.scatter(z[:, 0], z[:, 1], c=y, s=4, alpha=0.7, cmap=cmap)
        if len(classes) <= 20:
            ax.legend(*points.legend_elements(), loc="best", fontsize=7, title="label", title_fontsize=7,
                      markerscale=0.8)
        else:
            fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel("z0")
    ax.set_ylabel("z1")
    ax.set_title(f"{_model_name(model)}: test codes", fontsize=9)
    return _save(fig, path)


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
    points = _batched(model.feature_points, x)  # [n, K, 2]
    images = _as_images(x)
    height, width = images.shape[1:3]
    to_pixels = lambda p, size: (np.asarray(p) + 1.0) * (size - 1) / 2.0  # noqa: E731
    if positions is not None:
        positions = np.asarray(positions, np.float32)[:n]
        if len(positions) != len(x) or positions.ndim != 3 or positions.shape[-1] != 2:
            raise ValueError(f"positions must be [N, M, 2] for the {len(x)} frames, got shape {positions.shape}")
    cols = max(1, min(cols, len(x)))
    rows = math.ceil(len(x) / cols)
    fig = _new_figure(cols * 1.3, rows * 1.3 + 0.5)
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
    fig.suptitle(f"{_model_name(model)}: feature points{legend}", fontsize=9)
    return _save(fig, path)


def loss_curves(history, path):
    """Every logged term against the epoch, one panel per term (``loss_curves.png`` of a run).

    Args:
        history: rows ``{"epoch": e, "loss": ..., "kl": ..., "val_loss": ...}`` (as
            ``keras_ae.training.read_history`` returns ``history.csv``), or a Keras
            ``History.history`` dict of lists.
        path: the PNG to write (atomically).
    Returns:
        ``path``. ``ValueError`` if there is no epoch to draw.
    """
    if isinstance(history, dict):
        epochs = len(next(iter(history.values()), []))
        history = [{"epoch": i + 1, **{k: float(v[i]) for k, v in history.items()}} for i in range(epochs)]
    rows = [row for row in history if "epoch" in row]
    if not rows:
        raise ValueError("loss_curves needs at least one epoch of history, got none")
    terms = sorted({k for row in rows for k in row if k != "epoch" and not k.startswith("val_")})
    cols = min(3, len(terms))
    grid_rows = math.ceil(len(terms) / cols)
    fig = _new_figure(3.2 * cols, 2.4 * grid_rows)
    for i, term in enumerate(terms):
        ax = fig.add_subplot(grid_rows, cols, i + 1)
        for key, label in ((term, "train"), (f"val_{term}", "validation")):
            points = [(row["epoch"], row[key]) for row in rows if key in row and math.isfinite(row[key])]
            if points:
                ax.plot(*zip(*points), marker="." if len(points) < 30 else None, label=label)
        ax.set_title(term, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        if any(f"val_{term}" in row for row in rows):
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def write_run_pictures(model, x_test, y_test, run_dir, seed=0, positions=None):
    """Write every picture that applies to ``model`` into ``run_dir`` and return the paths.

    - ``reconstructions.png``: always;
    - ``interpolations.png`` and ``traversals.png``: models whose code is a float vector
      (``code_spec``), not a grid of indices;
    - ``samples.png``: generative models (``model.is_generative``);
    - ``manifold.png`` and ``latent_scatter.png``: models with ``latent_dim == 2``;
    - ``feature_points.png``: models with ``feature_points`` (the spatial autoencoder), the first
      16 test frames with their feature points and, given ``positions``, the true object positions.
    - ``generation_sequence.png`` (rows: samples, columns: steps), ``generation_sequence.gif``
      (the same steps animated) and ``reconstruction_sequence.png``: models that draw in steps
      and show them (``sample_sequence``/``canvas_sequence``, as DRAW).

    A conditional model (one with a ``condition_spec``: its decoder needs the condition) gets
    ``reconstructions.png`` when it can infer the condition from ``x`` (the semi-supervised
    models), ``class_samples.png`` (one row per class) and ``samples.png``; the code-space
    pictures would need a condition per code and are left out.

    Args:
        model: any keras-ae model (trained; a generative model must be able to ``sample``).
        x_test: test data ``[N, *input_shape]`` as an array.
        y_test: test labels ``[N]`` or None.
        run_dir: folder to write into (created if missing).
        seed: seed of the samples, default 0.
        positions: the true object positions ``[N, M, 2]`` of ``x_test`` (a video dataset), or None.
    Returns:
        list of the files written, in the order above.
    """
    x_test = np.asarray(_numpy(x_test))
    os.makedirs(run_dir, exist_ok=True)
    capabilities = model.capabilities()
    if capabilities["is_conditional"]:
        return _conditional_run_pictures(model, x_test, run_dir, seed)
    written = [reconstruction_grid(model, x_test, os.path.join(run_dir, "reconstructions.png"))]
    vector = has_vector_code(model)
    if vector and len(x_test) >= 2:
        written.append(interpolation_grid(model, x_test, os.path.join(run_dir, "interpolations.png")))
    if vector:
        written.append(latent_traversal(model, x_test[:1000], os.path.join(run_dir, "traversals.png")))
    if capabilities["is_generative"]:
        written.append(sample_grid(model, os.path.join(run_dir, "samples.png"), seed=seed))
    if vector and _code_size(model) == 2:
        written.append(manifold_grid(model, os.path.join(run_dir, "manifold.png"), x=x_test))
        written.append(latent_scatter(model, x_test, y_test, os.path.join(run_dir, "latent_scatter.png")))
    if capabilities["has_feature_points"]:
        written.append(feature_point_grid(model, x_test, os.path.join(run_dir, "feature_points.png"),
                                          positions=positions))
    if capabilities["has_step_outputs"]:
        written.append(generation_sequence_grid(model, os.path.join(run_dir, "generation_sequence.png"), seed=seed))
        written.append(generation_sequence_gif(model, os.path.join(run_dir, "generation_sequence.gif"), seed=seed))
        written.append(reconstruction_sequence_grid(model, x_test, os.path.join(run_dir, "reconstruction_sequence.png")))
    return written


def _conditional_run_pictures(model, x_test, run_dir, seed):
    """The pictures of ``write_run_pictures`` for a conditional model (see there)."""
    capabilities = model.capabilities()
    written = []
    if not capabilities["condition_required"]:
        written.append(reconstruction_grid(model, x_test, os.path.join(run_dir, "reconstructions.png")))
    if capabilities["is_generative"] and capabilities["num_classes"]:
        written.append(class_sample_grid(model, os.path.join(run_dir, "class_samples.png"), seed=seed))
    if capabilities["is_generative"]:
        written.append(sample_grid(model, os.path.join(run_dir, "samples.png"), seed=seed))
    return written
