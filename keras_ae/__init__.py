"""keras-ae: a model zoo of autoencoders for Keras 3, TensorFlow Probability and TF Serving.

Every model is a Keras 3 subclassed model (TensorFlow backend) with the contract of
:class:`keras_ae.models.base.BaseAutoencoder`: ``encode``, ``decode``, ``reconstruct``,
``score`` and per-example ``loss_terms`` trained by plain ``model.fit``.
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras as _keras  # noqa: E402

if _keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras_ae needs the TensorFlow backend of Keras 3, but keras.backend.backend() is "
        f"{_keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before importing keras"
    )

__version__ = "0.1.0"

from keras_ae import layers, models, objectives  # noqa: E402,F401
from keras_ae.models import *  # noqa: E402,F401,F403
