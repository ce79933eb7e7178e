"""Anomaly detection with autoencoders: per-example scores, AUROC and AUPRC, held-out-class splits.

A model trained on normal data scores each test example; higher means more anomalous. Scores:

- ``reconstruction_error``: ``||x - reconstruct(x)||^2`` summed over the example (any model);
- ``negative_elbo``: ``-(E_q[log p(x|z)] - KL(q(z|x) || p(z)))``, one posterior draw for the
  reconstruction term and the model's own KL (:func:`keras_ae.evaluation.elbo`; probabilistic models);
- ``nll``: the importance-sampled ``-log p(x)`` (Burda et al. 2015) with ``num_samples`` samples;
- ``latent_density``: ``-log p(encode(x))`` under the model's prior (generative models).

The benchmark protocol (as in e.g. An & Cho 2015, "Variational autoencoder based anomaly
detection using reconstruction probability", and the one-class-out protocol common since): train
on every class but one, and detect the held-out class among the test examples of all classes.
AUROC is the probability that a random anomalous example scores above a random normal one
(ties count one half); AUPRC is the average precision (scikit-learn's step-wise area, no
interpolation), whose chance level is the fraction of anomalies.
"""

import numpy as np
from sklearn import metrics as sk_metrics

from keras_ae import _checks
from keras_ae.evaluation import likelihood

SCORES = ("reconstruction_error", "negative_elbo", "nll", "latent_density")


def _check_scores_and_labels(scores, is_anomaly):
    scores = np.asarray(scores, np.float64)
    is_anomaly = np.asarray(is_anomaly)
    if scores.ndim != 1 or is_anomaly.shape != scores.shape:
        raise ValueError(f"scores and is_anomaly must be 1-D of the same length, got shapes {scores.shape} "
                         f"and {is_anomaly.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be finite; {int(np.sum(~np.isfinite(scores)))} are NaN or infinite")
    if not np.all(np.isin(is_anomaly, (0, 1))):
        raise ValueError("is_anomaly must hold 0/1 or booleans")
    is_anomaly = is_anomaly.astype(bool)
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError("is_anomaly must mark at least one anomalous and one normal example")
    return scores, is_anomaly


def auroc(scores, is_anomaly):
    """Area under the ROC curve of ``scores`` (higher = more anomalous): 1 perfect, 0.5 chance."""
    scores, is_anomaly = _check_scores_and_labels(scores, is_anomaly)
    return float(sk_metrics.roc_auc_score(is_anomaly, scores))


def auprc(scores, is_anomaly):
    """Average precision of ``scores`` for the anomalous class: 1 perfect, the anomaly fraction at chance."""
    scores, is_anomaly = _check_scores_and_labels(scores, is_anomaly)
    return float(sk_metrics.average_precision_score(is_anomaly, scores))


def available_scores(model):
    """The names in :data:`SCORES` that ``model`` can compute."""
    capabilities = model.capabilities()
    names = ["reconstruction_error"]
    if capabilities["is_probabilistic"]:
        names += ["negative_elbo", "nll"]
    spec = model.code_spec
    if capabilities["is_generative"] and not isinstance(spec, dict) and spec.dtype.is_floating:
        names.append("latent_density")
    return names


def anomaly_scores(model, x, scores=None, num_samples=100, batch_size=256, seed=0):
    """``{score name: [N] float64}`` for a test array ``x``; higher means more anomalous.

    Args:
        model: a trained keras-ae model.
        x: ``[N, *input_shape]``.
        scores: names from :data:`SCORES` (default: every one the model has, :func:`available_scores`).
        num_samples: importance samples for ``nll``, default 100.
        batch_size: examples per batch, default 256.
        seed: integer seed of the importance samples, default 0.
    """
    if model.capabilities()["condition_required"]:
        raise ValueError(f"{type(model).__name__} declares condition_required: it cannot score x without its "
                         "condition, and anomaly scores take x alone")
    have = available_scores(model)
    scores = list(have if scores is None else scores)
    for name in scores:
        _checks.check_choice(name, "score", SCORES)
        if name not in have:
            raise ValueError(f"{type(model).__name__} cannot compute the {name!r} score; it has {have}")
    x = np.asarray(x, np.float32)
    out = {}
    if "reconstruction_error" in scores:
        parts = []
        for i in range(0, len(x), batch_size):
            batch = x[i:i + batch_size]
            error = (np.asarray(model.reconstruct(batch), np.float64) - batch) ** 2
            parts.append(error.reshape(len(batch), -1).sum(axis=1))
        out["reconstruction_error"] = np.concatenate(parts)
    if "negative_elbo" in scores:
        out["negative_elbo"] = -likelihood.elbo(model, x, num_samples=1, batch_size=batch_size, seed=seed)["elbo"]
    if "nll" in scores:
        out["nll"] = -likelihood.log_likelihood(model, x, num_samples=num_samples, batch_size=batch_size, seed=seed)
    if "latent_density" in scores:
        prior = model.prior()
        out["latent_density"] = np.concatenate([-np.asarray(prior.log_prob(model.encode(x[i:i + batch_size])),
                                                            np.float64) for i in range(0, len(x), batch_size)])
    return {name: out[name] for name in scores}


def heldout_class_split(x, y, anomaly_class):
    """``(x_normal, x_anomalous)``: the rows of ``x`` whose label is not / is ``anomaly_class``."""
    y = np.asarray(y)
    if len(y) != len(x):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if anomaly_class not in set(y.tolist()):
        raise ValueError(f"anomaly_class {anomaly_class!r} is not among the labels {sorted(set(y.tolist()))}")
    anomalous = y == anomaly_class
    return x[~anomalous], x[anomalous]


def detection_metrics(model, x_normal, x_anomalous, scores=None, num_samples=100, seed=0):
    """``{score: {"auroc", "auprc"}}`` of a model trained on normal data, over normal + anomalous test rows."""
    x = np.concatenate([np.asarray(x_normal, np.float32), np.asarray(x_anomalous, np.float32)])
    is_anomaly = np.concatenate([np.zeros(len(x_normal), bool), np.ones(len(x_anomalous), bool)])
    values = anomaly_scores(model, x, scores, num_samples=num_samples, seed=seed)
    return {name: {"auroc": auroc(v, is_anomaly), "auprc": auprc(v, is_anomaly)} for name, v in values.items()}
