"""Lossy compression with a VAE: the rate-distortion curve of a beta sweep (Alemi et al. 2018).

A beta-VAE minimises ``D + beta * R`` with the distortion ``D = E_q[-log p(x|z)]`` and the rate
``R = KL(q(z|x) || p(z))`` (nats per example, the average code length of bits-back coding of the
latent; Alemi et al. 2018, "Fixing a Broken ELBO"). Each beta gives one point on the test set; the
points trace the achievable (R, D) frontier of the architecture: large beta, low rate and blurry
reconstructions; small beta, high rate and sharp ones. ``D + R`` is the negative ELBO, smallest
near beta = 1. Also reported: the mean squared error of the posterior-mean reconstruction.

    python benchmarks/rate_distortion.py --recipe vae-digits --betas 0.1,0.3,1,3,10 --epochs 150 \
        --out runs/rate_distortion

Writes ``OUT/rate_distortion.json`` and ``OUT/rate_distortion.png`` and prints the table. Each
point is one ``python -m zoo train RECIPE --set beta=B`` run (a subdirectory of OUT).
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_point(recipe, beta, epochs, out, extra):
    run_dir = os.path.join(out, f"beta-{beta:g}")
    if not os.path.isfile(os.path.join(run_dir, "model.keras")):
        command = [sys.executable, "-m", "zoo", "train", recipe, "--set", f"beta={beta}", "--epochs", str(epochs),
                   "--out", run_dir, "--quiet", "--num-samples", "100", *extra]
        subprocess.run(command, check=True, cwd=ROOT)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return {"beta": beta, "rate_nats": metrics["test_kl"], "distortion_nats": metrics["test_reconstruction"],
            "negative_elbo": -metrics["test_elbo"], "mse": metrics["reconstruction_mse"],
            "active_units": metrics["active_units"], "nll_k100": metrics["nll"], "train_seconds": metrics["train_seconds"]}


def draw(points, path, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    rates = [p["rate_nats"] for p in points]
    distortions = [p["distortion_nats"] for p in points]
    ax.plot(rates, distortions, "o-")
    for p in points:
        ax.annotate(f"β={p['beta']:g}", (p["rate_nats"], p["distortion_nats"]), fontsize=8,
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("rate R = KL(q(z|x) || p(z)) (nats)")
    ax.set_ylabel("distortion D = E_q[-log p(x|z)] (nats)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    tmp = path + ".tmp"
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="vae-digits")
    parser.add_argument("--betas", default="0.1,0.3,1,3,10")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--out", default="runs/rate_distortion")
    parser.add_argument("--dataset", help="passed to zoo train (e.g. npz:runs/mnist5k.npz)")
    args = parser.parse_args()
    betas = [float(b) for b in args.betas.split(",")]
    if not betas or min(betas) <= 0:
        raise SystemExit(f"--betas must be positive numbers, got {args.betas!r}")
    os.makedirs(args.out, exist_ok=True)
    extra = ["--dataset", args.dataset] if args.dataset else []
    points = [train_point(args.recipe, beta, args.epochs, os.path.abspath(args.out), extra) for beta in betas]
    print(f"{'beta':>6} {'rate R':>8} {'dist D':>8} {'D+R':>8} {'mse':>8} {'active':>6}")
    for p in points:
        print(f"{p['beta']:>6g} {p['rate_nats']:>8.2f} {p['distortion_nats']:>8.2f} {p['negative_elbo']:>8.2f} "
              f"{p['mse']:>8.4f} {p['active_units']:>6}")
    result = {"recipe": args.recipe, "epochs": args.epochs, "dataset": args.dataset or "recipe default",
              "points": points}
    tmp = os.path.join(args.out, "rate_distortion.json.tmp")
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, os.path.join(args.out, "rate_distortion.json"))
    draw(points, os.path.join(args.out, "rate_distortion.png"), f"{args.recipe}: beta sweep ({args.epochs} epochs)")


if __name__ == "__main__":
    main()
