"""Test NLL and per-layer diagnostics of finished runs; NLL differences to a reference run, paired over test images.

Each run's importance-sampled ``log p(x)`` per test example is recomputed exactly as ``zoo eval``
does (``keras_ae.evaluation.log_likelihood``, ``--num-samples`` draws, seed 0, so the mean is the
``nll`` of its ``metrics.json``); the difference to the reference run is averaged over the same
test images, with its standard error. The KLs and active units per layer are read from each
run's ``metrics.json`` (written by ``zoo train`` / ``zoo eval``).

    python benchmarks/hierarchical.py runs/hvae2-mnist5k runs/ladder-vae-mnist5k \\
        --reference runs/vae-mnist5k --num-samples 1000 --out benchmarks/hierarchical_mnist5k.json
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def per_example_log_likelihood(run_dir, num_samples):
    from keras_ae import evaluation
    from zoo import runner

    config, model = runner.load_run(run_dir)
    x_test, _ = runner.load_split(config["dataset"], "test", config["recipe"].get("binarize"), config.get("seed", 0),
                                  config.get("data_dir"))
    return config, model, evaluation.log_likelihood(model, x_test, num_samples=num_samples, seed=0)


def summary(run_dir, config, model, log_px, reference=None):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    layers = list(getattr(model, "latent_layers", {"z": model.latent_dim}))
    row = {"run": run_dir, "recipe": config["recipe"]["name"], "model": type(model).__name__,
           "epochs": config["epochs"], "nll": float(-log_px.mean()),
           "nll_stderr": float(log_px.std(ddof=1) / np.sqrt(len(log_px))), "elbo": metrics.get("elbo"),
           "kl": metrics.get("kl"), "train_seconds": metrics.get("train_seconds"),
           "active_units": {name: metrics.get(f"active_units_{name}", metrics.get("active_units")) for name in layers},
           "latent_units": {name: metrics.get(f"latent_units_{name}", metrics.get("latent_units")) for name in layers},
           "kl_per_layer": {name: metrics.get(f"kl_{name}") for name in layers if f"kl_{name}" in metrics}}
    if reference is not None:
        difference = -(log_px - reference)  # NLL of this run minus the reference's, per image
        row["delta_nll"] = float(difference.mean())
        row["delta_nll_stderr"] = float(difference.std(ddof=1) / np.sqrt(len(difference)))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="finished run directories")
    parser.add_argument("--reference", help="the run the NLL differences are paired against (e.g. the VAE)")
    parser.add_argument("--num-samples", type=int, default=1000, help="importance samples per example (default 1000)")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    reference = None
    rows = []
    if args.reference:
        config, model, reference = per_example_log_likelihood(args.reference, args.num_samples)
        rows.append(summary(args.reference, config, model, reference, reference))
    for run_dir in args.runs:
        config, model, log_px = per_example_log_likelihood(run_dir, args.num_samples)
        rows.append(summary(run_dir, config, model, log_px, reference))
    print("| recipe | model | test NLL (nats) | Δ vs reference | test ELBO | KL per layer | active units per layer |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        delta = f"{row['delta_nll']:+.2f} ± {row['delta_nll_stderr']:.2f}" if "delta_nll" in row else "-"
        kl = " + ".join(f"{v:.2f}" for v in row["kl_per_layer"].values()) or f"{row['kl']:.2f}"
        active = " + ".join(f"{row['active_units'][n]}/{row['latent_units'][n]}" for n in row["active_units"])
        print(f"| {row['recipe']} | {row['model']} | {row['nll']:.2f} ± {row['nll_stderr']:.2f} | {delta} | "
              f"{row['elbo']:.2f} | {kl} | {active} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"num_samples": args.num_samples, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
