"""scikit-learn's bundled ``digits`` (offline): the default dataset, 8x8 grey images.

1797 images with their digit labels, split once and for all into train 1437 and test 360 by a
stratified ``train_test_split(test_size=0.2, random_state=0)``; the pixel values 0..16 are
divided by 16.
"""

import functools

import numpy as np

from keras_ae.data.registry import DatasetSpec, register

_DIGITS_TEST_SIZE = 0.2
_DIGITS_SPLIT_SEED = 0


@functools.lru_cache(maxsize=1)
def _digits_split():
    """Return ``{"train": (x, y), "test": (x, y)}``, read and split once per process."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]  # [N, 8, 8] -> [N, 8, 8, 1]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=_DIGITS_TEST_SIZE, random_state=_DIGITS_SPLIT_SEED, stratify=y
    )
    return {"train": (x_train, y_train), "test": (x_test, y_test)}


def load_digits_arrays(name, split):
    """Return copies of ``(x, y)`` of one split: float32 ``[N, 8, 8, 1]`` in [0, 1], int64 ``[N]``."""
    x, y = _digits_split()[split]
    return x.copy(), y.copy()


DIGITS = register(DatasetSpec(
    name="digits",
    source="digits",
    splits=("train", "test"),
    shape=(8, 8, 1),
    has_labels=True,
    load_arrays=load_digits_arrays,
))
