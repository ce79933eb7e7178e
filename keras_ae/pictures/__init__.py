"""Pictures of trained models: drawing primitives apart from one module per capability.

- :mod:`~keras_ae.pictures.drawing`: arrays to images, mosaics, labelled grids, atomic PNG files;
- :mod:`~keras_ae.pictures.reconstructions`: inputs and their reconstructions (any model);
- :mod:`~keras_ae.pictures.samples`: prior samples (``is_generative``);
- :mod:`~keras_ae.pictures.classes`: samples by class (``num_classes``);
- :mod:`~keras_ae.pictures.traversals`: interpolations, traversals, the 2-D manifold and scatter,
  latent search paths (a float-vector code);
- :mod:`~keras_ae.pictures.sequences`: generation and reconstruction sequences (``has_step_outputs``);
- :mod:`~keras_ae.pictures.feature_points`: feature points on their frames (``has_feature_points``);
- :mod:`~keras_ae.pictures.curves`: the training curves;
- :mod:`~keras_ae.pictures.run`: which of them a run directory gets, from the declared capabilities.

Every function takes a model that follows :class:`keras_ae.models.base.BaseAutoencoder` and writes
one file atomically. Example::

    from keras_ae.pictures import write_run_pictures
    files = write_run_pictures(model, x_test, y_test, "runs/vae-digits", seed=0)
"""

from keras_ae.pictures.classes import class_sample_grid
from keras_ae.pictures.curves import loss_curves
from keras_ae.pictures.feature_points import feature_point_grid
from keras_ae.pictures.reconstructions import reconstruction_grid
from keras_ae.pictures.run import write_run_pictures
from keras_ae.pictures.samples import sample_grid
from keras_ae.pictures.sequences import (generation_sequence_gif, generation_sequence_grid, has_canvas_sequence,
                                         reconstruction_sequence_grid)
from keras_ae.pictures.traversals import (has_vector_code, interpolation_grid, latent_scatter, latent_search_grid,
                                          latent_traversal, manifold_grid)

__all__ = ["class_sample_grid", "loss_curves", "feature_point_grid", "reconstruction_grid", "write_run_pictures",
           "sample_grid", "generation_sequence_gif", "generation_sequence_grid", "has_canvas_sequence",
           "reconstruction_sequence_grid", "has_vector_code", "interpolation_grid", "latent_scatter",
           "latent_search_grid", "latent_traversal", "manifold_grid"]
