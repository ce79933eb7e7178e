"""Test metrics: posterior means and active units, reconstruction error, the model's own loss terms,
classification error, and :func:`evaluate_model`, which collects them with the likelihood
(:mod:`keras_ae.evaluation.likelihood`) into the flat dictionary of a run directory's ``metrics.json``.

Every function takes a model and a test array and works in batches, so memory stays bounded for
any test set and any number of importance samples.
"""

import math

import numpy as np
import tensorflow as tf

from keras_ae import _checks
from keras_ae.evaluation.batching import batch_seed, batches, batches_with, checked_array
from keras_ae.evaluation.likelihood import elbo, log_likelihood


def is_probabilistic(model):
    """Whether ``model`` declares a posterior and importance weights (the variational families)."""
    return model.capabilities()["is_probabilistic"]


def posterior_means(model, x, batch_size=256, condition=None):
    """``E_q[z|x]`` flattened ``[N, D]`` (the code itself for a deterministic encoder).

    A posterior without a closed-form mean (a flow posterior) gives its code, ``encode(x)``.
    ``condition``: a conditional model's conditions ``{"y": [N, ...]}`` (``E_q[z|x, y]``), or None.
    """
    x = checked_array(model, x)
    means = []
    for batch, given in batches_with(x, condition, batch_size):
        mean = None
        if is_probabilistic(model):
            try:
                mean = tf.cast(model.posterior(batch, **given).mean(), tf.float32)
            except NotImplementedError:
                pass
        if mean is None:
            mean = tf.cast(model.encode(batch, **given), tf.float32)
        means.append(tf.reshape(mean, [tf.shape(mean)[0], -1]).numpy())
    return np.concatenate(means).astype(np.float64)


def posterior_layer_means(model, x, batch_size=256, seed=0, condition=None):
    """``{layer: E_q[z_layer | x] [N, d]}``, one entry per stochastic layer (``{"z": ...}`` for one layer).

    A model with several layers (``latent_layers``) gives them with its ``posterior_layer_means``
    (a hierarchical VAE: Monte Carlo over posterior draws for the layers drawn given others);
    every other model has the one layer of :func:`posterior_means` (given ``condition``, a
    conditional model's ``{"y": ...}``).
    """
    if not model.capabilities()["latent_layer_names"]:
        return {"z": posterior_means(model, x, batch_size, condition)}
    x = checked_array(model, x)
    means = {}
    for i, batch in enumerate(batches(x, batch_size)):
        for name, value in model.posterior_layer_means(batch, seed=batch_seed(seed, i)).items():
            means.setdefault(name, []).append(np.asarray(value, np.float64).reshape(len(batch), -1))
    return {name: np.concatenate(values) for name, values in means.items()}


def unit_activity(model, x, batch_size=256, per_layer=False, condition=None):
    """``A_u = Cov_x(E_q[z_u | x])`` for every latent unit ``u`` (Burda et al. 2015, section 5.2).

    ``per_layer=True``: ``{layer: [d]}`` per stochastic layer (:func:`posterior_layer_means`);
    else one array over every unit, the layers concatenated in code order. ``condition``: a
    conditional model's ``{"y": ...}`` (``E_q[z_u | x, y]``), or None.
    """
    activity = {name: means.var(axis=0, ddof=1) if len(means) > 1 else np.zeros(means.shape[1])
                for name, means in posterior_layer_means(model, x, batch_size, condition=condition).items()}
    return activity if per_layer else np.concatenate(list(activity.values()))


def active_units(model, x, threshold=0.01, batch_size=256, per_layer=False):
    """Number of active latent units: ``A_u = Cov_x(E_q[z_u | x]) > threshold`` (Burda et al. 2015).

    A unit whose posterior mean does not move with the input carries no information (posterior
    collapse). For a categorical latent the units are the class probabilities.

    Args:
        threshold: activity threshold, default 0.01 (the paper's 10^-2).
        per_layer: ``{layer: count}`` per stochastic layer instead of the total (a hierarchical VAE
            has ``z1``, ``z2``, ...; other models the one layer ``z``).

    Example: ``evaluation.active_units(model, x_test)``; ``evaluation.active_units(hvae, x_test, per_layer=True)``.
    """
    activity = unit_activity(model, x, batch_size, per_layer=True)
    counts = {name: int(np.sum(values > threshold)) for name, values in activity.items()}
    return counts if per_layer else sum(counts.values())


def reconstruction_error(model, x, batch_size=256, condition=None):
    """Mean squared error per element ``mean (x - reconstruct(x))^2``; for any model.

    ``condition``: a conditional model's ``{"y": ...}`` (``reconstruct(x, y)``), or None.

    Example: ``evaluation.reconstruction_error(model, x_test)``.
    """
    x = checked_array(model, x)
    total, count = 0.0, 0
    for batch, given in batches_with(x, condition, batch_size):
        diff = batch - np.asarray(model.reconstruct(batch, **given), np.float64)
        total += float(np.sum(diff**2))
        count += diff.size
    return total / max(count, 1)


def term_means(model, x, batch_size=256, extras=None):
    """Test means of the model's own per-example loss terms (``model.TERMS``, evaluation mode).

    ``extras``: the batch entries the loss needs besides ``x`` (``model.batch_extras_spec()``,
    e.g. neighbouring frames), arrays aligned with ``x``. A semi-supervised model given no labels
    gets ``y = -1`` (every example unlabelled: the terms of the unlabelled bound).
    """
    x = checked_array(model, x)
    extras = {k: np.asarray(v) for k, v in (extras or {}).items()}
    capabilities = model.capabilities()
    if "y" not in extras and capabilities["can_classify"] and "y" in capabilities["condition_spec"] \
            and not capabilities["condition_required"]:
        # a semi-supervised model (it classifies and infers its label): -1 marks unlabelled examples
        extras["y"] = np.full(len(x), -1, np.int32)
    for key, value in extras.items():
        if len(value) != len(x):
            raise ValueError(f"extras[{key!r}] has {len(value)} entries for {len(x)} examples of x")
    sums = {term: 0.0 for term in model.TERMS}
    for start in range(0, len(x), _checks.check_positive_int(batch_size, "batch_size")):
        batch = tf.convert_to_tensor(x[start:start + batch_size])
        terms = model.loss_terms(batch, training=False, **{k: v[start:start + batch_size] for k, v in extras.items()})
        for term in sums:
            sums[term] += float(tf.reduce_sum(terms[term]))
    return {term: value / max(len(x), 1) for term, value in sums.items()}


#: What each key of :func:`evaluate_model` (and of a run's ``metrics.json``) means.
METRIC_DEFINITIONS = {
    "num_test": "test examples evaluated",
    "reconstruction_mse": "mean squared error per element between x and reconstruct(x) (the decoder's mean)",
    "score": "mean anomaly score, model.score(x): the reconstruction term of the loss, evaluation mode",
    "test_<term>": "test mean of the model's own loss term <term> (model.loss_terms(x, training=False)), "
                   "as logged in training: one posterior sample for a VAE's reconstruction",
    "elbo": "test ELBO per example in nats, -(reconstruction + kl), with 10 posterior samples "
            "(higher is better; test_elbo is the same bound from one sample)",
    "reconstruction": "E_q[-log p(x|z)] per example in nats, 10 posterior samples",
    "kl": "KL(q(z|x) || p(z)) per example in nats, in closed form where TFP has it",
    "nll": "-log p(x) per example in nats, importance-sampled with nll_num_samples samples of q(z|x)",
    "nll_stderr": "standard error of nll over the test examples",
    "nll_num_samples": "importance samples per example behind nll",
    "nll_ais": "-log p(x) per example in nats by annealed importance sampling (nll_ais_chains chains of "
               "nll_ais_steps HMC transitions from nll_ais_start, Wu et al. 2017) over the first nll_ais_examples "
               "test examples; a stochastic upper bound on the NLL like nll, tighter as the steps grow",
    "nll_ais_stderr": "standard error of nll_ais over its test examples",
    "nll_ais_chains": "AIS chains per example behind nll_ais",
    "nll_ais_steps": "AIS transitions (sigmoid schedule) behind nll_ais",
    "nll_ais_examples": "test examples behind nll_ais",
    "nll_ais_start": "the AIS initial distribution: prior, or posterior (the encoder's q(z|x))",
    "nll_is_same_examples": "nll over the same test examples as nll_ais, for comparison",
    "gap_examples": "test examples behind the gap_* metrics (Cremer et al. 2018, keras_ae.evaluation.gaps)",
    "gap_log_px": "mean log p(x) of the gap examples, in nats, by gap_log_px_method (ais or importance)",
    "gap_log_px_method": "how gap_log_px was estimated: ais or importance",
    "gap_steps": "Adam steps of each example's local posterior q*",
    "gap_learning_rate": "Adam learning rate of each example's local posterior q*",
    "gap_elbo_amortized": "mean ELBO L[q] of the encoder's q(z|x) on the gap examples (1000 draws each)",
    "gap_inference": "inference gap log p(x) - L[q]; each family's approximation and amortization gaps add up to it",
    "gap_elbo_gaussian": "mean ELBO L[q*] of each example's own optimised factorized Gaussian",
    "gap_approximation_gaussian": "approximation gap log p(x) - L[q*] of the factorized-Gaussian family",
    "gap_amortization_gaussian": "amortization gap L[q*] - L[q] against the factorized-Gaussian family",
    "gap_elbo_flow": "mean ELBO L[q*] of each example's own Gaussian + 10 planar flows",
    "gap_approximation_flow": "approximation gap log p(x) - L[q*] of the flow family",
    "gap_amortization_flow": "amortization gap L[q*] - L[q] against the flow family",
    "gap_last_tenth_gain_gaussian": "mean training ELBO gained over the last tenth of the local optimisation "
                                    "(near 0: converged)",
    "gap_last_tenth_gain_flow": "as gap_last_tenth_gain_gaussian, for the flow family",
    "active_units": "latent units whose posterior mean varies over the test set (variance > 0.01)",
    "latent_units": "latent units in all",
    "kl_<layer>": "KL of stochastic layer <layer> per example in nats, E_q[log q(<layer>|.) - log p(<layer>|.)] "
                  "(closed form given the layers drawn before it where it has one, else Monte Carlo over 10 "
                  "posterior draws); the layers' KLs add up to kl",
    "active_units_<layer>": "units of stochastic layer <layer> whose posterior mean E_q[<layer>|x] varies over "
                            "the test set (variance > 0.01, Burda et al.); the mean is Monte Carlo over 64 "
                            "posterior draws for a layer drawn given another",
    "latent_units_<layer>": "units of stochastic layer <layer>",
    "test_error": "classification error of model.classify (argmax q(y|x)) over every test example, with the "
                  "test labels (a semi-supervised model: M2, ADGM, M1M2)",
    "status": "completed, or failed (then error says why)",
    "train_seconds": "wall-clock seconds of fit (no evaluation, pictures or saving)",
    "epochs": "epochs trained",
    # keras_ae.evaluation.disentanglement (python -m zoo eval RUN --disentanglement)
    "beta_vae_score": "beta-VAE score (Higgins et al. 2017): accuracy of a logistic regression predicting which "
                      "factor was held fixed from mean |code differences| of 64 pairs; 1 is best",
    "factor_vae_score": "FactorVAE score (Kim & Mnih 2018): accuracy of the majority vote predicting the factor held "
                        "fixed from the code dimension of least normalised variance in a batch of 64; 1 is best",
    "factor_vae_active_dims": "code dimensions the FactorVAE score kept (standard deviation >= 0.05)",
    "mig": "mutual information gap (Chen et al. 2018): mean over factors of the gap between the two codes most "
           "informative about it, over its entropy; codes in 20 bins; 1 is best",
    "sap": "SAP score (Kumar et al. 2018): mean over factors of the gap between the two best single-code linear "
           "classifiers' test accuracies; higher is better",
    "dci_disentanglement": "DCI disentanglement (Eastwood & Williams 2018): 1 - entropy over factors of each code's "
                           "gradient-boosted-tree importances, weighted by code importance; 1 is best",
    "dci_completeness": "DCI completeness: 1 - entropy over codes of each factor's importances, weighted; 1 is best",
    "dci_informativeness": "DCI informativeness: test accuracy of the gradient-boosted trees predicting each factor "
                           "from the code, averaged over factors (disentanglement_lib's informativeness_test)",
    "modularity": "modularity (Ridgeway & Mozer 2018): 1 - the share of each code's squared mutual information "
                  "outside its most informative factor, averaged over codes; 1 is best",
    "explicitness": "explicitness (Ridgeway & Mozer 2018): one-vs-rest test ROC-AUC of a logistic regression "
                    "predicting each factor from the standardised code, averaged; 1 is best, 0.5 chance",
    "gaussian_total_correlation": "total correlation in nats of a Gaussian with the codes' covariance, "
                                  "KL(N(0, S) || N(0, diag S)); 0 for uncorrelated codes, lower is better",
    # keras_ae.evaluation.feature_points, for runs on a dataset with true object positions (moving-objects)
    "position_r2": "R^2 on the test frames (held-out sequences) of a least-squares linear map, fitted on the training "
                   "frames, from the code (a spatial autoencoder's feature points) to the true object positions; "
                   "the mean over the position coordinates, 1 is perfect, 0 no better than the mean position",
    "position_r2_min": "the lowest R^2 over the position coordinates (the worst-located object's x or y)",
    "position_r2_train": "R^2 of the same linear map on the training frames it was fitted on",
    "disentanglement_scale": "fraction of disentanglement_lib's point counts the disentanglement metrics used",
}


def describe_metrics(metrics):
    """``{key: definition}`` for every key of ``metrics`` that :data:`METRIC_DEFINITIONS` explains."""
    out = {}
    for key in metrics:
        if key in METRIC_DEFINITIONS:
            out[key] = METRIC_DEFINITIONS[key]
        elif key.startswith("test_"):
            out[key] = METRIC_DEFINITIONS["test_<term>"].replace("<term>", key[len("test_"):])
        else:
            for prefix in ("kl_", "active_units_", "latent_units_"):
                if key.startswith(prefix):
                    out[key] = METRIC_DEFINITIONS[prefix + "<layer>"].replace("<layer>", key[len(prefix):])
                    break
    return out


def classification_error(model, x, y, batch_size=256):
    """Test classification error of a model with a classifier: ``mean [argmax q(y|x) != y]`` over every example.

    Args:
        model: a model with ``classify(x) -> {"label": [B], ...}`` (``M2``, ``ADGM``, ``M1M2``).
        x: test array ``[N, *input_shape]``.
        y: int labels ``[N]`` in ``[0, num_classes)``.
        batch_size: examples per batch, default 256.

    Example: ``evaluation.classification_error(m2, x_test, y_test)``.
    """
    model.require("can_classify", "evaluation.classification_error")
    x = checked_array(model, x)
    y = np.asarray(y)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold one int label per example of x, shape ({len(x)},), got {y.dtype} {y.shape}")
    if not len(x):
        raise ValueError("x is empty: there is no example to classify")
    labels = np.concatenate([np.asarray(model.classify(batch)["label"]) for batch in batches(x, batch_size)])
    return float(np.mean(labels != y))


def _condition(model, extras):
    """The conditioning keywords (``{"y": ...}``) a conditional model's public methods need, from the extras.

    Only for a model that cannot infer its condition (it declares ``condition_required``, e.g. a
    ``ConditionalVAE``); a semi-supervised model infers the label from ``x``, so its
    reconstruction, score and likelihood stay those of ``x`` alone (``log p(x)``, ``y``
    marginalised), comparable with an unconditional model's.
    """
    capabilities = model.capabilities()
    if not capabilities["condition_required"]:
        return {}
    missing = sorted(set(capabilities["condition_spec"]) - set(extras or {}))
    if missing:
        raise ValueError(f"{type(model).__name__} declares condition_required: evaluation needs the condition "
                         f"{', '.join(missing)}: pass extras={{{', '.join(repr(k) + ': ...' for k in missing)}}}")
    return {k: np.asarray(extras[k]) for k in capabilities["condition_spec"]}


def evaluate_model(model, x, num_samples=1000, batch_size=100, seed=0, active_threshold=0.01, extras=None):
    """Flat test metrics for ``metrics.json``; the same keys for every run of a family.

    Every model: ``reconstruction_mse`` (mean squared error per element), ``score`` (mean anomaly
    score) and the test mean of each loss term as ``test_<term>``. Probabilistic models also:
    ``elbo``, ``reconstruction`` and ``kl`` (nats per example, 10-sample reconstruction term),
    ``nll`` (``-log p(x)`` importance-sampled with ``nll_num_samples = num_samples``), its
    standard error ``nll_stderr`` over the test examples, ``active_units`` and ``latent_units``.
    Models with several stochastic layers add ``kl_<layer>``, ``active_units_<layer>`` and
    ``latent_units_<layer>`` for each (``z1``, ``z2``, ...). A model with a classifier
    (``classify``) given the test labels (``extras={"y": ...}``) adds ``test_error``
    (:func:`classification_error` over every example). A conditional model that needs its
    condition (``ConditionalVAE``) is evaluated given ``y`` (``nll`` is then ``-log p(x | y)``);
    a semi-supervised one (``M2``) on ``x`` alone (``nll`` is ``-log p(x)``, the label
    marginalised) except for the ``test_<term>`` means, which use the labels (the labelled bound
    and ``test_classification``, the cross-entropy of ``q(y|x)``).

    Args:
        model: any keras-ae model.
        x: test array ``[N, *input_shape]`` (binarized already if the model was trained so).
        num_samples: importance samples for ``nll``, default 1000.
        batch_size: examples per batch, default 100.
        seed: seed of every Monte Carlo estimate, default 0.
        active_threshold: see :func:`active_units`, default 0.01.
        extras: the batch entries the model's loss needs besides ``x`` (its
            ``batch_extras_spec()``, e.g. the neighbouring frames of a model trained on video, or
            the labels ``y`` of a conditional model), arrays aligned with ``x``; needed for the
            ``test_<term>`` means of such a model.

    Example: ``evaluate_model(model, x_test, num_samples=1000)["nll"]``.
    """
    x = checked_array(model, x)
    condition = _condition(model, extras)
    metrics = {
        "num_test": int(len(x)),
        "reconstruction_mse": reconstruction_error(model, x, batch_size, condition),
        "score": float(np.mean(np.concatenate([np.asarray(model.score(b, **given))
                                               for b, given in batches_with(x, condition, batch_size)]))),
    }
    metrics.update({f"test_{term}": value for term, value in term_means(model, x, batch_size, extras).items()})
    if model.capabilities()["can_classify"] and "y" in (extras or {}):
        metrics["test_error"] = classification_error(model, x, extras["y"], batch_size)
    if is_probabilistic(model):
        parts = elbo(model, x, batch_size=batch_size, seed=seed, condition=condition)
        metrics.update({name: float(values.mean()) for name, values in parts.items()})
        log_px = log_likelihood(model, x, num_samples=num_samples, batch_size=batch_size, seed=seed,
                                condition=condition)
        metrics.update(
            nll=float(-log_px.mean()),
            nll_stderr=float(log_px.std(ddof=1) / math.sqrt(len(log_px))) if len(log_px) > 1 else 0.0,
            nll_num_samples=int(num_samples),
        )
        activity = unit_activity(model, x, batch_size, per_layer=True, condition=condition)
        counts = {name: int(np.sum(values > active_threshold)) for name, values in activity.items()}
        metrics.update(active_units=sum(counts.values()), latent_units=sum(int(v.size) for v in activity.values()))
        if len(activity) > 1:  # a hierarchy: each stochastic layer's own count
            for name, values in activity.items():
                metrics[f"active_units_{name}"], metrics[f"latent_units_{name}"] = counts[name], int(values.size)
    return metrics
