"""Test NLL and per-layer diagnostics of finished runs; NLL differences to a reference run, paired over test images.

For each run: the test NLL (importance-sampled, k = ``nll_num_samples``) of its ``metrics.json``,
and, recomputed here, the 10-sample test ELBO with each layer's KL (``keras_ae.evaluation.elbo``)
and the active units of each stochastic layer (``evaluation.active_units(per_layer=True)``,
Burda et al.'s ``Cov_x(E_q[u]) > 0.01``). With ``--paired``, each run's ``log p(x)`` per test
image is recomputed as ``zoo eval`` does (``--num-samples`` draws, seed 0: its mean is the
``nll`` of ``metrics.json``) and the difference to ``--reference`` is averaged over the same
images, with its standard error.

    python benchmarks/hierarchical.py runs/hvae2-mnist5k runs/ladder-vae-mnist5k \\
        --reference runs/vae-mnist5k --paired --num-samples 1000 --out benchmarks/hierarchical_mnist5k.json
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measure(run_dir, num_samples, paired):
    """The row of one run; with ``paired`` also its per-image ``log p(x)`` (else None)."""
    from keras_ae import evaluation
    from zoo import runner

    config, model = runner.load_run(run_dir)
    x_test, _ = runner.load_split(config["dataset"], "test", config["recipe"].get("binarize"), config.get("seed", 0),
                                  config.get("data_dir"))
    metrics = runner.read_json(os.path.join(run_dir, "metrics.json"), expect=dict)
    parts = evaluation.elbo(model, x_test, num_samples=10)
    active = evaluation.active_units(model, x_test, per_layer=True)
    sizes = dict(model.latent_layers) if model.capabilities()["latent_layer_names"] else {"z": model.latent_dim}
    row = {"run": run_dir, "recipe": config["recipe"]["name"], "model": type(model).__name__,
           "dataset": config["dataset"], "epochs": config["epochs"], "callbacks": config["recipe"]["callbacks"],
           "nll": metrics["nll"], "nll_stderr": metrics["nll_stderr"], "nll_num_samples": metrics["nll_num_samples"],
           "elbo": float(parts["elbo"].mean()), "reconstruction": float(parts["reconstruction"].mean()),
           "kl": float(parts["kl"].mean()),
           "kl_per_layer": {name: float(parts[f"kl_{name}"].mean()) for name in sizes if f"kl_{name}" in parts},
           "active_units": active, "latent_units": sizes, "train_seconds": metrics.get("train_seconds")}
    log_px = None
    if paired:
        log_px = evaluation.log_likelihood(model, x_test, num_samples=num_samples, seed=0)
        row.update(nll=float(-log_px.mean()), nll_stderr=float(log_px.std(ddof=1) / np.sqrt(len(log_px))),
                   nll_num_samples=num_samples)
    return row, log_px


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="finished run directories")
    parser.add_argument("--reference", help="the run the NLL differences are paired against (e.g. the VAE)")
    parser.add_argument("--paired", action="store_true", help="recompute log p(x) per image for paired differences")
    parser.add_argument("--num-samples", type=int, default=1000, help="importance samples with --paired (default 1000)")
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    reference, rows = None, []
    for run_dir in ([args.reference] if args.reference else []) + args.runs:
        row, log_px = measure(run_dir, args.num_samples, args.paired)
        if log_px is not None and reference is None and args.reference:
            reference = log_px
        if log_px is not None and reference is not None:
            difference = reference - log_px  # this run's NLL minus the reference's, per image
            row.update(delta_nll=float(difference.mean()),
                       delta_nll_stderr=float(difference.std(ddof=1) / np.sqrt(len(difference))))
        rows.append(row)
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
            json.dump({"paired_num_samples": args.num_samples if args.paired else None, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
