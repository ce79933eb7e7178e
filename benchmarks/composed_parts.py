"""Digits test NLLs of the models composed of parts beside the plain VAE's, on one budget.

Trains ``vae-digits``, the three composed recipes (``iaf-mog-digits``, ``wae-vampprior-digits``,
``iwae-planar-digits``) and ``hyperspherical-vae-digits`` with the zoo runner (``zoo.train``: each
recipe's body, budget and dynamic binarization, tested on the fixed binarization of the test
set), for each seed, and writes the test NLL of ``metrics.json`` (importance sampling with
``--num-samples`` draws per image, and its standard error over the 360 test images), the test
ELBO and the training time; the summary is the mean over seeds.

    nice -n 5 python benchmarks/composed_parts.py --seeds 0 1 2 --out benchmarks/composed_parts.json

``--epochs`` shortens every run alike (a smoke run); the recipes' own budget is 150 epochs.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RECIPES = ("vae-digits", "iaf-mog-digits", "wae-vampprior-digits", "iwae-planar-digits", "hyperspherical-vae-digits")


def run(recipe, seed, epochs, num_samples, runs_dir):
    """Train one recipe with one seed; the row of its test metrics."""
    import zoo

    out = os.path.join(runs_dir, f"{recipe}-seed{seed}")
    result = zoo.train(recipe, out=out, seed=seed, epochs=epochs, num_samples=num_samples)
    metrics = result.metrics
    return {"recipe": recipe, "seed": seed, "run": result.run_dir, "epochs": epochs,
            "nll": metrics["nll"], "nll_stderr": metrics["nll_stderr"], "nll_num_samples": metrics["nll_num_samples"],
            "elbo": metrics.get("elbo"), "kl": metrics.get("kl"), "train_seconds": metrics.get("train_seconds")}


def summary(rows):
    """Mean test NLL per recipe over seeds, with the spread of the seeds and the mean per-seed standard error."""
    table = {}
    for recipe in dict.fromkeys(row["recipe"] for row in rows):
        mine = [row for row in rows if row["recipe"] == recipe]
        nll = np.array([row["nll"] for row in mine])
        table[recipe] = {"nll": float(nll.mean()), "nll_seed_std": float(nll.std(ddof=1)) if len(nll) > 1 else None,
                         "nll_stderr": float(np.mean([row["nll_stderr"] for row in mine])), "seeds": len(mine)}
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, help="instead of each recipe's (150): a shorter, equal budget")
    parser.add_argument("--num-samples", type=int, default=1000, help="importance samples per test image (k)")
    parser.add_argument("--runs-dir", default="runs/composed_parts")
    parser.add_argument("--out", help="write the rows and the summary as JSON here")
    args = parser.parse_args(argv)
    rows = [run(recipe, seed, args.epochs, args.num_samples, args.runs_dir)
            for seed in args.seeds for recipe in args.recipes]
    table = summary(rows)
    print(f"| recipe | test NLL (nats, k = {args.num_samples}) | seed std | mean standard error | seeds |")
    print("|---|---|---|---|---|")
    for recipe, row in table.items():
        spread = "-" if row["nll_seed_std"] is None else f"{row['nll_seed_std']:.2f}"
        print(f"| {recipe} | {row['nll']:.2f} | {spread} | {row['nll_stderr']:.2f} | {row['seeds']} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"num_samples": args.num_samples, "epochs": args.epochs, "seeds": args.seeds,
                       "summary": table, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
