"""Training curves: every logged term against the epoch (``loss_curves.png`` of a run)."""

import math

from keras_ae.pictures.drawing import new_figure, save_figure


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
    fig = new_figure(3.2 * cols, 2.4 * grid_rows)
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
    return save_figure(fig, path)
