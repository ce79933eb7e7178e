"""The conditional and semi-supervised family: ConditionalVAE (conditional.py), M2, ADGM/SDGM and
M1M2 (semisupervised.py); their recipes (presets.py)."""

from keras_ae.models.conditional.conditional import ConditionalVAE  # noqa: F401
from keras_ae.models.conditional.semisupervised import ADGM, M1M2, M2  # noqa: F401
