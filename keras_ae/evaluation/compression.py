"""Lossless compression of binary images by bits-back ANS through a trained VAE (Townsend et al. 2019).

BB-ANS ("Practical lossless compression with latent variables using bits back coding") codes an
image ``x`` on an ANS stack (the maintained ``constriction`` library) in three moves:

1. *decode* a latent ``z`` from the stack with the posterior ``q(z|x)`` (this takes bits off:
   the "bits back");
2. *encode* ``x`` with the likelihood ``p(x|z)``;
3. *encode* ``z`` with the prior ``p(z)``.

The net cost of one image is ``-log2 p(x|z) - log2 p(z) + log2 q(z|x)`` bits, whose expectation
is the negative ELBO in bits. Decompression runs the moves backwards and returns every bit it
took, so the stack ends as it began. The first image needs bits on the stack to decode its latent
from: the coder starts from ``initial_words`` 32-bit words of seeded random bits, a fixed cost
that :func:`compress` reports separately and that amortizes over a long sequence.

Latents are discretized as in the paper: each dimension into ``2**latent_bits`` buckets of equal
mass under the standard normal prior, so the prior over buckets is uniform (``latent_bits`` bits
per dimension) and the posterior's bucket probabilities are differences of its normal CDF at the
bucket edges; the decoder sees each bucket's centre (its prior median).

This coder computes its probabilities in float through the Keras model, so both ends must run the
same model in the same runtime. For a sender and a receiver on different runtimes (a SavedModel
on a server, a TFLite file on a phone) use :mod:`keras_ae.evaluation.integer_coder`, whose
integer networks and tables give both the same probabilities by construction.
"""

from typing import NamedTuple

import constriction
import numpy as np
import tensorflow as tf
from scipy import special

from keras_ae import _checks
from keras_ae.training.atomic import atomic_file


#: 2**12 buckets per latent dimension: bucket widths near the prior's centre of ~6e-4 standard
#: deviations, far below the posterior scales of a trained VAE (~0.05-1), so discretization costs
#: well under 1% of the rate (the precision Townsend et al. use).
LATENT_BITS = 12
#: 32-bit words of clean random bits the stack starts with, enough to decode the first latent.
INITIAL_WORDS = 64


class Compressed(NamedTuple):
    """A compressed batch: the ANS words and what decompression needs to know besides the model."""

    words: np.ndarray          # uint32
    num_images: int
    image_shape: tuple
    initial_words: int
    seed: int
    latent_bits: int

    def net_bits(self):
        """Bits of the message minus the initial random bits (what the images cost)."""
        return 32 * (len(self.words) - self.initial_words)


def check_bits_back_model(model, what="bits-back coding"):
    """Refuse (``ValueError``) a model bits-back coding cannot code: it must be probabilistic, with a
    Bernoulli data likelihood and no condition (x is coded under an unconditional ``p(x, z)``)."""
    model.require("is_probabilistic", what)
    model.require("data_likelihood", what, "bernoulli")
    if model.capabilities()["is_conditional"]:
        raise ValueError(f"{type(model).__name__} declares is_conditional: {what} codes x under an "
                         "unconditional p(x, z)")


def _check_model(model):
    check_bits_back_model(model)
    if isinstance(model.code_spec, dict) or not model.code_spec.dtype.is_floating or len(model.code_spec.shape) != 1:
        raise ValueError(f"bits-back coding needs a flat Gaussian latent; {type(model).__name__} has codes "
                         f"{model.code_spec}")


def _bucket_edges_and_centres(latent_bits):
    n = 2 ** latent_bits
    edges = special.ndtri(np.arange(n + 1) / n)          # [-inf, ..., +inf], equal prior mass
    centres = special.ndtri((np.arange(n) + 0.5) / n)
    return edges, centres


def _posterior_bucket_probs(model, x, edges):
    """``[latent_dim, 2**latent_bits]`` probabilities of the buckets under ``q(z|x)`` of one image."""
    q = model.posterior(x[None])
    mean = np.asarray(q.mean(), np.float64)[0][:, None]
    std = np.asarray(q.stddev(), np.float64)[0][:, None]
    cdf = special.ndtr((edges[None, :] - mean) / std)
    return np.maximum(np.diff(cdf, axis=1), 0.0)


def _pixel_probs(model, centres, indices):
    """``p(x_i = 1 | z)`` ``[D]`` float64 for the bucket centres of one image's latent indices."""
    z = tf.constant(centres[indices][None], tf.float32)
    probs = model.likelihood(z).mean()
    return np.clip(np.asarray(probs, np.float64).reshape(-1), 0.0, 1.0)


def compress(model, x, seed=0, latent_bits=LATENT_BITS, initial_words=INITIAL_WORDS) -> Compressed:
    """Compress binary images ``x`` ``[N, *input_shape]`` (values 0/1) with bits-back ANS.

    Args:
        model: a trained VAE with a Bernoulli likelihood (e.g. the ``vae-digits`` recipe).
        x: binary images.
        seed: seed of the initial random bits (decompression needs the same; it is stored).
        latent_bits: bits per latent dimension of the discretization, default 12.
        initial_words: 32-bit words of initial random bits, default 64.
    """
    _check_model(model)
    x = np.asarray(x)
    if x.shape[1:] != tuple(model.data_shape):
        raise ValueError(f"x must be [N, {', '.join(map(str, model.data_shape))}], got shape {x.shape}")
    if not np.all((x == 0) | (x == 1)):
        raise ValueError("x must be binary (0/1) images: bits-back coding here uses the Bernoulli likelihood")
    latent_bits = _checks.check_integer(latent_bits, "latent_bits", minimum=1, maximum=16)
    initial_words = _checks.check_integer(initial_words, "initial_words", minimum=1)
    x = x.astype(np.float32)
    edges, centres = _bucket_edges_and_centres(latent_bits)
    initial = np.random.default_rng(seed).integers(0, 2 ** 32, initial_words, dtype=np.uint32)
    ans = constriction.stream.stack.AnsCoder(initial)
    categorical = constriction.stream.model.Categorical(perfect=False)
    bernoulli = constriction.stream.model.Bernoulli(perfect=False)
    uniform = constriction.stream.model.Uniform(2 ** latent_bits)
    for image in x:  # the stack codes the last image first when decompressing: order is kept there
        indices = ans.decode(categorical, _posterior_bucket_probs(model, image, edges))
        ans.encode_reverse(image.reshape(-1).astype(np.int32), bernoulli, _pixel_probs(model, centres, indices))
        ans.encode_reverse(indices.astype(np.int32), uniform)
    return Compressed(ans.get_compressed().copy(), len(x), tuple(x.shape[1:]), initial_words, seed, latent_bits)


def decompress(model, message: Compressed) -> np.ndarray:
    """The images of :func:`compress`, bit for bit; checks that the stack returns to its initial bits."""
    _check_model(model)
    edges, centres = _bucket_edges_and_centres(message.latent_bits)
    ans = constriction.stream.stack.AnsCoder(np.asarray(message.words, np.uint32))
    categorical = constriction.stream.model.Categorical(perfect=False)
    bernoulli = constriction.stream.model.Bernoulli(perfect=False)
    uniform = constriction.stream.model.Uniform(2 ** message.latent_bits)
    latent_dim = model.code_spec.shape[0]
    images = []
    for _ in range(message.num_images):
        indices = ans.decode(uniform, latent_dim)
        image = ans.decode(bernoulli, _pixel_probs(model, centres, indices)).astype(np.float32)
        image = image.reshape(message.image_shape)
        ans.encode_reverse(indices.astype(np.int32), categorical, _posterior_bucket_probs(model, image, edges))
        images.append(image)
    initial = np.random.default_rng(message.seed).integers(0, 2 ** 32, message.initial_words, dtype=np.uint32)
    if not np.array_equal(ans.get_compressed(), initial):
        raise ValueError("decompression did not return the initial bits: the model differs from the one that "
                         "compressed, or the message is damaged")
    return np.stack(images[::-1]) if images else np.zeros((0,) + message.image_shape, np.float32)


def save_message(path, message: Compressed):
    """Write a :class:`Compressed` to ``path`` (``.npz``) through a temporary file and a rename."""
    with atomic_file(path, suffix=".npz") as tmp:
        np.savez(tmp, words=message.words, num_images=message.num_images, image_shape=np.array(message.image_shape),
                 initial_words=message.initial_words, seed=message.seed, latent_bits=message.latent_bits)


def load_message(path) -> Compressed:
    """Read a message written by :func:`save_message`; a damaged or foreign file is a ``ValueError``."""
    try:
        with np.load(path) as f:
            return Compressed(np.asarray(f["words"], np.uint32), int(f["num_images"]),
                              tuple(int(v) for v in f["image_shape"]), int(f["initial_words"]), int(f["seed"]),
                              int(f["latent_bits"]))
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path} is not a compressed message of keras_ae.evaluation.compression ({e})") from None
