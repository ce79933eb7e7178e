"""Reference: the same MLP VAE (784-512-16-512-784, Bernoulli, Adam) as a plain PyTorch loop.

Needs PyTorch (not a keras-ae dependency): ``pip install torch`` in a separate environment, then
``python benchmarks/torch_vae_loop.py [--steps 2000] [--batch-size 100]``. Prints steady-state
examples per second on random binary data, for comparison with ``python -m zoo bench vae-mnist``.
"""

import argparse
import time

import torch
from torch import nn
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self, data_dim=784, hidden=512, latent=16):
        super().__init__()
        self.enc = nn.Linear(data_dim, hidden)
        self.enc_out = nn.Linear(hidden, 2 * latent)
        self.dec = nn.Linear(latent, hidden)
        self.dec_out = nn.Linear(hidden, data_dim)

    def loss(self, x):
        loc, raw = self.enc_out(F.relu(self.enc(x))).chunk(2, dim=-1)
        scale = F.softplus(raw) + 1e-4
        z = loc + scale * torch.randn_like(loc)
        logits = self.dec_out(F.relu(self.dec(z)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = 0.5 * (loc**2 + scale**2 - 1).sum(-1) - torch.log(scale).sum(-1)
        return (rec + kl).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = (torch.rand(60000, 784) < 0.3).float()
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(data) // args.batch_size

    def step(i):
        x = data[(i % n) * args.batch_size:((i % n) + 1) * args.batch_size]
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x)
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)
    start = time.perf_counter()
    for i in range(args.steps):
        loss = step(i)
    loss.item()
    seconds = time.perf_counter() - start
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}: "
          f"{args.steps * args.batch_size / seconds:,.0f} examples/s, {1000 * seconds / args.steps:.2f} ms/step")


if __name__ == "__main__":
    main()
