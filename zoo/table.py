"""Train the digits recipes and print the README's results table (markdown).

    python -m zoo.table [--out runs/table] [--num-samples 1000] [--recipes a,b,...]

Each recipe is trained with ``python -m zoo train NAME --out OUT/NAME`` (a finished run is
reused, so an interrupted table resumes); the table is read back from the runs' ``metrics.json``.
The linear autoencoder is followed by the scikit-learn PCA reference with as many components.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np


def pca_reference(dataset, components):
    """Test mean squared error per element of PCA fitted on the training split."""
    from sklearn.decomposition import PCA

    from keras_ae import data

    x_train, _ = data.load_arrays(dataset, "train")
    x_test, _ = data.load_arrays(dataset, "test")
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca = PCA(components).fit(flat_train)
    return float(np.mean((pca.inverse_transform(pca.transform(flat_test)) - flat_test) ** 2))


def fmt(value, digits=4):
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer() and abs(value) > 10):
        return str(int(value))
    return f"{value:.{digits}g}"


def main(argv=None):
    from zoo.recipes import RECIPES

    parser = argparse.ArgumentParser(prog="python -m zoo.table", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("runs", "table"))
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--recipes", help="comma-separated names (default: every *-digits recipe)")
    args = parser.parse_args(argv)
    names = args.recipes.split(",") if args.recipes else sorted(n for n in RECIPES if n.endswith("-digits"))
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        print(f"error: unknown recipes {unknown}; known recipes: {', '.join(sorted(RECIPES))}", file=sys.stderr)
        return 2

    rows = []
    for name in names:
        run_dir = os.path.join(args.out, name)
        metrics_path = os.path.join(run_dir, "metrics.json")
        if not os.path.isfile(metrics_path):
            print(f"training {name} ...", file=sys.stderr, flush=True)
            # the run's own report goes to stderr so that stdout is only the table
            result = subprocess.run([sys.executable, "-m", "zoo", "train", name, "--out", run_dir,
                                     "--num-samples", str(args.num_samples), "--verbose", "0"], stdout=sys.stderr)
            if result.returncode != 0:
                print(f"error: training {name} failed (exit {result.returncode})", file=sys.stderr)
                return 1
        with open(metrics_path) as f:
            metrics = json.load(f)
        recipe = RECIPES[name]
        test_data = "binarized" if recipe.binarize else "grey levels"
        rows.append([name, recipe.model, test_data, fmt(metrics.get("reconstruction_mse")), fmt(metrics.get("nll")),
                     fmt(metrics.get("elbo")), fmt(metrics.get("active_units")),
                     fmt(metrics.get("train_seconds"), 3)])
        if recipe.model_args.get("activation") == "linear" and not recipe.model_args.get("hidden_units"):
            k = recipe.model_args["latent_dim"]
            rows.append([f"PCA, {k} components (reference)", "sklearn PCA", "grey levels",
                         fmt(pca_reference(recipe.dataset, k)),
                         "-", "-", "-", "-"])
    header = ["recipe", "model", "test data", "test MSE / element", f"test NLL (nats, k={args.num_samples})",
              "test ELBO (nats)", "active units", "train s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
