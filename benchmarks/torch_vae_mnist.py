"""The PyTorch side of ``benchmarks/vae_vs_torch.py``: the 784-512-16 Bernoulli VAE, trained and scored.

Run by the comparison script with a Python that has PyTorch (not a keras-ae dependency). Same
architecture as ``keras_ae.models.VAE(input_shape=(28, 28, 1), latent_dim=16, hidden_units=(512,))``:
encoder 784-512 (ReLU) -> 2 x 16 (location, softplus scale + 1e-4), decoder 16-512 (ReLU) -> 784
Bernoulli logits, the analytic KL to N(0, I); PyTorch's default initialization; Adam(1e-3); the
data shuffled every epoch. Prints one JSON line: the whole-fit seconds and the test NLL, computed
by ``benchmarks/is_estimator.py`` from log-densities evaluated here.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import is_estimator  # noqa: E402

LATENT = 16


class VAE(nn.Module):
    def __init__(self, data_dim=784, hidden=512, latent=LATENT):
        super().__init__()
        self.enc = nn.Linear(data_dim, hidden)
        self.enc_out = nn.Linear(hidden, 2 * latent)
        self.dec = nn.Linear(latent, hidden)
        self.dec_out = nn.Linear(hidden, data_dim)

    def posterior(self, x):
        p = self.enc_out(F.relu(self.enc(x))).view(-1, LATENT, 2)  # interleaved, as the Keras head
        return p[..., 0], F.softplus(p[..., 1]) + 1e-4

    def log_px(self, x, z):
        logits = self.dec_out(F.relu(self.dec(z)))
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)

    def loss(self, x):
        loc, scale = self.posterior(x)
        z = loc + scale * torch.randn_like(loc)
        kl = 0.5 * (loc**2 + scale**2 - 1).sum(-1) - torch.log(scale).sum(-1)
        return (-self.log_px(x, z) + kl).mean()


def normal_log_prob(z, loc, scale):
    return (-0.5 * ((z - loc) / scale) ** 2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def test_log_likelihood(model, x, num_samples, batch_size=100):
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        loc, scale = model.posterior(xb)
        z = loc[None] + scale[None] * torch.randn((num_samples,) + tuple(loc.shape))  # [k, B, d]
        log_px = model.log_px(xb[None].expand(num_samples, -1, -1).reshape(-1, xb.shape[1]),
                              z.reshape(-1, LATENT)).reshape(num_samples, -1)
        log_pz = normal_log_prob(z, torch.zeros(()), torch.ones(()))
        log_qz = normal_log_prob(z, loc[None], scale[None])
        out.append(is_estimator.log_likelihood(log_px.numpy(), log_pz.numpy(), log_qz.numpy()))
    return np.concatenate(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="npz with binarized x_train, x_test (float32, [N, 784])")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    data = np.load(args.data)
    x_train, x_test = torch.from_numpy(data["x_train"]), torch.from_numpy(data["x_test"])
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(len(x_train))
        for i in range(0, len(x_train), args.batch_size):
            opt.zero_grad(set_to_none=True)
            model.loss(x_train[order[i:i + args.batch_size]]).backward()
            opt.step()
    fit_seconds = time.perf_counter() - start
    nll, se = is_estimator.mean_nll(test_log_likelihood(model, x_test, args.num_samples))
    print(json.dumps({"framework": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
                      "fit_seconds": round(fit_seconds, 2), "nll": round(nll, 3), "nll_stderr": round(se, 3)}))


if __name__ == "__main__":
    main()
