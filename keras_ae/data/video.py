"""Procedural moving-objects video: small grey frames of a few objects moving smoothly, with their true positions.

No download: every sequence is drawn from its own seed, so the same seed always gives the same
frames and positions. This is the data of the deep spatial autoencoder
(:class:`keras_ae.models.DeepSpatialAutoencoder`, Finn et al. 2016), whose feature points should
track the objects, and of its metric (:func:`keras_ae.evaluation.feature_points.position_r2`: how well a
linear map of the feature points predicts the true positions).

**The scene.** A ``32 x 32`` black frame holds ``num_objects`` objects (default 3), each with its
own shape and brightness so that they can be told apart: a square of brightness 1.0, a disc of
0.75 and a diamond of 0.5 (half-size ``object_radius`` = 3 pixels, edges anti-aliased: a pixel is
covered by ``clip(0.5 + radius - distance, 0, 1)``, the distance measured from the pixel centre
in the shape's own norm, max for the square, Euclidean for the disc, ``|dx| + |dy|`` for the
diamond). Where objects overlap the brighter one is drawn (a pixel is the maximum over objects).
Optional pixel noise: ``noise`` is the standard deviation of Gaussian noise added to every
pixel (then clipped to [0, 1]); default 0.

**The motion.** Each object starts at a uniform position (kept ``object_radius`` pixels from
every edge) with a uniform direction and a speed in ``speed`` (default 0.7 to 1.5 pixels per
frame). Every frame its velocity gets a random acceleration ``N(0, acceleration^2)`` per axis
(default 0.15 pixels per frame squared), its speed is clipped back into ``speed``, and it moves by
the velocity; an object that would cross an edge bounces (its position is reflected and that
velocity component flips). Velocities therefore change smoothly except at the bounces.

**Positions** are the objects' centres in the coordinates of :class:`keras_ae.layers.SpatialSoftmax`:
``x`` along the columns and ``y`` along the rows, each in [-1, 1], with pixel column ``j`` at
``x = -1 + 2 j / (W - 1)`` (so -1 and 1 are the centres of the first and last pixels):
``positions[..., k, :] = (x_k, y_k)``.

**Datasets** (registered in :mod:`keras_ae.data.registry`):

- ``moving-objects``: 512 training and 128 test sequences of 16 frames (8,192 and 2,048 frames),
  split by sequence: test sequence ``i`` is drawn from the seed ``(0, i)``, training sequence ``i``
  from ``(1, i)``, so no frame of a test sequence is ever trained on. ``load_arrays`` gives the
  frames of a split as one array ``[S * 16, 32, 32, 1]`` (sequence after sequence; the label is
  -1); ``load_sequences`` gives them as ``[S, 16, 32, 32, 1]`` with the positions ``[S, 16, 3, 2]``.

:func:`frame_windows` and :func:`window_pipeline` turn sequences into consecutive-frame triples
``{"x_prev", "x", "x_next"}`` (frames ``t - 1``, ``t``, ``t + 1``), the batches of a model that
needs neighbouring frames (the slowness term of the deep spatial autoencoder).
"""

import functools
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_ae import _checks
from keras_ae.data.registry import DatasetSpec, register

__all__ = ["MovingObjects", "VideoSplit", "MOVING_OBJECTS_NAME", "NEIGHBOUR_KEYS", "frame_windows",
           "window_pipeline", "pixel_to_unit", "unit_to_pixel"]

MOVING_OBJECTS_NAME = "moving-objects"
#: the batch entries besides ``x`` of a consecutive-frame triple: the frames before and after ``x``.
NEIGHBOUR_KEYS = ("x_prev", "x_next")
_TRAIN_SEQUENCES = 512
_TEST_SEQUENCES = 128
_SPLIT_STREAMS = {"test": 0, "train": 1}
#: brightness and shape of each object, in order; ``num_objects`` takes the first ones.
_OBJECTS = ((1.0, "square"), (0.75, "disc"), (0.5, "diamond"), (0.9, "disc"), (0.6, "square"), (0.4, "disc"))
_CHUNK = 1024  # frames rendered at once


class VideoSplit(NamedTuple):
    """One split of a video dataset.

    Attributes:
        frames: float32 ``[S, T, H, W, 1]`` in [0, 1].
        positions: float32 ``[S, T, K, 2]``: object ``k``'s centre ``(x, y)`` in [-1, 1] (see the module docstring).
    """

    frames: np.ndarray
    positions: np.ndarray


def pixel_to_unit(pixels, size):
    """Pixel-index coordinates (0 .. size - 1, pixel centres) -> [-1, 1]."""
    return -1.0 + 2.0 * np.asarray(pixels, np.float64) / (size - 1)


def unit_to_pixel(units, size):
    """[-1, 1] -> pixel-index coordinates (0 .. size - 1); inverse of :func:`pixel_to_unit`."""
    return (np.asarray(units, np.float64) + 1.0) * (size - 1) / 2.0


class MovingObjects:
    """A generator of moving-objects sequences (see the module docstring for the scene and the motion).

    Args:
        image_size: frame height and width in pixels, >= 8; default 32.
        num_objects: objects per frame, 1 to 6; default 3.
        sequence_length: frames per sequence, >= 3; default 16.
        object_radius: half-size of every object in pixels, default 3.
        speed: ``(minimum, maximum)`` speed in pixels per frame, default ``(0.7, 1.5)``.
        acceleration: standard deviation of the per-frame random acceleration per axis, default 0.15.
        noise: standard deviation of the pixel noise, default 0 (none).

    Example:
        >>> video = MovingObjects()
        >>> frames, positions = video.sequence(seed=(0, 7))
        >>> frames.shape, positions.shape
        ((16, 32, 32, 1), (16, 3, 2))
    """

    def __init__(self, image_size=32, num_objects=3, sequence_length=16, object_radius=3.0, speed=(0.7, 1.5),
                 acceleration=0.15, noise=0.0):
        self.image_size = _checks.check_integer(image_size, "image_size", minimum=8)
        self.num_objects = _checks.check_integer(num_objects, "num_objects", minimum=1, maximum=len(_OBJECTS))
        self.sequence_length = _checks.check_integer(sequence_length, "sequence_length", minimum=3)
        self.object_radius = _checks.check_number(object_radius, "object_radius", minimum=0.5,
                                                  maximum=self.image_size / 4)
        if not isinstance(speed, (tuple, list)) or len(speed) != 2:
            raise ValueError(f"speed must be (minimum, maximum) pixels per frame, got {speed!r}")
        low = _checks.check_number(speed[0], "speed minimum", minimum=0)
        high = _checks.check_number(speed[1], "speed maximum", minimum=low)
        self.speed = (low, high)
        self.acceleration = _checks.check_number(acceleration, "acceleration", minimum=0)
        self.noise = _checks.check_number(noise, "noise", minimum=0)
        self.brightness = np.array([b for b, _ in _OBJECTS[:self.num_objects]], np.float32)
        self.shapes = tuple(s for _, s in _OBJECTS[:self.num_objects])

    @property
    def frame_shape(self):
        """``(H, W, 1)``."""
        return (self.image_size, self.image_size, 1)

    # -- motion ----------------------------------------------------------------------------------
    def trajectory(self, seed):
        """The objects' centres over one sequence from ``seed``: float64 ``[T, K, 2]`` in pixel coordinates.

        ``seed`` is anything ``numpy.random.default_rng`` takes (an int or a tuple of ints).
        """
        rng = np.random.default_rng(seed)
        k, low, high = self.num_objects, self.object_radius, self.image_size - 1 - self.object_radius
        position = rng.uniform(low, high, size=(k, 2))
        angle = rng.uniform(0.0, 2.0 * np.pi, size=k)
        velocity = rng.uniform(*self.speed, size=(k, 1)) * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        path = np.empty((self.sequence_length, k, 2))
        path[0] = position
        for t in range(1, self.sequence_length):
            velocity = velocity + self.acceleration * rng.standard_normal((k, 2))
            norm = np.linalg.norm(velocity, axis=1, keepdims=True)
            velocity = velocity * np.clip(norm, *self.speed) / np.maximum(norm, 1e-12)
            position = position + velocity
            below, above = position < low, position > high
            position = np.where(below, 2 * low - position, np.where(above, 2 * high - position, position))
            velocity = np.where(below | above, -velocity, velocity)
            path[t] = position
        return path

    def sequence(self, seed):
        """``(frames [T, H, W, 1], positions [T, K, 2])`` of one sequence from ``seed`` (positions in [-1, 1])."""
        path = self.trajectory(seed)
        frames = self.render_pixels(path)
        if self.noise > 0:
            noise_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
            frames = np.clip(frames + self.noise * noise_rng.standard_normal(frames.shape), 0.0, 1.0)
        return frames.astype(np.float32), pixel_to_unit(path, self.image_size).astype(np.float32)

    def sequences(self, seeds):
        """A :class:`VideoSplit` of one sequence per seed: frames ``[S, T, H, W, 1]``, positions ``[S, T, K, 2]``."""
        parts = [self.sequence(seed) for seed in seeds]
        t, shape = self.sequence_length, self.frame_shape
        frames = np.stack([p[0] for p in parts]) if parts else np.zeros((0, t) + shape, np.float32)
        positions = np.stack([p[1] for p in parts]) if parts else np.zeros((0, t, self.num_objects, 2), np.float32)
        return VideoSplit(frames, positions)

    # -- rendering -------------------------------------------------------------------------------
    def render(self, positions):
        """Frames of objects at ``positions`` ``[..., K, 2]`` in [-1, 1]: float32 ``[..., H, W, 1]`` (no noise)."""
        positions = np.asarray(positions, np.float64)
        if positions.ndim < 2 or positions.shape[-2:] != (self.num_objects, 2):
            raise ValueError(f"positions must have shape [..., {self.num_objects}, 2], got {positions.shape}")
        return self.render_pixels(unit_to_pixel(positions, self.image_size))

    def render_pixels(self, centres):
        """Frames of objects centred at ``centres`` ``[..., K, 2]`` in pixel coordinates: float32 ``[..., H, W, 1]``."""
        centres = np.asarray(centres, np.float64)
        lead = centres.shape[:-2]
        flat = centres.reshape((-1, self.num_objects, 2))
        out = np.zeros((len(flat), self.image_size, self.image_size), np.float32)
        grid = np.arange(self.image_size, dtype=np.float32)
        for start in range(0, len(flat), _CHUNK):
            chunk = flat[start:start + _CHUNK].astype(np.float32)
            frame = out[start:start + _CHUNK]
            for k, shape in enumerate(self.shapes):
                dx = np.abs(grid[None, None, :] - chunk[:, k, 0, None, None])  # [n, 1, W]
                dy = np.abs(grid[None, :, None] - chunk[:, k, 1, None, None])  # [n, H, 1]
                if shape == "square":
                    distance = np.maximum(dx, dy)
                elif shape == "disc":
                    distance = np.sqrt(dx * dx + dy * dy)
                else:  # diamond
                    distance = dx + dy
                coverage = np.clip(0.5 + self.object_radius - distance, 0.0, 1.0)
                np.maximum(frame, self.brightness[k] * coverage, out=frame)
        return out.reshape(lead + (self.image_size, self.image_size, 1))


# -- consecutive-frame windows -----------------------------------------------------------------
def _check_frames(frames):
    frames = np.asarray(frames)
    if frames.ndim != 5 or frames.shape[1] < 3:
        raise ValueError(f"frames must be sequences [S, T, H, W, C] with T >= 3, got shape {frames.shape}")
    return frames.astype(np.float32, copy=False)


def window_indices(num_sequences, sequence_length):
    """``(s, t)`` int32 ``[S * (T - 2), 2]`` of every frame that has a frame before and after it."""
    s, t = np.meshgrid(np.arange(num_sequences), np.arange(1, sequence_length - 1), indexing="ij")
    return np.stack([s.ravel(), t.ravel()], axis=1).astype(np.int32)


def frame_windows(frames, positions=None):
    """Every consecutive-frame triple of the sequences as arrays.

    Args:
        frames: ``[S, T, H, W, C]`` with ``T >= 3``.
        positions: optional ``[S, T, ...]`` (e.g. the true object positions).

    Returns:
        ``{"x_prev", "x", "x_next"}`` each ``[S * (T - 2), H, W, C]`` (frames ``t - 1``, ``t``,
        ``t + 1`` for ``t = 1 .. T - 2`` of every sequence in order), plus ``"positions"`` of the
        middle frames when given.
    """
    frames = _check_frames(frames)
    index = window_indices(frames.shape[0], frames.shape[1])
    s, t = index[:, 0], index[:, 1]
    out = {"x_prev": frames[s, t - 1], "x": frames[s, t], "x_next": frames[s, t + 1]}
    if positions is not None:
        out["positions"] = np.asarray(positions)[s, t]
    return out


def window_pipeline(frames, batch_size, shuffle=True, seed=0, drop_remainder=False):
    """Batches of consecutive-frame triples ``{"x_prev", "x", "x_next"}`` for ``model.fit``.

    The frames stay in memory once; the triples are gathered per batch, so memory does not triple.
    Shuffled (reshuffled every epoch, seeded) over every ``(sequence, t)`` with ``1 <= t <= T - 2``.

    Args:
        frames: ``[S, T, H, W, C]`` float in [0, 1], ``T >= 3``.
        batch_size: triples per batch (the global batch under ``tf.distribute``).
        shuffle: shuffle the triples (default True); False gives them in :func:`frame_windows`'s order.
        seed: seed of the shuffle.
        drop_remainder: drop the last incomplete batch.

    Returns:
        a ``tf.data.Dataset`` of ``{"x_prev", "x", "x_next"}``, each float32 ``[B, H, W, C]``.
    """
    frames = _check_frames(frames)
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    index = window_indices(frames.shape[0], frames.shape[1])
    flat = tf.constant(frames.reshape((-1,) + frames.shape[2:]))
    length = frames.shape[1]
    ds = tf.data.Dataset.from_tensor_slices(index[:, 0] * length + index[:, 1])
    if shuffle:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def gather(i):
        return {"x_prev": tf.gather(flat, i - 1), "x": tf.gather(flat, i), "x_next": tf.gather(flat, i + 1)}

    return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# -- the registered dataset ----------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _generator():
    return MovingObjects()


@functools.lru_cache(maxsize=2)
def _split(split):
    count = _TRAIN_SEQUENCES if split == "train" else _TEST_SEQUENCES
    return _generator().sequences([(_SPLIT_STREAMS[split], i) for i in range(count)])


def load_video_sequences(name, split):
    """A :class:`VideoSplit` of ``moving-objects`` (copies: the caller may change them)."""
    video = _split(split)
    return VideoSplit(video.frames.copy(), video.positions.copy())


def load_video_arrays(name, split):
    """``(x, y)`` of one split: the frames ``[S * T, 32, 32, 1]`` sequence after sequence, labels -1."""
    frames = _split(split).frames
    x = frames.reshape((-1,) + frames.shape[2:]).copy()
    return x, np.full((len(x),), -1, np.int64)


MOVING_OBJECTS = register(DatasetSpec(
    name=MOVING_OBJECTS_NAME,
    source="procedural",
    splits=("train", "test"),
    shape=(32, 32, 1),
    has_labels=False,
    load_arrays=load_video_arrays,
    load_sequences=load_video_sequences,
))
