"""Disentanglement metrics on data with known factors, computed with numpy and scikit-learn.

Every metric takes a *ground-truth dataset* and a *representation function*:

- ``data`` has ``factor_sizes`` (one entry per factor), ``sample_factors(n, rng)`` (int class
  indices ``[n, K]``) and ``sample_observations_from_factors(factors, rng)`` (observations
  ``[n, ...]``), as :class:`keras_ae.data.procedural.ProceduralDSprites` does (the interface of
  disentanglement_lib's ``GroundTruthData``);
- ``representation_function`` is a callable ``observations [n, ...] -> codes [n, D]`` (numpy in,
  array-like out; codes of more axes are flattened). For a keras-ae model use
  :func:`model_representation`, the posterior mean ``E_q[z|x]`` (the code of a deterministic
  encoder), as disentanglement_lib evaluates the mean representation.

Randomness is explicit: every metric takes ``rng`` (an int seed or a ``numpy.random.Generator``);
the same seed gives the same number. :func:`evaluate_disentanglement` seeds every metric with the
same seed, as disentanglement_lib's ``evaluation.random_seed = 0`` does.

The protocol (:data:`PROTOCOL`, the defaults of every function) is the one of disentanglement_lib's
``unsupervised_study_v1`` metric configurations (Locatello et al. 2019):

============================ ===================================================================
metric                       protocol
============================ ===================================================================
beta-VAE score               batch 64 per point, 10,000 training and 5,000 evaluation points,
                             scikit-learn ``LogisticRegression``; the score is the evaluation
                             accuracy
FactorVAE score              batch 64 per vote, 10,000 training and 5,000 evaluation votes,
                             10,000 points for the global variances, dimensions whose standard
                             deviation is below 0.05 pruned; majority-vote classifier, the score
                             is the evaluation accuracy
MIG                          10,000 points, codes discretized into 20 equal-width bins
SAP                          10,000 training and 5,000 test points, one ``LinearSVC(C=0.01,
                             class_weight="balanced")`` per (code, factor), factors discrete
DCI                          10,000 training and 5,000 test points, one default
                             ``GradientBoostingClassifier`` per factor
modularity, explicitness     10,000 training and 5,000 test points, 20 bins (modularity),
                             ``LogisticRegression`` on standardised codes, one-vs-rest ROC-AUC
Gaussian total correlation   10,000 points
============================ ===================================================================

Where disentanglement_lib's code has known problems, this module differs, and says so in the
function: the FactorVAE vote counts the dimension the argmin chose among the active ones (there,
the index into the *pruned* vector was used as a dimension index, which is wrong as soon as a
dimension before it is pruned); codes with zero spread are not divided by zero when standardised;
logistic regressions run to convergence (``max_iter=1000`` instead of scikit-learn's 100); the
explicitness ROC-AUC averages only classes present in the test points; Gaussian total correlation
leaves out constant code dimensions (which are independent of everything) instead of returning NaN.

Sampling and rendering are batched (``batch_size`` observations per call of the representation
function); the numbers do not depend on that batch size.
"""

import numpy as np

from keras_ae import _checks
from keras_ae.evaluation import metrics as evaluation_metrics

__all__ = [
    "PROTOCOL",
    "METRIC_DEFINITIONS",
    "model_representation",
    "sample_codes",
    "beta_vae_score",
    "factor_vae_score",
    "mig",
    "sap",
    "dci",
    "modularity_explicitness",
    "gaussian_total_correlation",
    "gaussian_total_correlation_of_covariance",
    "mig_of_codes",
    "sap_of_codes",
    "dci_of_codes",
    "dci_of_importance",
    "modularity_of_information",
    "explicitness_of_codes",
    "mutual_information_matrix",
    "histogram_discretize",
    "evaluate_disentanglement",
    "code_factor_information",
    "factor_labels",
    "METRICS",
]

#: disentanglement_lib's ``unsupervised_study_v1`` metric configurations (the defaults here).
PROTOCOL = {
    "beta_vae": {"batch_size": 64, "num_train": 10000, "num_eval": 5000},
    "factor_vae": {"batch_size": 64, "num_train": 10000, "num_eval": 5000, "num_variance_estimate": 10000,
                   "prune_threshold": 0.05},
    "mig": {"num_train": 10000, "num_bins": 20},
    "sap": {"num_train": 10000, "num_test": 5000},
    "dci": {"num_train": 10000, "num_test": 5000},
    "modularity_explicitness": {"num_train": 10000, "num_test": 5000, "num_bins": 20},
    "gaussian_total_correlation": {"num_train": 10000},
}

#: What each key :func:`evaluate_disentanglement` returns means (kept in
#: :data:`keras_ae.evaluation.METRIC_DEFINITIONS`, which documents every key of ``metrics.json``).
METRIC_DEFINITIONS = {key: evaluation_metrics.METRIC_DEFINITIONS[key] for key in (
    "beta_vae_score", "factor_vae_score", "factor_vae_active_dims", "mig", "sap", "dci_disentanglement",
    "dci_completeness", "dci_informativeness", "modularity", "explicitness", "gaussian_total_correlation",
    "disentanglement_scale")}


# -- inputs ----------------------------------------------------------------------------------------
def _rng(rng):
    """A ``numpy.random.Generator`` from a Generator or an int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(_checks.check_seed(rng, "rng"))


def _check_data(data):
    """``data`` if it offers the ground-truth interface, else ``ValueError`` naming what is missing."""
    missing = [name for name in ("factor_sizes", "sample_factors", "sample_observations_from_factors")
               if not hasattr(data, name)]
    if missing:
        raise ValueError(f"data must be a ground-truth dataset (factor_sizes, sample_factors, "
                         f"sample_observations_from_factors); {type(data).__name__} lacks {', '.join(missing)}")
    return data


def _represent(representation_function, observations, batch_size):
    """Codes ``[n, D]`` float64 of ``observations``, computed ``batch_size`` at a time and checked."""
    if not callable(representation_function):
        raise ValueError(f"representation_function must be callable (observations -> codes), "
                         f"got {type(representation_function).__name__}")
    codes = []
    for start in range(0, len(observations), batch_size):
        chunk = observations[start:start + batch_size]
        code = np.asarray(representation_function(chunk), dtype=np.float64)
        if code.ndim < 1 or code.shape[0] != len(chunk):
            raise ValueError(f"representation_function must return one code per observation: {len(chunk)} "
                             f"observations gave an array of shape {code.shape}")
        codes.append(code.reshape(len(chunk), -1))
    codes = np.concatenate(codes) if codes else np.zeros((0, 0))
    if not np.all(np.isfinite(codes)):
        raise ValueError("representation_function returned non-finite codes (NaN or inf)")
    return codes


def _codes_of(data, representation_function, factors, rng, batch_size):
    """Codes of the observations of ``factors``, rendered and represented ``batch_size`` at a time."""
    codes = []
    for start in range(0, len(factors), batch_size):
        observations = data.sample_observations_from_factors(factors[start:start + batch_size], rng)
        codes.append(_represent(representation_function, observations, batch_size))
    return np.concatenate(codes)


def sample_codes(data, representation_function, num, rng, batch_size=1024):
    """``(codes [num, D], factors [num, K])`` of ``num`` observations of uniformly drawn factors.

    Args:
        data: a ground-truth dataset (see the module docstring).
        representation_function: observations -> codes.
        num: number of points.
        rng: int seed or ``numpy.random.Generator``.
        batch_size: observations per call of ``representation_function`` (default 1024).
    """
    data = _check_data(data)
    rng = _rng(rng)
    num = _checks.check_positive_int(num, "num")
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    factors = np.asarray(data.sample_factors(num, rng))
    return _codes_of(data, representation_function, factors, rng, batch_size), factors


def model_representation(model, batch_size=1024):
    """The representation function of a keras-ae model: observations -> posterior means ``[n, D]``.

    ``E_q[z|x]`` for a probabilistic model (its code for a flow posterior), ``encode(x)`` for a
    deterministic one, flattened (:func:`keras_ae.evaluation.posterior_means`).
    """
    def represent(observations):
        return evaluation_metrics.posterior_means(model, np.asarray(observations, np.float32), batch_size=batch_size)

    return represent


# -- shared estimators ---------------------------------------------------------------------------
def histogram_discretize(codes, num_bins=20):
    """Each code column cut into ``num_bins`` equal-width bins over its range: int ``[n, D]`` in 1..num_bins.

    disentanglement_lib's ``histogram_discretizer``: the left edges of ``np.histogram``'s bins,
    then ``np.digitize``.
    """
    codes = np.asarray(codes, np.float64)
    num_bins = _checks.check_positive_int(num_bins, "num_bins")
    out = np.zeros(codes.shape, np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], num_bins)[1][:-1]
        out[:, j] = np.digitize(codes[:, j], edges)
    return out


def mutual_information_matrix(discrete_codes, factors):
    """Plug-in mutual information in nats ``[D, K]`` between discrete code columns and factor columns."""
    from sklearn.metrics import mutual_info_score

    return np.array([[mutual_info_score(factors[:, k], discrete_codes[:, j]) for k in range(factors.shape[1])]
                     for j in range(discrete_codes.shape[1])])


def _factor_entropies(factors):
    """Plug-in entropy in nats of each factor column."""
    entropies = []
    for k in range(factors.shape[1]):
        p = np.unique(factors[:, k], return_counts=True)[1] / len(factors)
        entropies.append(-np.sum(p * np.log(p)))
    return np.array(entropies)


def _gap_of_top_two(matrix):
    """Per column, the largest entry minus the second largest (rows are codes)."""
    ordered = np.sort(matrix, axis=0)
    return ordered[-1] - ordered[-2]


def _need_two_codes(codes, metric):
    if codes.shape[1] < 2:
        raise ValueError(f"{metric} compares the two best code dimensions per factor; the representation has "
                         f"{codes.shape[1]} dimension")


def _logistic_regression():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _standardise(train, test):
    """Codes standardised by the training mean and standard deviation (a constant column stays 0)."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


# -- beta-VAE score --------------------------------------------------------------------------------
def _beta_vae_points(data, representation_function, num_points, batch_size, rng, chunk):
    """``(features [num_points, D], fixed factor [num_points])``: one point per batch of pairs.

    All factors are drawn first, so the points do not depend on ``chunk``.
    """
    labels = rng.integers(len(data.factor_sizes), size=num_points)
    first = np.asarray(data.sample_factors(num_points * batch_size, rng))
    second = np.asarray(data.sample_factors(num_points * batch_size, rng))
    fixed = np.repeat(labels, batch_size)
    rows = np.arange(len(fixed))
    second[rows, fixed] = first[rows, fixed]
    features = []
    per_block = max(1, chunk // batch_size) * batch_size  # whole points per block
    for start in range(0, len(fixed), per_block):
        codes1 = _codes_of(data, representation_function, first[start:start + per_block], rng, chunk)
        codes2 = _codes_of(data, representation_function, second[start:start + per_block], rng, chunk)
        features.append(np.abs(codes1 - codes2).reshape(-1, batch_size, codes1.shape[1]).mean(axis=1))
    return np.concatenate(features), labels


def beta_vae_score(data, representation_function, rng=0, batch_size=64, num_train=10000, num_eval=5000,
                   chunk=4096):
    """The beta-VAE disentanglement score (Higgins et al. 2017, "beta-VAE", section 3).

    One point: draw a factor ``k`` uniformly, then ``batch_size`` pairs of factor vectors that
    agree on ``k`` (and are drawn independently otherwise); the point's feature is
    ``mean_pairs |r(x1) - r(x2)|`` (per code dimension) and its label is ``k``. A logistic
    regression (scikit-learn, as disentanglement_lib's ``beta_vae_sklearn``) is trained on
    ``num_train`` points; the score is its accuracy on ``num_eval`` fresh points. A
    representation whose dimensions each follow one factor scores 1; one that ignores the
    observation scores about ``1 / K`` (chance).

    Args:
        data: a ground-truth dataset; representation_function: observations -> codes.
        rng: int seed or Generator (default 0).
        batch_size: pairs per point (default 64); num_train, num_eval: points (10,000 and 5,000).
        chunk: observations rendered and represented at once (does not change the result).

    Returns:
        ``{"train_accuracy", "eval_accuracy"}``.
    """
    data, rng = _check_data(data), _rng(rng)
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    num_train = _checks.check_positive_int(num_train, "num_train")
    num_eval = _checks.check_positive_int(num_eval, "num_eval")
    chunk = _checks.check_positive_int(chunk, "chunk")
    x_train, y_train = _beta_vae_points(data, representation_function, num_train, batch_size, rng, chunk)
    x_eval, y_eval = _beta_vae_points(data, representation_function, num_eval, batch_size, rng, chunk)
    if len(np.unique(y_train)) < 2:
        raise ValueError(f"num_train={num_train} points drew a single factor; use more points")
    model = _logistic_regression().fit(x_train, y_train)
    return {"train_accuracy": float(model.score(x_train, y_train)),
            "eval_accuracy": float(model.score(x_eval, y_eval))}


# -- FactorVAE score -------------------------------------------------------------------------------
def _factor_vae_votes(data, representation_function, num_votes, batch_size, rng, global_variances, active, chunk):
    """Votes ``[K, D]``: how often fixing factor k made dimension d the least variable (normalised).

    All factors are drawn first, so the votes do not depend on ``chunk``.
    """
    labels = rng.integers(len(data.factor_sizes), size=num_votes)
    factors = np.asarray(data.sample_factors(num_votes * batch_size, rng)).reshape(num_votes, batch_size, -1)
    votes_index = np.arange(num_votes)
    factors[votes_index, :, labels] = factors[votes_index, 0, labels][:, None]  # the fixed factor's value
    factors = factors.reshape(num_votes * batch_size, -1)
    active_index = np.flatnonzero(active)
    votes = np.zeros((len(data.factor_sizes), len(global_variances)), np.int64)
    per_block = max(1, chunk // batch_size)
    for start in range(0, num_votes, per_block):
        block = labels[start:start + per_block]
        rows = factors[start * batch_size:(start + len(block)) * batch_size]
        codes = _codes_of(data, representation_function, rows, rng, chunk)
        local = codes.reshape(len(block), batch_size, -1).var(axis=1, ddof=1)
        chosen = active_index[np.argmin(local[:, active] / global_variances[active], axis=1)]
        np.add.at(votes, (block, chosen), 1)
    return votes


def factor_vae_score(data, representation_function, rng=0, batch_size=64, num_train=10000, num_eval=5000,
                     num_variance_estimate=10000, prune_threshold=0.05, chunk=4096):
    """The FactorVAE disentanglement score (Kim & Mnih 2018, "Disentangling by Factorising", section 4).

    The code's global variances ``s_d^2`` come from ``num_variance_estimate`` points (``ddof=1``);
    dimensions with ``s_d < prune_threshold`` (collapsed to the prior) are left out. One vote:
    draw a factor ``k``, a batch of ``batch_size`` factor vectors sharing the value of ``k``, and
    take ``d* = argmin_d Var_batch(r_d) / s_d^2`` over the kept dimensions: the vote is
    ``(d*, k)``. The classifier maps each dimension to the factor with most training votes; the
    score is the share of ``num_eval`` fresh votes it gets right. A representation whose
    dimensions each follow one factor scores 1; noise scores about ``1 / K``.

    Unlike disentanglement_lib, the vote goes to the dimension the argmin chose (there, the index
    into the pruned vector was taken as a dimension index).

    Args:
        data, representation_function, rng: as :func:`beta_vae_score`.
        batch_size: observations per vote (64); num_train, num_eval: votes (10,000 and 5,000).
        num_variance_estimate: points for the global variances (10,000).
        prune_threshold: minimum standard deviation of a kept dimension (0.05).

    Returns:
        ``{"train_accuracy", "eval_accuracy", "num_active_dims"}``; with no dimension kept the
        accuracies are 0.
    """
    data, rng = _check_data(data), _rng(rng)
    for name, value in (("batch_size", batch_size), ("num_train", num_train), ("num_eval", num_eval),
                        ("num_variance_estimate", num_variance_estimate), ("chunk", chunk)):
        _checks.check_integer(value, name, minimum=2)
    prune_threshold = _checks.check_number(prune_threshold, "prune_threshold", minimum=0)
    codes, _ = sample_codes(data, representation_function, num_variance_estimate, rng, batch_size=chunk)
    global_variances = codes.var(axis=0, ddof=1)
    active = np.sqrt(global_variances) >= prune_threshold
    active &= global_variances > 0
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    train = _factor_vae_votes(data, representation_function, num_train, batch_size, rng, global_variances, active,
                              chunk)
    classifier = np.argmax(train, axis=0)  # dimension -> factor
    columns = np.arange(train.shape[1])
    evals = _factor_vae_votes(data, representation_function, num_eval, batch_size, rng, global_variances, active,
                              chunk)
    return {"train_accuracy": float(train[classifier, columns].sum() / train.sum()),
            "eval_accuracy": float(evals[classifier, columns].sum() / evals.sum()),
            "num_active_dims": int(active.sum())}


# -- MIG ------------------------------------------------------------------------------------------
def mig_of_codes(codes, factors, num_bins=20):
    """MIG of given codes ``[n, D]`` and factors ``[n, K]`` (see :func:`mig`)."""
    codes, factors = np.asarray(codes, np.float64), np.asarray(factors)
    _need_two_codes(codes, "MIG")
    entropies = _factor_entropies(factors)
    if np.any(entropies == 0):
        raise ValueError(f"MIG divides by each factor's entropy; factors {np.flatnonzero(entropies == 0).tolist()} "
                         "take a single value in the points")
    info = mutual_information_matrix(histogram_discretize(codes, num_bins), factors)
    return float(np.mean(_gap_of_top_two(info) / entropies))


def mig(data, representation_function, rng=0, num_train=10000, num_bins=20, batch_size=1024):
    """The mutual information gap (Chen et al. 2018, "Isolating Sources of Disentanglement", eq. 6).

    ``MIG = 1/K sum_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)``, where ``z_(1)``, ``z_(2)`` are
    the code dimensions with the largest and second largest mutual information with factor
    ``v_k``. As in disentanglement_lib, the mutual information is the plug-in estimate between
    factor classes and codes discretized into ``num_bins`` equal-width bins, on ``num_train``
    points. A factor with more values than bins (orientation: 40, positions: 32) cannot reach
    ``I = H`` through 20 bins, so even the factors themselves score below 1 (about 0.9 on dSprites).

    Returns:
        ``{"mig"}``.
    """
    codes, factors = sample_codes(data, representation_function, num_train, rng, batch_size)
    return {"mig": mig_of_codes(codes, factors, num_bins)}


# -- SAP -------------------------------------------------------------------------------------------
def sap_of_codes(codes, factors, codes_test, factors_test):
    """SAP of given train and test codes and discrete factors (see :func:`sap`)."""
    from sklearn.svm import LinearSVC

    codes, codes_test = np.asarray(codes, np.float64), np.asarray(codes_test, np.float64)
    _need_two_codes(codes, "SAP")
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for j in range(codes.shape[1]):
        for k in range(factors.shape[1]):
            if len(np.unique(factors[:, k])) < 2:
                continue  # nothing to classify: the score stays 0
            classifier = LinearSVC(C=0.01, class_weight="balanced").fit(codes[:, j:j + 1], factors[:, k])
            scores[j, k] = np.mean(classifier.predict(codes_test[:, j:j + 1]) == factors_test[:, k])
    return float(np.mean(_gap_of_top_two(scores)))


def sap(data, representation_function, rng=0, num_train=10000, num_test=5000, batch_size=1024):
    """The Separated Attribute Predictability score (Kumar et al. 2018, "Variational Inference of
    Disentangled Latent Concepts", section 3).

    The score matrix ``S[d, k]`` is the test accuracy of a linear classifier (``LinearSVC(C=0.01,
    class_weight="balanced")``, as disentanglement_lib with discrete factors) predicting factor
    ``k`` from code dimension ``d`` alone; SAP is the mean over factors of the gap between the
    best and second best dimension. Only the gap matters: a factor that no single dimension
    predicts, or two that predict equally, gives 0.

    Returns:
        ``{"sap"}``.
    """
    rng = _rng(rng)
    codes, factors = sample_codes(data, representation_function, num_train, rng, batch_size)
    codes_test, factors_test = sample_codes(data, representation_function, num_test, rng, batch_size)
    return {"sap": sap_of_codes(codes, factors, codes_test, factors_test)}


# -- DCI -------------------------------------------------------------------------------------------
def _one_minus_entropy(weights, axis):
    """``1 - H(p)`` with ``p`` the weights normalised along ``axis``, in base ``weights.shape[axis]``.

    ``1e-11`` is added to every weight first (as disentanglement_lib), so an all-zero slice is uniform.
    """
    if weights.shape[axis] == 1:  # one code (or one factor): nothing to spread over
        return np.ones(weights.shape[1 - axis])
    p = weights + 1e-11
    p = p / p.sum(axis=axis, keepdims=True)
    return 1.0 + np.sum(p * np.log(p), axis=axis) / np.log(weights.shape[axis])


def dci_of_importance(importance):
    """``(disentanglement, completeness)`` of an importance matrix ``R [D, K]`` (codes x factors).

    ``D_d = 1 - H_K(P_d.)`` with ``P_dk = R_dk / sum_k R_dk``, weighted by ``rho_d = sum_k R_dk /
    sum R``; ``C_k = 1 - H_D(P_.k)`` with ``P_dk = R_dk / sum_d R_dk``, weighted by the factor's
    share (Eastwood & Williams 2018, section 3).
    """
    importance = np.abs(np.asarray(importance, np.float64))
    total = importance.sum()
    weights = importance if total > 0 else np.ones_like(importance)
    per_code = _one_minus_entropy(importance, axis=1)
    per_factor = _one_minus_entropy(importance, axis=0)
    code_weight = weights.sum(axis=1) / weights.sum()
    factor_weight = weights.sum(axis=0) / weights.sum()
    return float(np.sum(per_code * code_weight)), float(np.sum(per_factor * factor_weight))


def dci_of_codes(codes, factors, codes_test, factors_test, seed=0):
    """DCI of given train and test codes and factors (see :func:`dci`)."""
    from sklearn.ensemble import GradientBoostingClassifier

    codes, codes_test = np.asarray(codes, np.float64), np.asarray(codes_test, np.float64)
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    train_accuracy, test_accuracy = [], []
    for k in range(factors.shape[1]):
        if len(np.unique(factors[:, k])) < 2:
            raise ValueError(f"DCI fits a classifier per factor; factor {k} takes a single value in the points")
        model = GradientBoostingClassifier(random_state=seed).fit(codes, factors[:, k])
        importance[:, k] = np.abs(model.feature_importances_)
        train_accuracy.append(np.mean(model.predict(codes) == factors[:, k]))
        test_accuracy.append(np.mean(model.predict(codes_test) == factors_test[:, k]))
    disentanglement, completeness = dci_of_importance(importance)
    return {"disentanglement": disentanglement, "completeness": completeness,
            "informativeness_train": float(np.mean(train_accuracy)),
            "informativeness_test": float(np.mean(test_accuracy)), "importance": importance}


def dci(data, representation_function, rng=0, num_train=10000, num_test=5000, batch_size=1024):
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018, "A Framework for
    the Quantitative Evaluation of Disentangled Representations").

    One gradient-boosted tree classifier per factor (scikit-learn's defaults, as
    disentanglement_lib) predicts the factor from the whole code on ``num_train`` points; its
    feature importances form ``R [D, K]`` (see :func:`dci_of_importance`). Informativeness is the
    classifiers' mean accuracy on ``num_test`` fresh points (disentanglement_lib reports accuracy,
    not the paper's prediction error). Disentanglement and completeness are 1 when every code
    dimension informs about one factor and every factor is read from one dimension.

    Returns:
        ``{"disentanglement", "completeness", "informativeness_train", "informativeness_test",
        "importance"}``.
    """
    rng = _rng(rng)
    codes, factors = sample_codes(data, representation_function, num_train, rng, batch_size)
    codes_test, factors_test = sample_codes(data, representation_function, num_test, rng, batch_size)
    return dci_of_codes(codes, factors, codes_test, factors_test, seed=int(rng.integers(2 ** 31)))


# -- modularity and explicitness ---------------------------------------------------------------------
def modularity_of_information(info):
    """Modularity of a mutual information matrix ``[D, K]`` (Ridgeway & Mozer 2018, section 3).

    For code ``d`` with ``theta_d = max_k I_dk``: ``delta_d = sum_{k != k*} I_dk^2 / (theta_d^2
    (K - 1))`` and modularity ``1 - mean_d delta_d``; a code informative about no factor
    (``theta_d = 0``) counts 0.
    """
    squared = np.square(np.asarray(info, np.float64))
    largest = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (squared.sum(axis=1) - largest) / (largest * (squared.shape[1] - 1.0))
    per_code = np.where(largest > 0, 1.0 - delta, 0.0)
    return float(np.mean(per_code))


def explicitness_of_codes(codes, factors, codes_test, factors_test):
    """``(train, test)`` explicitness of given codes and factors (see :func:`modularity_explicitness`)."""
    from sklearn.metrics import roc_auc_score

    train_x, test_x = _standardise(np.asarray(codes, np.float64), np.asarray(codes_test, np.float64))
    scores = []
    for k in range(factors.shape[1]):
        model = _logistic_regression().fit(train_x, factors[:, k])
        pair = []
        for x, y in ((train_x, factors[:, k]), (test_x, factors_test[:, k])):
            onehot = (y[:, None] == model.classes_[None, :]).astype(int)
            keep = (onehot.min(axis=0) == 0) & (onehot.max(axis=0) == 1)  # classes present, and not alone
            pair.append(roc_auc_score(onehot[:, keep], model.predict_proba(x)[:, keep], average="macro"))
        scores.append(pair)
    train, test = np.mean(scores, axis=0)
    return float(train), float(test)


def modularity_explicitness(data, representation_function, rng=0, num_train=10000, num_test=5000, num_bins=20,
                            batch_size=1024):
    """Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings
    with the F-Statistic Loss", section 3).

    Modularity (:func:`modularity_of_information`) is computed from the plug-in mutual
    information between codes in ``num_bins`` equal-width bins and the factors, on ``num_train``
    points: it is 1 when each code dimension depends on at most one factor. A dimension that
    depends on *no* factor (noise) is modular by this definition up to the estimation bias of
    its small mutual informations, so noise does not score 0 here.

    Explicitness: per factor, a logistic regression on the codes (standardised by the training
    mean and standard deviation) predicts the factor; its one-vs-rest ROC-AUC on ``num_test``
    fresh points, averaged over the factor's classes and then over factors. 1 when every factor
    is linearly decodable, 0.5 at chance; a linear mixing of the code does not change it.

    Returns:
        ``{"modularity", "explicitness_train", "explicitness_test"}``.
    """
    rng = _rng(rng)
    codes, factors = sample_codes(data, representation_function, num_train, rng, batch_size)
    codes_test, factors_test = sample_codes(data, representation_function, num_test, rng, batch_size)
    info = mutual_information_matrix(histogram_discretize(codes, num_bins), factors)
    train, test = explicitness_of_codes(codes, factors, codes_test, factors_test)
    return {"modularity": modularity_of_information(info), "explicitness_train": train, "explicitness_test": test}


# -- Gaussian total correlation ----------------------------------------------------------------------
def gaussian_total_correlation_of_covariance(covariance):
    """``KL(N(0, S) || N(0, diag S)) = (sum_d log S_dd - log det S) / 2`` in nats.

    The total correlation of a Gaussian with covariance ``S``; dimensions of zero variance are
    left out (a constant is independent of everything).
    """
    covariance = np.atleast_2d(np.asarray(covariance, np.float64))
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1]:
        raise ValueError(f"covariance must be a square matrix, got shape {covariance.shape}")
    keep = np.diag(covariance) > 0
    covariance = covariance[np.ix_(keep, keep)]
    if not len(covariance):
        return 0.0
    sign, logdet = np.linalg.slogdet(covariance)
    if sign <= 0:
        return float("inf")  # singular: some dimensions are exact linear functions of others
    return float(0.5 * (np.sum(np.log(np.diag(covariance))) - logdet))


def gaussian_total_correlation(data, representation_function, rng=0, num_train=10000, batch_size=1024):
    """Total correlation of the Gaussian fitted to the codes (disentanglement_lib's unsupervised
    ``gaussian_total_correlation``): the covariance of ``num_train`` codes, then
    :func:`gaussian_total_correlation_of_covariance`. 0 when the code dimensions are uncorrelated;
    it sees only second moments, so an uncorrelated but dependent code also scores 0.

    Returns:
        ``{"gaussian_total_correlation"}`` (nats).
    """
    codes, _ = sample_codes(data, representation_function, num_train, rng, batch_size)
    return {"gaussian_total_correlation": gaussian_total_correlation_of_covariance(np.cov(codes, rowvar=False))}


# -- which factor each code dimension follows ----------------------------------------------------------
def code_factor_information(data, representation_function, rng=0, num_train=10000, num_bins=20, batch_size=1024):
    """``I(z_d; v_k) / H(v_k)`` ``[D, K]``: the share of each factor's entropy each code dimension holds.

    Codes in ``num_bins`` equal-width bins on ``num_train`` points (as MIG), with the
    Miller-Madow bias correction of the plug-in estimate, ``(B_d - 1)(C_k - 1) / (2n)`` nats for
    ``B_d`` occupied bins and ``C_k`` factor values seen (clipped at 0): without it, a code
    unrelated to the factors seems to hold a share of the many-valued factors (orientation) when
    the points are few.
    """
    codes, factors = sample_codes(data, representation_function, num_train, rng, batch_size)
    entropies = _factor_entropies(factors)
    discrete = histogram_discretize(codes, num_bins)
    info = mutual_information_matrix(discrete, factors)
    bins = np.array([len(np.unique(discrete[:, d])) for d in range(discrete.shape[1])])
    values = np.array([len(np.unique(factors[:, k])) for k in range(factors.shape[1])])
    info = np.maximum(info - np.outer(bins - 1, values - 1) / (2.0 * len(codes)), 0.0)
    return info / np.where(entropies > 0, entropies, 1.0)


def factor_labels(information, factor_names=None, threshold=0.05):
    """One label per code dimension: the factor it holds most information about, e.g. ``"scale 0.62"``.

    Args:
        information: ``[D, K]`` from :func:`code_factor_information`.
        factor_names: ``K`` names (default ``factor0``, ``factor1``, ...).
        threshold: below this share of any factor's entropy the label is ``"none"``.
    """
    information = np.asarray(information, np.float64)
    if factor_names is None:
        factor_names = [f"factor{k}" for k in range(information.shape[1])]
    if len(factor_names) != information.shape[1]:
        raise ValueError(f"factor_names has {len(factor_names)} names for {information.shape[1]} factors")
    labels = []
    for row in information:
        best = int(np.argmax(row))
        labels.append(f"{factor_names[best]} {row[best]:.2f}" if row[best] >= threshold else "none")
    return labels


# -- all of them ---------------------------------------------------------------------------------------
METRICS = ("beta_vae", "factor_vae", "mig", "sap", "dci", "modularity_explicitness", "gaussian_total_correlation")


def _scaled(settings, scale):
    """The protocol's point counts times ``scale`` (at least 50 points; batch sizes and bins kept)."""
    out = {}
    for key, value in settings.items():
        if key.startswith("num_"):
            value = max(50, int(round(value * scale)))
        out[key] = value
    return out


def evaluate_disentanglement(data, representation_function, seed=0, scale=1.0, metrics=METRICS):
    """Every metric of this module under :data:`PROTOCOL`, as flat keys for ``metrics.json``.

    Args:
        data: a ground-truth dataset; representation_function: observations -> codes (for a
            model, :func:`model_representation`).
        seed: each metric draws its points from ``numpy.random.default_rng(seed)`` (default 0).
        scale: multiplies every point count of the protocol (default 1: the protocol itself;
            at least 50 points each); batch sizes, bins and thresholds are kept.
        metrics: which of :data:`METRICS` to compute (default all).

    Returns:
        a dict with the keys of :data:`METRIC_DEFINITIONS` for the metrics computed, and
        ``disentanglement_scale``.

    Example:
        >>> from keras_ae.data.procedural import ProceduralDSprites
        >>> data = ProceduralDSprites()
        >>> oracle = lambda x: x.reshape(len(x), -1)[:, :3]  # any callable images -> codes
        >>> scores = evaluate_disentanglement(data, oracle, scale=0.01, metrics=("mig",))
        >>> sorted(scores)
        ['disentanglement_scale', 'mig']
    """
    data = _check_data(data)
    seed = _checks.check_seed(seed)
    scale = _checks.check_number(scale, "scale", minimum=0, exclusive_minimum=True)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must be a non-empty selection of {', '.join(METRICS)}, got {list(metrics)}")
    out = {}
    for name in metrics:
        settings = _scaled(PROTOCOL[name], scale)
        if name == "beta_vae":
            scores = beta_vae_score(data, representation_function, seed, **settings)
            out["beta_vae_score"] = scores["eval_accuracy"]
        elif name == "factor_vae":
            scores = factor_vae_score(data, representation_function, seed, **settings)
            out["factor_vae_score"] = scores["eval_accuracy"]
            out["factor_vae_active_dims"] = scores["num_active_dims"]
        elif name == "mig":
            out.update(mig(data, representation_function, seed, **settings))
        elif name == "sap":
            out.update(sap(data, representation_function, seed, **settings))
        elif name == "dci":
            scores = dci(data, representation_function, seed, **settings)
            out.update(dci_disentanglement=scores["disentanglement"], dci_completeness=scores["completeness"],
                       dci_informativeness=scores["informativeness_test"])
        elif name == "modularity_explicitness":
            scores = modularity_explicitness(data, representation_function, seed, **settings)
            out.update(modularity=scores["modularity"], explicitness=scores["explicitness_test"])
        else:
            out.update(gaussian_total_correlation(data, representation_function, seed, **settings))
    out["disentanglement_scale"] = float(scale)
    return out
