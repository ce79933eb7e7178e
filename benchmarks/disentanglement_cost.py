"""Seconds each disentanglement metric takes on a trained run, one metric at a time.

    python benchmarks/disentanglement_cost.py RUN_DIR [--scale S] [--metrics mig,sap,...]

RUN_DIR is a finished `python -m zoo train` run on a ground-truth dataset (dsprites-procedural).
Prints one line per metric: name, scale, wall-clock seconds and the scores. Nothing is written.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_ae.evaluation import disentanglement  # noqa: E402
from zoo import runner  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the protocol's point counts")
    parser.add_argument("--metrics", default=",".join(disentanglement.METRICS))
    args = parser.parse_args(argv)
    config, model = runner.load_run(args.run_dir)
    data = runner.ground_truth_of(config["dataset"])
    represent = disentanglement.model_representation(model)
    for metric in args.metrics.split(","):
        start = time.perf_counter()
        scores = disentanglement.evaluate_disentanglement(data, represent, scale=args.scale, metrics=(metric,))
        scores.pop("disentanglement_scale")
        print(f"{metric} scale {args.scale:g}: {time.perf_counter() - start:.1f} s",
              {k: round(v, 3) for k, v in scores.items()}, flush=True)


if __name__ == "__main__":
    main()
