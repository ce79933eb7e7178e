"""How well feature points locate objects: R^2 of a linear map from the points to the true positions.

The deep spatial autoencoder (:class:`keras_ae.models.DeepSpatialAutoencoder`) is meant to learn
points that say where the objects of a scene are (Finn et al. 2016 use them as a robot's state).
On data with known object positions (:mod:`keras_ae.data.video`) this is measured directly: an
ordinary least-squares map (with intercept) from a frame's code (the ``2K`` point coordinates)
to the ``2M`` coordinates of its ``M`` objects is fitted on training frames and scored on
held-out frames (other sequences) by the coefficient of determination,
``R^2 = 1 - sum (p - p_hat)^2 / sum (p - mean p)^2`` per coordinate (1 is perfect, 0 is no better
than predicting the mean position). :func:`position_r2` reports the mean over the coordinates
and the worst one.

Any model with a flat float code works (the map reads ``encode``), so other families can be
compared on the same data.
"""

import numpy as np

from keras_ae import _checks

__all__ = ["codes", "position_r2"]


def codes(model, x, batch_size=256):
    """``model.encode(x)`` in batches, flattened to ``[N, D]`` float64."""
    x = np.asarray(x, np.float32)
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    out = [np.asarray(model.encode(x[i:i + batch_size]), np.float64).reshape(len(x[i:i + batch_size]), -1)
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, int(np.prod(model.code_spec.shape))))


def _check_positions(positions, n, name):
    positions = np.asarray(positions, np.float64)
    if positions.ndim < 2 or len(positions) != n:
        raise ValueError(f"{name} must hold one position array per frame ({n} frames), got shape {positions.shape}")
    if not np.all(np.isfinite(positions)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return positions.reshape(n, -1)


def position_r2(model, x_train, positions_train, x_test, positions_test, batch_size=256):
    """R^2 on held-out frames of a linear map from the model's code to the true object positions.

    Args:
        model: a trained model with a float code (``encode``), e.g. a ``DeepSpatialAutoencoder``.
        x_train: frames ``[N, H, W, C]`` to fit the map on.
        positions_train: their positions ``[N, M, 2]`` (or ``[N, P]``).
        x_test: held-out frames ``[N', H, W, C]`` (other sequences).
        positions_test: their positions, shaped as ``positions_train``.
        batch_size: frames per ``encode`` call.

    Returns:
        ``{"r2": mean R^2 over the 2M coordinates, "r2_min": the worst coordinate's,
        "r2_train": the mean R^2 on the training frames, "r2_per_coordinate": [2M] list}``.
    """
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    y_train = _check_positions(positions_train, len(x_train), "positions_train")
    y_test = _check_positions(positions_test, len(x_test), "positions_test")
    if y_train.shape[1] != y_test.shape[1]:
        raise ValueError(f"positions_train and positions_test must give the same coordinates, got "
                         f"{y_train.shape[1]} and {y_test.shape[1]} per frame")
    if len(x_train) < 2 or len(x_test) < 2:
        raise ValueError(f"position_r2 needs at least 2 training and 2 test frames, got {len(x_train)} and "
                         f"{len(x_test)}")
    features_train, features_test = codes(model, x_train, batch_size), codes(model, x_test, batch_size)
    regression = LinearRegression().fit(features_train, y_train)
    per_coordinate = r2_score(y_test, regression.predict(features_test), multioutput="raw_values")
    train = r2_score(y_train, regression.predict(features_train), multioutput="uniform_average")
    return {"r2": float(np.mean(per_coordinate)), "r2_min": float(np.min(per_coordinate)),
            "r2_train": float(train), "r2_per_coordinate": [float(v) for v in per_coordinate]}
