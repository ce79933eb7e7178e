"""The integer bits-back coder of a run: write it, compress with the SavedModel, measure it.

    python -m export.coder write RUN_DIR OUT_DIR        # OUT_DIR/saved_model/ and OUT_DIR/coder.tflite
    python -m export.coder compress OUT_DIR IMAGES.npz MESSAGE.npz [--runtime savedmodel|tflite]
    python -m export.coder measure RUN_DIR [--out OUT_DIR]   # bits per dimension of every path, as JSON

The device side (:mod:`export.device_coder`) decompresses any of these messages with
``coder.tflite`` alone. ``measure`` compresses the run's binarized test split with the
SavedModel and with the TFLite file, decompresses both with the TFLite file, and prints bits per
dimension beside the float coder of :mod:`keras_ae.evaluation.compression`, the negative ELBO, and
bz2 and gzip of the same bits packed eight pixels to a byte.
"""

import argparse
import bz2
import gzip
import json
import os
import sys
import tempfile
import time

import numpy as np

from export import device_coder


class SavedModelNetwork:
    """The coder's SavedModel (TF): the sender's side of a server. Same interface as ``LiteRTNetwork``."""

    def __init__(self, path):
        import tensorflow as tf

        self._loaded = tf.saved_model.load(path)
        sig = self._loaded.signatures
        self._posterior, self._logits = sig["posterior_indices"], sig["logit_indices"]
        self.tables = {k: v.numpy() for k, v in sig["tables"](x=tf.zeros([1], tf.int32)).items()}
        self._tf = tf

    def posterior_indices(self, x):
        out = self._posterior(x=self._tf.constant(np.asarray(x, np.float32)))
        return out["mean_index"].numpy().astype(np.int64), out["scale_index"].numpy().astype(np.int64)

    def logit_indices(self, latent_index):
        out = self._logits(latent_index=self._tf.constant(np.asarray(latent_index, np.int32)))
        return out["logit_index"].numpy().astype(np.int64)


def network(out_dir, runtime):
    """The coder of ``out_dir`` through ``runtime`` (``"savedmodel"`` or ``"tflite"``)."""
    from keras_ae.evaluation.integer_coder import TFLITE_NAME

    if runtime == "savedmodel":
        return SavedModelNetwork(os.path.join(out_dir, "saved_model"))
    if runtime == "tflite":
        return device_coder.LiteRTNetwork(os.path.join(out_dir, TFLITE_NAME))
    raise ValueError(f"runtime must be 'savedmodel' or 'tflite', got {runtime!r}")


def packed_baselines(x):
    """Bits per dimension of bz2 and gzip (level 9) on the images' bits packed eight to a byte."""
    packed = np.packbits(np.asarray(x, np.uint8).reshape(-1)).tobytes()
    return {"bz2": 8 * len(bz2.compress(packed, 9)) / x.size, "gzip": 8 * len(gzip.compress(packed, 9, mtime=0)) / x.size}


def _run_split(run_dir):
    from zoo import runner

    config, model = runner.load_run(run_dir)
    binarize, seed = config["recipe"].get("binarize"), config.get("seed", 0)
    x_test, _ = runner.load_split(config["dataset"], "test", binarize, seed, config.get("data_dir"))
    x_train, _ = runner.load_split(config["dataset"], "train", "static" if binarize else None, seed,
                                   config.get("data_dir"))
    return model, x_train, x_test


def write(run_dir, out_dir):
    """Quantize the run's VAE (activation grids from its statically binarized training split) and write it."""
    from keras_ae.evaluation import integer_coder

    model, x_train, _ = _run_split(run_dir)
    return integer_coder.write_coder(integer_coder.quantize_vae(model, x_train), out_dir)


def measure(run_dir, out_dir=None, seed=0):
    """The numbers of the README's compression table for a run (a dict; see the module)."""
    from keras_ae import evaluation
    from keras_ae.evaluation import compression, integer_coder

    model, x_train, x = _run_split(run_dir)
    x = x.astype(np.uint8)
    out_dir = out_dir or tempfile.mkdtemp(prefix="coder-")
    target = os.path.join(out_dir, "coder")
    coder = integer_coder.quantize_vae(model, x_train)
    if not os.path.exists(target):
        integer_coder.write_coder(coder, target)
    dims = x.size
    report = {"run": run_dir, "images": len(x), "pixels": dims}
    receiver = network(target, "tflite")
    for runtime in ("savedmodel", "tflite"):
        start = time.perf_counter()
        message = device_coder.compress(network(target, runtime), x, seed=seed)
        seconds = time.perf_counter() - start
        if not np.array_equal(device_coder.decompress(receiver, message), x):
            raise RuntimeError(f"the {runtime} message did not decompress bit for bit with the TFLite file")
        report[f"{runtime}_bits_per_dim"] = message.net_bits() / dims
        report[f"{runtime}_compress_seconds"] = round(seconds, 2)
    float_message = compression.compress(model, x.astype(np.float32), seed=seed)
    report["float_coder_bits_per_dim"] = float_message.net_bits() / dims
    elbo = evaluation.elbo(model, x.astype(np.float32), num_samples=100)["elbo"]
    report["negative_elbo_bits_per_dim"] = float(-np.mean(elbo) / np.log(2) / x[0].size)
    expected, std = integer_coder.expected_bits(coder, x, num_samples=100, seed=seed)
    report["integer_negative_elbo_bits_per_dim"] = float(expected.sum() / dims)
    # one message draws one latent per image: its rate scatters this much around the expectation
    report["one_message_noise_bits_per_dim"] = float(np.sqrt(np.sum(std ** 2)) / dims)
    report.update({f"{k}_bits_per_dim": v for k, v in packed_baselines(x).items()})
    report["coder_tflite_bytes"] = os.path.getsize(os.path.join(target, integer_coder.TFLITE_NAME))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.coder", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="quantize a run's VAE and write the coder's SavedModel and TFLite file")
    w.add_argument("run_dir")
    w.add_argument("out_dir")
    c = sub.add_parser("compress", help="compress binary images (key x of an .npz) with the coder")
    c.add_argument("coder_dir")
    c.add_argument("images")
    c.add_argument("out")
    c.add_argument("--runtime", choices=("savedmodel", "tflite"), default="savedmodel")
    c.add_argument("--seed", type=int, default=0)
    m = sub.add_parser("measure", help="bits per dimension of every path on the run's test split (JSON)")
    m.add_argument("run_dir")
    m.add_argument("--out", help="folder for the coder (default: a temporary folder)")
    args = parser.parse_args(argv)
    try:
        if args.command == "write":
            print(write(args.run_dir, args.out_dir))
        elif args.command == "compress":
            with np.load(args.images) as f:
                x = f["x"]
            message = device_coder.compress(network(args.coder_dir, args.runtime), x, seed=args.seed)
            device_coder.save_message(args.out, message)
            print(json.dumps({"images": len(x), "bits_per_dim": message.net_bits() / max(x.size, 1), "out": args.out}))
        else:
            print(json.dumps(measure(args.run_dir, args.out), indent=2))
    except (ValueError, OSError, KeyError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
