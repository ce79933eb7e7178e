"""Which pictures a run directory gets: the policy, dispatching on the model's declared capabilities.

Example::

    from keras_ae.pictures import write_run_pictures
    files = write_run_pictures(model, x_test, y_test, "runs/vae-digits", seed=0)
"""

import os

import numpy as np

from keras_ae.pictures.classes import class_sample_grid
from keras_ae.pictures.drawing import as_numpy
from keras_ae.pictures.feature_points import feature_point_grid
from keras_ae.pictures.reconstructions import reconstruction_grid
from keras_ae.pictures.samples import sample_grid
from keras_ae.pictures.sequences import generation_sequence_gif, generation_sequence_grid, reconstruction_sequence_grid
from keras_ae.pictures.traversals import code_size, has_vector_code, interpolation_grid, latent_scatter, \
    latent_traversal, manifold_grid


def write_run_pictures(model, x_test, y_test, run_dir, seed=0, positions=None):
    """Write every picture that applies to ``model`` into ``run_dir`` and return the paths.

    - ``reconstructions.png``: always;
    - ``interpolations.png`` and ``traversals.png``: models whose code is a float vector
      (``code_spec``), not a grid of indices;
    - ``samples.png``: models that declare ``is_generative``;
    - ``manifold.png`` and ``latent_scatter.png``: models with ``latent_dim == 2``;
    - ``feature_points.png``: models that declare ``has_feature_points`` (the spatial autoencoder), the first
      16 test frames with their feature points and, given ``positions``, the true object positions.
    - ``generation_sequence.png`` (rows: samples, columns: steps), ``generation_sequence.gif``
      (the same steps animated) and ``reconstruction_sequence.png``: models that declare
      ``has_step_outputs`` (they draw in steps and show them, as DRAW).

    A model that declares ``is_conditional`` (its decoder needs the condition) gets
    ``reconstructions.png`` unless it declares ``condition_required`` (the semi-supervised
    models infer the label from ``x``), ``class_samples.png`` (one row per class) when it
    declares ``num_classes``, and ``samples.png``; the code-space pictures would need a
    condition per code and are left out.

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
    x_test = np.asarray(as_numpy(x_test))
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
    if vector and code_size(model) == 2:
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
