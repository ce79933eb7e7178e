"""Named datasets -> ``tf.data`` pipelines of float32 images in [0, 1].

Every dataset is addressed by a name (see :data:`DATASET_NAMES`) or ``npz:PATH`` for your own
arrays. :func:`load_dataset` gives unbatched ``(x, y)`` elements, ``x`` float32 ``[H, W, C]`` in
[0, 1] and ``y`` an int64 label (``-1`` where the dataset has none); :func:`load_arrays` gives the
same as numpy arrays; :func:`training_pipeline` and :func:`evaluation_pipeline` turn either into
batches of ``x`` only, ready for ``model.fit``.

Datasets, their example shapes and splits (sizes of the real data):

============== ============= ===================================================================
name           shape         splits
============== ============= ===================================================================
digits         (8, 8, 1)     train 1437, test 360: scikit-learn's bundled digits (offline), a
                             fixed stratified split (``test_size=0.2, random_state=0``); the
                             pixel values 0..16 are divided by 16.
mnist          (28, 28, 1)   train 60000, test 10000
fashion_mnist  (28, 28, 1)   train 60000, test 10000
binarized_mnist (28, 28, 1)  train 50000, validation 10000, test 10000 (Larochelle & Murray's
                             fixed binarization; pixels are exactly 0 or 1), label -1.
cifar10        (32, 32, 3)   train 50000, test 10000
omniglot       (28, 28, 1)   train 19280, test 13180, small1 2720, small2 3120: TFDS stores the
                             105x105 scans as RGB; we take one channel, invert it so that ink is
                             1 on a 0 background (the MNIST convention, as in Burda et al.'s
                             IWAE benchmark) and resize to 28x28 (``image_size=105`` keeps the
                             native size). The label is the character class (0..1622).
dsprites       (64, 64, 1)   TFDS has only ``train`` (737280 images, ordered by the latent
                             factors). We hold out every 7th image in TFDS order
                             (``index % 7 == 0``): test 105326, train 631954. 7 is coprime with
                             every latent factor's size, so the held-out images cover every
                             shape, scale, orientation and position evenly. Pixels are 0 or 1;
                             the label is the shape (0 square, 1 ellipse, 2 heart).
celeb_a        (64, 64, 3)   train 162770, validation 19867, test 19962: the aligned 218x178
                             faces, centre-cropped to 178x178 and resized to ``image_size``
                             (default 64); label -1.
dsprites-procedural (64, 64, 1) train 32768, test 2048 distinct combinations of dSprites' factors,
                             rendered without a download by :mod:`~keras_ae.data.procedural`
                             (``dsprites-procedural:N``: a train split of N); pixels are 0 or 1,
                             the label is the shape; the ground-truth factors are there for the
                             disentanglement metrics.
moving-objects (32, 32, 1)   train 512, test 128 sequences of 16 frames (8192 / 2048 frames) of
                             three objects moving smoothly and bouncing off the walls, rendered
                             without a download by :mod:`~keras_ae.data.video`; split by
                             sequence; label -1; the true object positions and the sequences
                             (consecutive-frame triples) come from the spec's ``load_sequences``.
npz:PATH       from the file ``train`` / ``test`` from the arrays ``x_train`` / ``x_test`` (required)
                             and ``y_train`` / ``y_test`` (optional, else -1). uint8 is divided
                             by 255; float (or bool) must already lie in [0, 1]. ``[N, H, W]``
                             gets a channel axis; ``[N, D]`` vectors give examples of shape
                             ``(D,)``.
============== ============= ===================================================================

``image_size=S`` (any image dataset) centre-crops a non-square image to a square and resizes it
to ``S x S`` with antialiased bilinear interpolation.

TFDS datasets are read with ``tfds.load`` (downloaded on first use into ``data_dir``, default
``~/tensorflow_datasets``); tests use ``tfds.testing.mock_data``.

Layout: :mod:`~keras_ae.data.registry` holds one :class:`DatasetSpec` per name (or name family,
``npz:``); each source module registers its specs when imported: :mod:`~keras_ae.data.digits`,
:mod:`~keras_ae.data.tfds`, :mod:`~keras_ae.data.npz`, :mod:`~keras_ae.data.procedural`, :mod:`~keras_ae.data.video`.
:mod:`~keras_ae.data.loading` loads any
registered name; :mod:`~keras_ae.data.pipelines` turns arrays or datasets into batches. A new
source is a module that calls :func:`register`; nothing else changes.
"""

# The source modules register their specs on import; digits first, the default and first name.
from keras_ae.data import digits, tfds, npz, procedural, video  # noqa: E402,F401,I001
from keras_ae.data import loading, pipelines, registry
from keras_ae.data import semisupervised  # noqa: F401  (labelled/unlabelled splits, mixed batches)
from keras_ae.data.loading import load_arrays, load_dataset
from keras_ae.data.npz import NPZ_PREFIX
from keras_ae.data.pipelines import BINARIZE_MODES, binarize_static, evaluation_pipeline, training_pipeline
from keras_ae.data.registry import (
    DatasetSpec,
    DatasetUnavailableError,
    UnknownDatasetError,
    check_dataset_name,
    check_split,
    dataset_names,
    dataset_shape,
    dataset_spec,
    dataset_splits,
    register,
)

#: The dataset names registered by keras_ae itself (``npz:PATH`` is accepted too);
#: :func:`dataset_names` also lists names registered later.
DATASET_NAMES = dataset_names()

__all__ = ["DATASET_NAMES", "NPZ_PREFIX", *registry.__all__, *loading.__all__, *pipelines.__all__]
