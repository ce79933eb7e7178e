"""Choose the local optimiser of the gap tool: how close each Adam setting gets to the local optimum.

For a trained run, optimise each of the first N test examples' own factorized Gaussian
(``keras_ae.evaluation.gaps.optimize_local_posterior``) from the encoder's answer with several (learning
rate, steps) settings, and print the final ELBO L[q*] (1000 draws) and the time of each. The
reference is Cremer et al.'s setting, Adam at 1e-3, run long (the last row).

    python benchmarks/gap_learning_rate.py RUN_DIR --examples 100
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SETTINGS = ((3e-2, 300), (1e-2, 300), (1e-2, 1000), (3e-3, 1000), (1e-3, 1000), (1e-3, 4000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--family", default="gaussian")
    args = parser.parse_args()

    import tensorflow as tf

    from keras_ae.evaluation import gaps
    from zoo import runner

    config, model = runner.load_run(args.run_dir)
    x, _ = runner.load_split(config["dataset"], "test", config["recipe"].get("binarize"), config.get("seed", 0),
                             config.get("data_dir"))
    x = tf.constant(x[:args.examples])
    prior = model._prior()

    def log_joint(z):
        return tf.cast(prior.log_prob(z), tf.float32) + model.log_prob_of_codes(x, z)

    start = model.encode_outputs(x)
    amortized, _ = gaps.elbo_estimate(log_joint, model._posterior(x), 1000, seed=1)
    print(f"{args.run_dir}: {len(x)} test examples, family {args.family}; L[q] = {amortized.mean():.3f}")
    print(f"{'lr':>8} {'steps':>6} {'L[q*]':>9} {'gain':>7} {'seconds':>8}")
    for lr, steps in SETTINGS:
        began = time.perf_counter()
        local = gaps.optimize_local_posterior(log_joint, start["mean"].numpy(), start["scale"].numpy(),
                                              family=args.family, steps=steps, learning_rate=lr, seed=2)
        seconds = time.perf_counter() - began
        elbo, se = gaps.elbo_estimate(log_joint, local.distribution, 1000, seed=3)
        print(f"{lr:>8g} {steps:>6} {elbo.mean():>9.3f} {elbo.mean() - amortized.mean():>7.3f} {seconds:>8.1f}"
              f"   (se of the mean {np.sqrt(np.mean(se ** 2) / len(se)):.3f})")


if __name__ == "__main__":
    main()
