"""The cost of rounding a trained VAE's weights to the integer coder's grids, per grid setting.

    python benchmarks/integer_coder_bits.py runs/vae-digits

Prints the float model's negative ELBO (1,000 samples) and, for each (activation bits, weight
bits, latent step bits), the integer coder's expected rate (:func:`expected_bits`, 200 draws) on
the run's statically binarized test split, in bits per dimension. Behind the defaults of
``keras_ae.evaluation.integer_coder``.
"""

import argparse
import json

import numpy as np

from keras_ae import evaluation
from keras_ae.evaluation import integer_coder
from zoo import runner

SETTINGS = [(10, 12, 7), (8, 8, 7), (8, 12, 7), (12, 12, 7), (6, 8, 7), (16, 16, 7), (10, 12, 5), (10, 12, 8)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    args = parser.parse_args()
    config, model = runner.load_run(args.run_dir)
    seed = config.get("seed", 0)
    x_train, _ = runner.load_split(config["dataset"], "train", "static", seed)
    x, _ = runner.load_split(config["dataset"], "test", "static", seed)
    dims = x.size
    elbo = evaluation.elbo(model, x, num_samples=1000)["elbo"]
    rows = [{"coder": "float model", "bits_per_dim": float(-np.sum(elbo) / np.log(2) / dims)}]
    for activation_bits, weight_bits, latent_step_bits in SETTINGS:
        coder = integer_coder.quantize_vae(model, x_train, activation_bits=activation_bits, weight_bits=weight_bits,
                                           latent_step_bits=latent_step_bits)
        expected, _ = integer_coder.expected_bits(coder, x, num_samples=200)
        rows.append({"activation_bits": activation_bits, "weight_bits": weight_bits,
                     "latent_step_bits": latent_step_bits, "bits_per_dim": float(expected.sum() / dims)})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps(rows[0]))


if __name__ == "__main__":
    main()
