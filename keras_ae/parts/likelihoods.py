"""Likelihood parts: decoder features -> ``p(x|z)``, one distribution whose event is one example.

Each wraps a head of :mod:`keras_ae.layers.heads` (the projection and the distribution are written
there once) for the model's data shape and declares what data it accepts: ``data_likelihood`` (the
name in range errors and in ``model.data_likelihood``) and ``unit_interval`` (data must lie in [0, 1]).
"""

from keras_ae import _checks
from keras_ae.layers.heads import GAUSSIAN_MEANS, GAUSSIAN_SCALES, BernoulliHead, ContinuousBernoulliHead, GaussianHead
from keras_ae.parts.base import Part, register


class Likelihood(Part):
    """Base class: ``call(features)`` is ``p(x|z)``; subclasses give ``make_head(data_shape, initializer)``."""

    kind = "likelihood"

    data_likelihood = None
    unit_interval = False

    def attach(self, model):
        super().attach(model)
        self.head = self.make_head(tuple(model.data_shape), model.kernel_initializer)

    def make_head(self, data_shape, kernel_initializer):
        raise NotImplementedError

    def call(self, h):
        return self.head(h)


@register("likelihood", "bernoulli")
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels on logits (``-log p`` is the binary cross-entropy); data in [0, 1]."""

    data_likelihood = "bernoulli"
    unit_interval = True

    def make_head(self, data_shape, kernel_initializer):
        return BernoulliHead(data_shape, kernel_initializer=kernel_initializer, name="head")


@register("likelihood", "continuous_bernoulli")
class ContinuousBernoulli(Likelihood):
    """The continuous Bernoulli (Loaiza-Ganem & Cunningham 2019): a normalized density on [0, 1] for grey levels."""

    data_likelihood = "continuous_bernoulli"
    unit_interval = True

    def make_head(self, data_shape, kernel_initializer):
        return ContinuousBernoulliHead(data_shape, kernel_initializer=kernel_initializer, name="head")


@register("likelihood", "gaussian")
class Gaussian(Likelihood):
    """Independent Gaussian pixels ``N(mu(z), sigma^2)``; any real data.

    Args:
        scale: ``"learned"`` (per example and pixel, from the features; default), ``"global"`` (one
            learned scale per pixel) or ``"fixed"``.
        fixed_scale: the scale for ``"fixed"``, > 0, default 1.0.
        min_scale: floor of a learned scale, >= 0, default 1e-2 (keeps the density bounded on
            near-constant pixels).
        mean: ``"linear"`` (default) or ``"sigmoid"`` (``mu(z)`` in (0, 1), for data in [0, 1]: the
            output of pythae's MLP decoders). Measured with ``benchmarks/peer_parity.py`` (MNIST
            subset, 784-512-16, batch 100, Adam 1e-3, 30 epochs): the WAE-MMD's summed test squared
            error was 29.61 with the linear mean against pythae's 26.17 (seeds 0 and 1).
    """

    data_likelihood = "gaussian"
    #: the arguments' defaults: the values an argument the chosen ``scale`` does not use may take.
    DEFAULTS = {"scale": "learned", "fixed_scale": 1.0, "min_scale": 1e-2}

    def __init__(self, scale="learned", fixed_scale=1.0, min_scale=1e-2, mean="linear", **kwargs):
        super().__init__(**kwargs)
        self.scale = _checks.check_choice(scale, "scale", GAUSSIAN_SCALES)
        self.mean = _checks.check_choice(mean, "mean", GAUSSIAN_MEANS)
        self.fixed_scale = _checks.check_number(fixed_scale, "fixed_scale", minimum=0, exclusive_minimum=True)
        self.min_scale = _checks.check_number(min_scale, "min_scale", minimum=0)
        given = {"fixed_scale": fixed_scale, "min_scale": min_scale}
        for name, reason in self.unused_arguments(self.scale, **given).items():
            raise ValueError(f"{name}={given[name]!r} does nothing with scale={self.scale!r}: {reason}")

    @classmethod
    def unused_arguments(cls, scale, prefix="", **given):
        """``{argument: why}`` among ``given`` (``fixed_scale``, ``min_scale``) that ``scale`` would not use
        with a value other than the default: ``fixed_scale`` is the scale of ``"fixed"``; ``min_scale``
        floors a learned one (``"learned"``, ``"global"``). ``prefix``: of the names in the reasons."""
        reasons = {"fixed_scale": f"it is the scale of {prefix}scale='fixed'",
                   "min_scale": "it floors a learned scale ('learned' or 'global'), and a fixed scale is not learned"}
        used = {"fixed_scale": scale == "fixed", "min_scale": scale != "fixed"}
        return {name: reasons[name] for name, value in given.items()
                if value is not None and not used[name] and float(value) != cls.DEFAULTS[name]}

    def arguments(self):
        return {"scale": self.scale, "fixed_scale": self.fixed_scale, "min_scale": self.min_scale, "mean": self.mean}

    def make_head(self, data_shape, kernel_initializer):
        return GaussianHead(data_shape, scale=self.scale, fixed_scale=self.fixed_scale, min_scale=self.min_scale,
                            mean=self.mean, kernel_initializer=kernel_initializer, name="head")
