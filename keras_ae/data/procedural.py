"""Procedural dSprites: the 737,280 dSprites images rendered on demand, with their ground-truth factors.

dSprites (Matthey et al. 2017) holds one 64x64 binary image of a white sprite on black for every
combination of five factors (colour is always white):

=========== ====== ============================================ ==================================
factor      values value (as in dSprites' ``latents_values``)  how it is drawn here
=========== ====== ============================================ ==================================
shape       3      1 square, 2 ellipse, 3 heart                 ``max(|u|, |v|) <= 1``;
                                                                ``u^2 + (2v)^2 <= 1``; the heart
                                                                curve ``(x^2+y^2-1)^3 <= x^2 y^3``
scale       6      ``linspace(0.5, 1, 6)``                      the sprite's half-size is
                                                                ``10 * scale`` pixels
orientation 40     ``linspace(0, 2 pi, 40)`` (0 and 2 pi both   rotated counter-clockwise by the
                   present, as in dSprites)                     angle
position x  32     ``linspace(0, 1, 32)``                       centre column ``16 + 32 x``
position y  32     ``linspace(0, 1, 32)``                       centre row ``16 + 32 y``
=========== ====== ============================================ ==================================

``3 * 6 * 40 * 32 * 32 = 737,280`` combinations, each addressed by an index in dSprites' order
(position y varies fastest, then position x, orientation, scale, shape). A pixel is 1 when its
centre lies inside the sprite, so images are exactly 0 or 1 and the same index always gives the
same image. Even the largest sprite rotated by 45 degrees stays inside the frame at every
position, so one position step (32/31 pixels) always moves it. The square is symmetric under
quarter turns (as in dSprites), so some orientations of it give equal images.

This is not the dSprites file: the sprites are drawn with the formulas above, not DeepMind's
renderer, so pixel values differ from the TFDS ``dsprites`` images; the factors, their values and
their order are dSprites'.

:class:`ProceduralDSprites` is the ground-truth interface the disentanglement metrics use
(disentanglement_lib's ``GroundTruthData``): ``factor_sizes``, ``sample_factors(n, rng)`` and
``sample_observations_from_factors(factors, rng)``. Rendering is vectorised numpy over a 32x32
window around each sprite: 20,000 images in 3.5 s on this project's shared 2-core machine.

Dataset names (registered in :mod:`keras_ae.data.registry`):

- ``dsprites-procedural``: train 32,768 and test 2,048 distinct combinations drawn without
  replacement from a fixed permutation (seed 0) of all 737,280; the label is the shape (0 square,
  1 ellipse, 2 heart).
- ``dsprites-procedural:N``: the same test split and a train split of ``N`` combinations
  (``1 <= N <= 735,232``); ``dsprites-procedural:32768`` equals ``dsprites-procedural``.
"""

import dataclasses
import functools

import numpy as np

from keras_ae import _checks
from keras_ae.data.registry import DatasetSpec, UnknownDatasetError, register

__all__ = ["ProceduralDSprites", "PROCEDURAL_NAME", "ground_truth_data", "split_indices"]

PROCEDURAL_NAME = "dsprites-procedural"
_TRAIN_SIZE = 32768
_TEST_SIZE = 2048
_SPLIT_SEED = 0
_IMAGE_SIZE = 64
_MAX_HALF_SIZE = 10.0  # pixels, at scale 1
_CENTRE_LOW, _CENTRE_HIGH = 16.0, 48.0  # pixel coordinates of positions 0 and 1
_WINDOW = 32  # pixels drawn around each sprite's centre
_CHUNK = 512  # images rendered at once: the float32 work arrays (2 MB each) stay in cache


def _as_rng(rng):
    """A ``numpy.random.Generator`` from a Generator, a ``RandomState`` or an int seed."""
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    return np.random.default_rng(_checks.check_seed(rng, "rng"))


class ProceduralDSprites:
    """The dSprites factor space and a vectorised renderer of its images (see the module docstring).

    Factors are integer class indices, one column per factor in :attr:`FACTOR_NAMES` order; their
    values (scale 0.5..1, orientation 0..2 pi, positions 0..1) are :attr:`factor_values`.

    Example:
        >>> data = ProceduralDSprites()
        >>> data.num_combinations
        737280
        >>> factors = data.sample_factors(4, rng=0)
        >>> data.sample_observations_from_factors(factors, rng=0).shape
        (4, 64, 64, 1)
    """

    FACTOR_NAMES = ("shape", "scale", "orientation", "position_x", "position_y")
    SHAPE_NAMES = ("square", "ellipse", "heart")

    def __init__(self):
        self.factor_sizes = (3, 6, 40, 32, 32)
        self.factor_values = (
            np.arange(1.0, 4.0),
            np.linspace(0.5, 1.0, 6),
            np.linspace(0.0, 2.0 * np.pi, 40),
            np.linspace(0.0, 1.0, 32),
            np.linspace(0.0, 1.0, 32),
        )
        self.observation_shape = (_IMAGE_SIZE, _IMAGE_SIZE, 1)
        # index = sum(factor[i] * stride[i]); the last factor (position y) varies fastest.
        self._strides = np.cumprod((1,) + self.factor_sizes[:0:-1])[::-1].astype(np.int64)

    @property
    def num_factors(self):
        """The number of factors, 5."""
        return len(self.factor_sizes)

    @property
    def num_combinations(self):
        """The number of factor combinations (= images), 737,280."""
        return int(np.prod(self.factor_sizes))

    # -- indices and factors -------------------------------------------------------------------
    def check_factors(self, factors):
        """Return ``factors`` as int64 ``[n, 5]``, else ``ValueError`` naming the bad column."""
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != self.num_factors:
            raise ValueError(f"factors must have shape [n, {self.num_factors}] (columns {', '.join(self.FACTOR_NAMES)}),"
                             f" got {factors.shape}")
        if factors.size and not np.issubdtype(factors.dtype, np.integer):
            if not np.all(np.equal(np.mod(factors, 1), 0)):
                raise ValueError("factors must be integer class indices, got non-integer values")
        factors = factors.astype(np.int64)
        for i, (name, size) in enumerate(zip(self.FACTOR_NAMES, self.factor_sizes)):
            column = factors[:, i]
            if column.size and (column.min() < 0 or column.max() >= size):
                raise ValueError(f"factor {name} (column {i}) must lie in 0..{size - 1}, "
                                 f"got {column.min()}..{column.max()}")
        return factors

    def check_indices(self, indices):
        """Return ``indices`` as int64 ``[n]``, else ``ValueError`` if one lies outside 0..737,279."""
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"indices must be integers, got dtype {indices.dtype}")
        indices = indices.astype(np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_combinations):
            raise ValueError(f"indices must lie in 0..{self.num_combinations - 1}, "
                             f"got {indices.min()}..{indices.max()}")
        return indices

    def index_to_factors(self, indices):
        """Factor class indices ``[n, 5]`` of combination ``indices`` (dSprites' order)."""
        indices = self.check_indices(indices)
        return (indices[:, None] // self._strides[None, :]) % np.asarray(self.factor_sizes, np.int64)[None, :]

    def factors_to_index(self, factors):
        """The combination indices ``[n]`` of factor class indices ``[n, 5]``; inverse of :meth:`index_to_factors`."""
        return self.check_factors(factors) @ self._strides

    def factor_values_of(self, factors):
        """The factor values ``[n, 5]`` (float64) of factor class indices ``[n, 5]``."""
        factors = self.check_factors(factors)
        return np.stack([values[factors[:, i]] for i, values in enumerate(self.factor_values)], axis=1)

    # -- the ground-truth interface ------------------------------------------------------------
    def sample_factors(self, num, rng):
        """``num`` factor combinations drawn uniformly and independently, int64 ``[num, 5]``.

        Args:
            num: how many (>= 0).
            rng: a ``numpy.random.Generator``, ``RandomState`` or int seed.
        """
        num = _checks.check_integer(num, "num", minimum=0)
        rng = _as_rng(rng)
        if isinstance(rng, np.random.RandomState):
            columns = [rng.randint(size, size=num) for size in self.factor_sizes]
        else:
            columns = [rng.integers(size, size=num) for size in self.factor_sizes]
        return np.stack(columns, axis=1).astype(np.int64).reshape(num, self.num_factors)

    def sample_observations_from_factors(self, factors, rng=None):
        """The images of ``factors``: float32 ``[n, 64, 64, 1]``, pixels exactly 0 or 1.

        The images are a deterministic function of the factors; ``rng`` is accepted (and unused)
        so that this matches the interface of datasets whose observations are noisy.
        """
        del rng
        return self.render(factors)

    def sample(self, num, rng):
        """``(factors, images)`` of ``num`` uniformly drawn combinations."""
        factors = self.sample_factors(num, rng)
        return factors, self.render(factors)

    def images(self, indices):
        """The images of combination ``indices``: float32 ``[n, 64, 64, 1]``."""
        return self.render(self.index_to_factors(indices))

    # -- rendering -------------------------------------------------------------------------------
    def render(self, factors):
        """Render factor class indices ``[n, 5]`` to float32 ``[n, 64, 64, 1]`` binary images."""
        factors = self.check_factors(factors)
        out = np.zeros((len(factors), _IMAGE_SIZE, _IMAGE_SIZE), np.float32)
        for start in range(0, len(factors), _CHUNK):
            self._render_chunk(factors[start:start + _CHUNK], out[start:start + _CHUNK])
        return out[..., None]

    def _render_chunk(self, factors, out):
        """Draw one chunk of checked factors into ``out`` ``[n, 64, 64]`` (zeros).

        Only a 32x32 window around each sprite's centre is computed: the largest sprite reaches
        at most ``10 * sqrt(2) < 15.5`` pixels from its centre.
        """
        half = _MAX_HALF_SIZE * self.factor_values[1][factors[:, 1]]
        angle = self.factor_values[2][factors[:, 2]]
        cx = _CENTRE_LOW + (_CENTRE_HIGH - _CENTRE_LOW) * self.factor_values[3][factors[:, 3]]
        cy = _CENTRE_LOW + (_CENTRE_HIGH - _CENTRE_LOW) * self.factor_values[4][factors[:, 4]]
        offsets = np.arange(_WINDOW)
        rows = np.round(cy).astype(np.int64)[:, None] - _WINDOW // 2 + offsets  # [n, 32] pixel rows
        cols = np.round(cx).astype(np.int64)[:, None] - _WINDOW // 2 + offsets
        f32 = np.float32
        dx = (cols + 0.5 - cx[:, None]).astype(f32)[:, None, :]  # [n, 1, 32], pixel centres minus the centre
        dy = (cy[:, None] - rows - 0.5).astype(f32)[:, :, None]  # [n, 32, 1]; y points up
        cos, sin = np.cos(angle).astype(f32)[:, None, None], np.sin(angle).astype(f32)[:, None, None]
        inv = (1.0 / half).astype(f32)[:, None, None]
        # Rotate the pixel offsets by -angle into the sprite's frame, in units of its half-size.
        u = (cos * dx + sin * dy) * inv
        v = (cos * dy - sin * dx) * inv
        shape = factors[:, 0][:, None, None]
        square = np.maximum(np.abs(u), np.abs(v)) <= 1.0
        ellipse = u * u + f32(4.0) * v * v <= 1.0
        # The heart curve spans x in [-1.14, 1.14], y in [-1, 1.24]: scaled by 1.1 and centred.
        hx, hy = f32(1.1) * u, f32(1.1) * v + f32(0.12)
        hx2, r = hx * hx, hx * hx + hy * hy - 1.0
        heart = r * r * r <= hx2 * hy * hy * hy  # products: numpy's ** 3 is slow on negative bases
        mask = np.where(shape == 0, square, np.where(shape == 1, ellipse, heart))
        n = np.arange(len(factors))[:, None, None]
        out[n, rows[:, :, None], cols[:, None, :]] = mask


@functools.lru_cache(maxsize=1)
def _shared_data():
    return ProceduralDSprites()


def ground_truth_data(name=PROCEDURAL_NAME):
    """The :class:`ProceduralDSprites` factor space of a ``dsprites-procedural[:N]`` dataset name."""
    return _shared_data()


@functools.lru_cache(maxsize=1)
def _permutation():
    """A fixed permutation of all 737,280 combination indices (seed 0): the test split, then train."""
    return np.random.default_rng(_SPLIT_SEED).permutation(ProceduralDSprites().num_combinations)


def _train_size(name):
    """The train size a ``dsprites-procedural[:N]`` name asks for, or :class:`UnknownDatasetError`."""
    if name == PROCEDURAL_NAME:
        return _TRAIN_SIZE
    text = name[len(PROCEDURAL_NAME) + 1:]
    most = ProceduralDSprites().num_combinations - _TEST_SIZE
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise UnknownDatasetError(f"dataset {name!r}: write {PROCEDURAL_NAME}:N with N train examples, "
                                  f"1 <= N <= {most}")
    return int(text)


def split_indices(name, split):
    """The combination indices of one split of ``dsprites-procedural[:N]`` (disjoint test and train)."""
    permutation = _permutation()
    if split == "test":
        return permutation[:_TEST_SIZE]
    return permutation[_TEST_SIZE:_TEST_SIZE + _train_size(name)]


def load_procedural_arrays(name, split):
    """``(x, y)`` of one split: float32 ``[N, 64, 64, 1]`` in {0, 1}, int64 shape labels ``[N]``."""
    data = ground_truth_data()
    factors = data.index_to_factors(split_indices(name, split))
    return data.render(factors), factors[:, 0].copy()


DSPRITES_PROCEDURAL = register(DatasetSpec(
    name=PROCEDURAL_NAME,
    source="procedural",
    splits=("train", "test"),
    shape=(_IMAGE_SIZE, _IMAGE_SIZE, 1),
    has_labels=True,
    load_arrays=load_procedural_arrays,
    ground_truth=ground_truth_data,
))

# The same data with a train split of N: every field but the name rule is the plain name's.
DSPRITES_PROCEDURAL_SIZED = register(dataclasses.replace(
    DSPRITES_PROCEDURAL,
    name=PROCEDURAL_NAME + ":",
    check_name=_train_size,
    usage=f"{PROCEDURAL_NAME}:N for N procedural dSprites train images",
))
