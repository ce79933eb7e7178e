"""Bits-back compression on a device: the coder's TFLite file, LiteRT and constriction; no TensorFlow.

This module imports only NumPy, ``constriction`` and ``ai_edge_litert`` (a test runs it in a fresh
process and checks that ``tensorflow`` is never imported), so it runs where only the LiteRT wheel
is installed. It drives BB-ANS (Townsend et al. 2019) with the integer coding network that
:mod:`keras_ae.evaluation.integer_coder` exports: the networks return integers, the
probabilities are integer tables inside the same file, and the sender may be this module or the
SavedModel (:mod:`export.coder`): a message decompresses bit for bit with either.

Per image, compressing (the stack starts with ``initial_words`` seeded random 32-bit words)::

    m, r = posterior_indices(x)                         # integers [D]
    k_d  = pop from the stack with the posterior row r_d (offset -W)   -> latent index i = m + k
    l    = logit_indices(i)                             # integers [*data_shape]
    push x with Bernoulli(bernoulli[l + L] / 2^24); push i + K with the prior table

and decompressing runs it backwards. Usage::

    python -m export.device_coder compress  coder.tflite IMAGES.npz MESSAGE.npz
    python -m export.device_coder decompress coder.tflite MESSAGE.npz IMAGES.npz
"""

import argparse
import json
import os
import sys
from typing import NamedTuple

import constriction
import numpy as np

#: 32-bit words of seeded random bits the stack starts with (enough to pop the first latent).
INITIAL_WORDS = 64
FORMAT = "keras-ae-bbans-integer-1"


class Message(NamedTuple):
    """A compressed batch: the ANS words and what the receiver needs besides the coder file."""

    words: np.ndarray          # uint32
    num_images: int
    image_shape: tuple
    initial_words: int
    seed: int
    fingerprint: np.ndarray    # int32 [8]: the coder that compressed

    def net_bits(self):
        """Bits of the message minus the initial random bits (what the images cost)."""
        return 32 * (len(self.words) - self.initial_words)


class LiteRTNetwork:
    """The coder's TFLite file through ``ai_edge_litert``: ``posterior_indices``, ``logit_indices``, ``tables``."""

    def __init__(self, path, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        if not os.path.isfile(path):
            raise ValueError(f"{path} is not a file (the coder's .tflite)")
        try:
            self.interpreter = Interpreter(model_path=path, num_threads=num_threads)
            runners = {name: self.interpreter.get_signature_runner(name)
                       for name in ("posterior_indices", "logit_indices", "tables")}
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"{path} is not a coder TFLite file ({e})") from None
        self._posterior, self._logits = runners["posterior_indices"], runners["logit_indices"]
        self.tables = {k: np.asarray(v) for k, v in runners["tables"](x=np.zeros(1, np.int32)).items()}

    def posterior_indices(self, x):
        out = self._posterior(x=np.asarray(x, np.float32))
        return np.asarray(out["mean_index"], np.int64), np.asarray(out["scale_index"], np.int64)

    def logit_indices(self, latent_index):
        return np.asarray(self._logits(latent_index=np.asarray(latent_index, np.int32))["logit_index"], np.int64)


class _Models:
    """constriction models of the integer tables (probabilities ``count / 2^24``: exact float64 inputs)."""

    def __init__(self, tables):
        self.t = {k: np.asarray(v) for k, v in tables.items()}
        self.scale = 2.0 ** -int(self.t["table_bits"][0] if np.ndim(self.t["table_bits"]) else self.t["table_bits"])
        self.K = int(np.ravel(self.t["latent_limit"])[0])
        self.L = int(np.ravel(self.t["logit_limit"])[0])
        self.dim = int(np.ravel(self.t["latent_dim"])[0])
        self.prior = constriction.stream.model.Categorical(self.t["prior"].astype(np.float64) * self.scale,
                                                           perfect=False)
        self.bernoulli = constriction.stream.model.Bernoulli(perfect=False)
        self._rows = {}

    def row(self, r):
        """``(model, W)`` of scale index ``r``."""
        if r not in self._rows:
            start, width = int(self.t["posterior_start"][r]), int(self.t["posterior_width"][r])
            counts = self.t["posterior"][start:start + 2 * width + 1].astype(np.float64) * self.scale
            self._rows[r] = (constriction.stream.model.Categorical(counts, perfect=False), width)
        return self._rows[r]

    def pixel_probs(self, logit_index):
        return self.t["bernoulli"][np.asarray(logit_index).reshape(-1) + self.L].astype(np.float64) * self.scale


def _initial(seed, words):
    return np.random.default_rng(seed).integers(0, 2 ** 32, words, dtype=np.uint32)


def _fingerprint(network):
    return np.asarray(network.tables["fingerprint"], np.int32).reshape(-1)


def compress(network, x, seed=0, initial_words=INITIAL_WORDS) -> Message:
    """Compress binary images ``x`` ``[N, *data_shape]`` with the integer coder ``network``."""
    x = np.asarray(x)
    if x.ndim < 2 or not np.all((x == 0) | (x == 1)):
        raise ValueError(f"x must be a batch of binary (0/1) images, got shape {x.shape}")
    if int(initial_words) < 1:
        raise ValueError(f"initial_words must be >= 1, got {initial_words}")
    models = _Models(network.tables)
    ans = constriction.stream.stack.AnsCoder(_initial(seed, int(initial_words)))
    means, scales = network.posterior_indices(x.astype(np.float32)) if len(x) else (None, None)
    for n, image in enumerate(x):  # decompression pops the last image first and keeps the order there
        offsets = []
        for d in range(models.dim):
            row, width = models.row(int(scales[n, d]))
            offsets.append(int(ans.decode(row)) - width)
        latent = means[n] + np.asarray(offsets, np.int64)
        probs = models.pixel_probs(network.logit_indices(latent[None]))
        ans.encode_reverse(image.reshape(-1).astype(np.int32), models.bernoulli, probs)
        ans.encode_reverse((latent + models.K).astype(np.int32), models.prior)
    return Message(ans.get_compressed().copy(), len(x), tuple(x.shape[1:]), int(initial_words), int(seed),
                   _fingerprint(network))


def decompress(network, message: Message) -> np.ndarray:
    """The images of :func:`compress`, bit for bit (uint8); the stack must end at its initial bits."""
    if not np.array_equal(np.asarray(message.fingerprint, np.int32), _fingerprint(network)):
        raise ValueError("the message was compressed with another coding network (its fingerprint differs)")
    models = _Models(network.tables)
    ans = constriction.stream.stack.AnsCoder(np.asarray(message.words, np.uint32))
    images = []
    for _ in range(message.num_images):
        latent = np.asarray(ans.decode(models.prior, models.dim), np.int64) - models.K
        probs = models.pixel_probs(network.logit_indices(latent[None]))
        image = np.asarray(ans.decode(models.bernoulli, probs), np.uint8).reshape(message.image_shape)
        means, scales = network.posterior_indices(image[None].astype(np.float32))
        for d in reversed(range(models.dim)):
            row, width = models.row(int(scales[0, d]))
            ans.encode_reverse(np.int32(latent[d] - means[0, d] + width), row)
        images.append(image)
    if not np.array_equal(ans.get_compressed(), _initial(message.seed, message.initial_words)):
        raise ValueError("decompression did not return the initial bits: the message is damaged")
    return np.stack(images[::-1]) if images else np.zeros((0,) + tuple(message.image_shape), np.uint8)


def save_message(path, message: Message):
    """Write ``message`` to ``path`` (``.npz``) through a temporary file and a rename."""
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    try:
        np.savez(tmp, format=FORMAT, words=message.words, num_images=message.num_images,
                 image_shape=np.asarray(message.image_shape), initial_words=message.initial_words,
                 seed=message.seed, fingerprint=message.fingerprint)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_message(path) -> Message:
    """Read a message of :func:`save_message`; a damaged or foreign file is a ``ValueError``."""
    try:
        with np.load(path) as f:
            if str(f["format"]) != FORMAT:
                raise ValueError(f"format {str(f['format'])!r}")
            return Message(np.asarray(f["words"], np.uint32), int(f["num_images"]),
                           tuple(int(v) for v in f["image_shape"]), int(f["initial_words"]), int(f["seed"]),
                           np.asarray(f["fingerprint"], np.int32))
    except (OSError, KeyError, ValueError, EOFError) as e:
        raise ValueError(f"{path} is not a message of export.device_coder ({e})") from None


def main(argv=None):
    """``compress CODER.tflite IMAGES.npz OUT.npz`` (images under key ``x``) or ``decompress CODER.tflite MSG OUT``."""
    parser = argparse.ArgumentParser(prog="python -m export.device_coder", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("compress", "decompress"))
    parser.add_argument("tflite")
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        network = LiteRTNetwork(args.tflite)
        if args.command == "compress":
            with np.load(args.source) as f:
                x = f["x"]
            message = compress(network, x, seed=args.seed)
            save_message(args.out, message)
            print(json.dumps({"images": len(x), "net_bits": message.net_bits(),
                              "bits_per_dim": message.net_bits() / max(x.size, 1), "out": args.out}))
        else:
            images = decompress(network, load_message(args.source))
            np.savez(args.out, x=images)
            print(f"{len(images)} images -> {args.out}")
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
