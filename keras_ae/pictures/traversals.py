"""Pictures in code space for a model whose code is a float vector: interpolations, traversals of
single code dimensions, the 2-D manifold and scatter, and the path of a latent search."""

import statistics

import numpy as np
import tensorflow as tf

from keras_ae.pictures.drawing import (as_numpy, decode_batched, draw_grid, encode_batched, model_name, new_figure,
                                       save_figure)


def has_vector_code(model):
    """Whether the model's code (``code_spec``) is a flat float vector: what interpolations,
    traversals and manifolds move through. A grid of integer indices is not."""
    spec = model.code_spec
    if not isinstance(spec, tf.TensorSpec):  # a structured code (VQVAE2's two index grids)
        return False
    return tf.as_dtype(spec.dtype).is_floating and len(spec.shape) == 1


def code_size(model):
    return int(model.code_spec.shape[0])


def code_reference(model, codes=None):
    """Centre and scale ``[latent_dim]`` that put a traversal or manifold on the code's own scale.

    A model with a diagonal Gaussian-like ``prior()`` over the code uses its mean and standard
    deviation (a VAE: 0 and 1); otherwise (deterministic codes, ex-post densities) the mean and
    standard deviation of ``codes``, or 0 and 1 when no codes are given.
    """
    latent_dim = code_size(model)
    if model.capabilities()["is_generative"]:
        try:
            dist = model.prior()
            centre = np.broadcast_to(as_numpy(dist.mean()), (latent_dim,))
            scale = np.broadcast_to(as_numpy(dist.stddev()), (latent_dim,))
            return centre.astype(np.float32), scale.astype(np.float32)
        except (NotImplementedError, AttributeError, TypeError, ValueError):
            # Priors that are not over a flat real code (e.g. one-hot categories) fall through.
            pass
    if codes is None or len(codes) < 2:
        return np.zeros(latent_dim, np.float32), np.ones(latent_dim, np.float32)
    return codes.mean(axis=0), np.maximum(codes.std(axis=0), 1e-6)


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
    z = encode_batched(model, x)
    ts = np.linspace(0.0, 1.0, steps)
    codes = []
    for i in range(pairs):
        za, zb = z[2 * i], z[2 * i + 1]
        for t in ts:
            codes.append(_slerp(za, zb, t) if method == "slerp" else (1 - t) * za + t * zb)
    decoded = decode_batched(model, np.stack(codes)).reshape((pairs, steps) + x.shape[1:])
    # Each row: x_a, the decoded path, x_b.
    rows = np.concatenate([x[0::2, None], decoded, x[1::2, None]], axis=1)
    col_labels = ["x_a"] + [f"{t:.2f}" for t in ts] + ["x_b"]
    return draw_grid(rows.reshape((-1,) + x.shape[1:]), pairs, steps + 2, path,
                      f"{model_name(model)}: {method} interpolation in code space", col_labels=col_labels)


def latent_search_grid(latent_path, path, title, target=None):
    """Draw a latent search (:func:`keras_ae.evaluation.latent_search.search`): one row per code, one column per recorded step.

    ``latent_path`` is a :class:`keras_ae.evaluation.latent_search.LatentPath`; ``target`` (optional, one image
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
    return draw_grid(cells.reshape((-1,) + decoded.shape[2:]), rows, len(labels), path, title, col_labels=labels)


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
            (:func:`keras_ae.evaluation.disentanglement.factor_labels`); default none.
    Returns:
        ``path``.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if span <= 0:
        raise ValueError(f"span must be > 0, got {span}")
    x = np.asarray(x, np.float32)
    codes = encode_batched(model, x)
    latent_dim = codes.shape[1]
    if dims is None:
        dims = np.argsort(-codes.var(axis=0), kind="stable")[:10] if len(codes) > 1 else np.arange(min(latent_dim, 10))
    dims = [int(d) for d in dims]
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad or not dims:
        raise ValueError(f"dims must be a non-empty list of indices in [0, {latent_dim}), got {dims}")
    if dim_labels is not None and len(dim_labels) != latent_dim:
        raise ValueError(f"dim_labels must give one label per code dimension ({latent_dim}), got {len(dim_labels)}")
    centre, scale = code_reference(model, codes)
    ts = np.linspace(-span, span, steps)
    grid = np.repeat(codes[:1], len(dims) * steps, axis=0).reshape(len(dims), steps, latent_dim)
    for r, d in enumerate(dims):
        grid[r, :, d] = centre[d] + ts * scale[d]
    decoded = decode_batched(model, grid.reshape(-1, latent_dim))
    return draw_grid(decoded, len(dims), steps, path,
                      f"{model_name(model)}: traversals of single code dimensions"
                      + (" (label: the factor each captures best, share of its entropy)" if dim_labels else ""),
                      row_labels=[f"z{d}" + (f" {dim_labels[d]}" if dim_labels else "") for d in dims],
                      col_labels=[f"{t:+.1f}" for t in ts])


def _check_two_dimensional(model, what):
    if not has_vector_code(model) or code_size(model) != 2:
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
    codes = None if x is None else encode_batched(model, x)
    centre, scale = code_reference(model, codes)
    q = np.array([statistics.NormalDist().inv_cdf((k + 0.5) / n) for k in range(n)], np.float32)
    z1, z2 = np.meshgrid(q, q[::-1])  # rows top to bottom = decreasing z2
    grid = np.stack([z1.ravel(), z2.ravel()], axis=1) * scale + centre
    decoded = decode_batched(model, grid)
    return draw_grid(decoded, n, n, path, f"{model_name(model)}: decoded grid over prior quantiles")


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
    z = encode_batched(model, x)
    fig = new_figure(6.5, 5.5)
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
    ax.set_title(f"{model_name(model)}: test codes", fontsize=9)
    return save_figure(fig, path)
