"""Reference: the same MLP VAE (784-512-16-512-784, Bernoulli, Adam) as a plain PyTorch loop.

Needs PyTorch (not a keras-ae dependency): ``pip install torch`` in a separate environment, then
``python benchmarks/torch_vae_loop.py [--steps 2000] [--batch-size 100]``. Prints steady-state
examples per second on random binary data, for comparison with ``python -m zoo bench vae-mnist``.
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from torch_vae_mnist import VAE  # noqa: E402  (one definition of the PyTorch model)


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
