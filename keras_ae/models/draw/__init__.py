"""DRAW, recurrent attentive writing on a canvas (draw.py); its recipes (presets.py)."""

from keras_ae.models.draw.draw import DRAW  # noqa: F401
