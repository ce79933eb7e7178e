"""The regularized family (Ghosh et al. 2020): RAE and the constant-variance VAE with ex-post
density estimation (regularized.py) and their recipes (presets.py)."""

from keras_ae.models.regularized.regularized import RAE, ConstantVarianceVAE, DensityNotFittedError  # noqa: F401
