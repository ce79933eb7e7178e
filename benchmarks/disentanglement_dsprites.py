"""The dSprites tables of docs/families/disentanglement.md: every metric of ``keras_ae.evaluation.disentanglement`` for trained runs.

Usage (after training the runs with ``python -m zoo train RECIPE --seed S --out runs/RECIPE-sS``)::

    python benchmarks/disentanglement_dsprites.py runs/vae-dsprites-s0 runs/beta-vae-dsprites-s0 ... \
        --scale 0.1 --dci-scale 0.02 --out disentanglement.json

Each run's ``model.keras`` is loaded, its posterior means are the representation
(:func:`keras_ae.evaluation.disentanglement.model_representation`) and every metric is computed on the
procedural dSprites (all 737,280 factor combinations, :class:`keras_ae.data.procedural.ProceduralDSprites`)
under disentanglement_lib's protocol with every point count times ``--scale`` (DCI's times
``--dci-scale``: its gradient-boosted trees took most of the time) and evaluation seed 0.
Prints one JSON line per run and a table of mean +- sd over the seeds of each recipe.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def evaluate_run(run_dir, scale, seed, metrics, dci_scale):
    import keras

    from keras_ae.evaluation import disentanglement
    from keras_ae.data.procedural import ProceduralDSprites

    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    start = time.perf_counter()
    data, represent = ProceduralDSprites(), disentanglement.model_representation(model)
    others = tuple(m for m in metrics if m != "dci")
    scores = disentanglement.evaluate_disentanglement(data, represent, seed=seed, scale=scale, metrics=others) \
        if others else {}
    if "dci" in metrics:  # gradient-boosted trees per factor: the slow one, at its own scale
        dci = disentanglement.evaluate_disentanglement(data, represent, seed=seed, scale=dci_scale, metrics=("dci",))
        scores.update({k: v for k, v in dci.items() if k.startswith("dci_")}, dci_scale=dci_scale)
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    overrides = "".join(f" --set {k}={json.dumps(v)}" for k, v in sorted(config.get("model_overrides", {}).items()))
    scores.update(recipe=config["recipe"]["name"] + overrides, seed=config["seed"], run=run_dir,
                  eval_seconds=round(time.perf_counter() - start, 1), train_seconds=metrics.get("train_seconds"),
                  steps=config["epochs"] * int(np.ceil(config["num_train"] / config["batch_size"])))
    return scores


METRIC_NAMES = ("beta_vae", "factor_vae", "mig", "sap", "dci", "modularity_explicitness", "gaussian_total_correlation")
KEYS = ("factor_vae_score", "mig", "beta_vae_score", "sap", "dci_disentanglement", "dci_completeness",
        "dci_informativeness", "modularity", "explicitness", "gaussian_total_correlation")


def table(rows):
    """Markdown table: one line per recipe, mean +- sd over its seeds (sd with ddof 1; one seed: the value)."""
    recipes = sorted({r["recipe"] for r in rows}, key=lambda n: [r["recipe"] for r in rows].index(n))
    lines = ["| recipe | seeds | " + " | ".join(KEYS) + " |", "|" + " --- |" * (len(KEYS) + 2)]
    for name in recipes:
        runs = [r for r in rows if r["recipe"] == name]
        cells = []
        for key in KEYS:
            if key not in runs[0]:
                cells.append("-")
                continue
            values = np.array([r[key] for r in runs], np.float64)
            cells.append(f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}")
        lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories with model.keras (or JSON files this script wrote: "
                                                "their rows go into the table as they are)")
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the protocol's point counts")
    parser.add_argument("--dci-scale", type=float, default=0.02, help="fraction of the protocol's points for DCI")
    parser.add_argument("--metrics", default=",".join(METRIC_NAMES), help="comma-separated subset of " + ",".join(METRIC_NAMES))
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed")
    parser.add_argument("--out", help="write every run's scores to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        if run.endswith(".json"):
            with open(run) as f:
                rows.extend(json.load(f))
            continue
        rows.append(evaluate_run(run, args.scale, args.seed, args.metrics.split(","), args.dci_scale))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
