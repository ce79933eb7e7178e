"""Evaluation of trained models: what a model is worth, measured through its declared capabilities.

- :mod:`~keras_ae.evaluation.likelihood`: ``log p(x)`` by importance sampling or AIS, and the ELBO;
  :mod:`~keras_ae.evaluation.ais`: the annealed importance sampler (and the BDMC bound);
- :mod:`~keras_ae.evaluation.metrics`: active units, reconstruction error, loss terms,
  classification error, and :func:`evaluate_model` (a run's ``metrics.json``);
- :mod:`~keras_ae.evaluation.gaps`: the inference gap split (Cremer et al. 2018);
- :mod:`~keras_ae.evaluation.anomaly`: anomaly scores, AUROC and AUPRC;
- :mod:`~keras_ae.evaluation.compression`: bits-back coding;
- :mod:`~keras_ae.evaluation.latent_search`: gradient search in code space;
- :mod:`~keras_ae.evaluation.disentanglement`: the disentanglement metrics;
- :mod:`~keras_ae.evaluation.feature_points`: how well codes locate objects.

The likelihood and metric functions are importable from here
(``keras_ae.evaluation.evaluate_model``); the other tools from their modules
(``from keras_ae.evaluation import gaps``), so importing this package stays light.
"""

from keras_ae.evaluation.likelihood import elbo, log_likelihood
from keras_ae.evaluation.metrics import (METRIC_DEFINITIONS, active_units, classification_error, describe_metrics,
                                         evaluate_model, is_probabilistic, posterior_layer_means, posterior_means,
                                         reconstruction_error, term_means, unit_activity)

__all__ = ["log_likelihood", "elbo", "METRIC_DEFINITIONS", "active_units", "classification_error",
           "describe_metrics", "evaluate_model", "is_probabilistic", "posterior_layer_means", "posterior_means",
           "reconstruction_error", "term_means", "unit_activity"]
