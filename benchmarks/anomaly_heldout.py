"""Held-out-class anomaly detection on digits: train without one digit, detect it among the test set.

For each recipe and each held-out digit ``c``: the recipe's model trains (its epochs, batch size
and learning rate) on the training digits other than ``c``, statically binarized for Bernoulli
recipes; then every score the model has (keras_ae.evaluation.anomaly) ranks the whole test set, the ``c``
test examples being the anomalies. Prints one JSON line per (recipe, digit) and a table of
AUROC and AUPRC, mean +- sd over the held-out digits.

    python benchmarks/anomaly_heldout.py --recipes ae-digits vae-digits --digits 0 1 2 3 4 5 6 7 8 9
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

from keras_ae import data  # noqa: E402
from keras_ae.evaluation import anomaly
from keras_ae.presets import RECIPES  # noqa: E402
from zoo.runner import build_model  # noqa: E402


def run_one(recipe, digit, seed, num_samples):
    binarize = "static" if recipe.binarize else None
    x_train, y_train = data.load_arrays(recipe.dataset, "train", binarize=binarize, seed=seed)
    x_test, y_test = data.load_arrays(recipe.dataset, "test", binarize=binarize, seed=seed + 1)
    normal_train, _ = anomaly.heldout_class_split(x_train, y_train, digit)
    keras.utils.set_random_seed(seed)
    model = build_model(recipe, x_train.shape[1:], seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate))
    start = time.perf_counter()
    model.fit(normal_train, epochs=recipe.epochs, batch_size=recipe.batch_size, verbose=0)
    train_seconds = time.perf_counter() - start
    model.post_fit(normal_train, seed=seed)
    normal, anomalous = anomaly.heldout_class_split(x_test, y_test, digit)
    result = anomaly.detection_metrics(model, normal, anomalous, num_samples=num_samples, seed=seed)
    return {"recipe": recipe.name, "digit": digit, "seed": seed, "train_seconds": round(train_seconds, 1),
            "num_normal": len(normal), "num_anomalous": len(anomalous), "scores": result}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["ae-digits", "vae-digits"])
    parser.add_argument("--digits", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=100, help="importance samples of the nll score")
    parser.add_argument("--out", help="also write the JSON lines here")
    args = parser.parse_args(argv)
    rows = []
    for name in args.recipes:
        for digit in args.digits:
            row = run_one(RECIPES[name], digit, args.seed, args.num_samples)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        os.replace(args.out + ".tmp", args.out)
    print(f"\n| recipe | score | AUROC (mean ± sd over {len(args.digits)} held-out digits) | AUPRC |")
    print("| --- | --- | --- | --- |")
    for name in args.recipes:
        mine = [r for r in rows if r["recipe"] == name]
        for score in mine[0]["scores"]:
            au = np.array([r["scores"][score]["auroc"] for r in mine])
            ap = np.array([r["scores"][score]["auprc"] for r in mine])
            sd = (lambda v: v.std(ddof=1) if len(v) > 1 else 0.0)
            print(f"| {name} | {score} | {au.mean():.3f} ± {sd(au):.3f} | {ap.mean():.3f} ± {sd(ap):.3f} |")


if __name__ == "__main__":
    main()
