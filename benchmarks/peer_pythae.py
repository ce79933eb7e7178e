"""The peer side of ``benchmarks/peer_parity.py``: one family trained and scored with pythae (PyTorch).

Run by ``peer_parity.py`` as a subprocess with the Python of a separate virtual environment that
has CPU PyTorch and pythae (never a keras-ae dependency; ``peer_parity.py`` says how to make it):

    PEER_PYTHON benchmarks/peer_pythae.py DATA.npz --family vae --epochs 30 --seed 0 \
        --num-samples 500 --shared '{}' --per-example OUT.npz

``DATA.npz`` holds the bits the Keras side binarized (``x_train``, ``x_test``: float32 ``[N, 784]``).
The model is pythae's own class with its default 784-512-16 MLP (the VQ-VAE gets the convolutional
networks of keras-ae's ``VQVAE``, written below), trained by pythae's own trainer for the family
(batch 100, Adam 1e-3, no eval set: the trainer then keeps the epoch with the lowest mean training
loss). ``--shared`` carries the family's hyperparameters: the numbers the Keras side uses.

Scoring reads the trained model's own modules: the encoder's outputs, the flows' passes and
log-determinants, the VampPrior's pseudo-inputs, and the decoder's logits (the layer before the
default decoder's sigmoid, so ``log p(x|z)`` stays exact where probabilities round to 0 or 1). The
three ``[k, B]`` log-densities go to ``benchmarks/is_estimator.py``, the estimator of the Keras
side. ``--check-nll N`` also runs the library's own ``get_nll`` on the first ``N`` test images, to
check these log-densities against it. Prints one JSON line; per-example values go to
``--per-example`` for the paired comparison.
"""

import argparse
import contextlib
import importlib.metadata
import json
import logging
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import is_estimator  # noqa: E402

from pythae import models as pm  # noqa: E402
from pythae import trainers as pt  # noqa: E402
from pythae.data.preprocessors import DataProcessor  # noqa: E402
from pythae.models.base.base_utils import ModelOutput  # noqa: E402
from pythae.models.nn import BaseDecoder, BaseEncoder  # noqa: E402
from pythae.trainers.training_callbacks import TrainingCallback  # noqa: E402

INPUT_DIM = (1, 28, 28)
LATENT = 16
BATCH = 100
LEARNING_RATE = 1e-3
LOG_2PI = math.log(2 * math.pi)


# -- the VQ-VAE's networks: keras-ae's GridEncoderBody / GridDecoderBody with filters (32, 64) ----------
class GridEncoder(BaseEncoder):
    """``[B, 1, 28, 28]`` -> ``[B, D, 7, 7]``: two stride-2 3x3 convolutions, a 3x3, a linear 1x1."""

    def __init__(self, embedding_dim, filters=(32, 64)):
        BaseEncoder.__init__(self)
        layers, channels = [], INPUT_DIM[0]
        for f in filters:
            layers += [nn.Conv2d(channels, f, 3, stride=2, padding=1), nn.ReLU()]
            channels = f
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, embedding_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return ModelOutput(embedding=self.net(x.reshape((-1,) + INPUT_DIM)))


class GridDecoder(BaseDecoder):
    """``[B, D, 7, 7]`` -> ``[B, 1, 28, 28]``: a 3x3 convolution, two stride-2 transposed ones, a linear 1x1 head."""

    def __init__(self, embedding_dim, filters=(32, 64)):
        BaseDecoder.__init__(self)
        layers, channels = [nn.Conv2d(embedding_dim, filters[-1], 3, padding=1), nn.ReLU()], filters[-1]
        for f in reversed(filters):
            layers += [nn.ConvTranspose2d(channels, f, 3, stride=2, padding=1, output_padding=1), nn.ReLU()]
            channels = f
        layers.append(nn.Conv2d(channels, INPUT_DIM[0], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return ModelOutput(reconstruction=self.net(z))


# -- the families: pythae model, trainer, and how to score it ------------------------------------------
def base_config(**kwargs):
    return dict(input_dim=INPUT_DIM, latent_dim=LATENT, **kwargs)


def adversarial_trainer(discriminator):
    """pythae's two-optimizer trainer: the autoencoder at Adam 1e-3, the discriminator as the Keras side's."""
    return pt.AdversarialTrainerConfig, dict(
        autoencoder_learning_rate=LEARNING_RATE, discriminator_learning_rate=discriminator["learning_rate"],
        discriminator_optimizer_params={"betas": tuple(discriminator["betas"])})


def build(family, shared, n_train):
    """``(model, trainer config class, trainer config arguments, posterior kind, prior kind)``."""
    base_trainer = (pt.BaseTrainerConfig, dict(learning_rate=LEARNING_RATE))
    if family == "vae":
        return pm.VAE(pm.VAEConfig(**base_config(reconstruction_loss="bce"))), *base_trainer, "gaussian", "normal"
    if family == "beta-vae":
        model = pm.BetaVAE(pm.BetaVAEConfig(**base_config(reconstruction_loss="bce", beta=shared["beta"])))
        return model, *base_trainer, "gaussian", "normal"
    if family == "iwae":
        model = pm.IWAE(pm.IWAEConfig(**base_config(reconstruction_loss="bce", number_samples=shared["num_samples"])))
        return model, *base_trainer, "gaussian", "normal"
    if family == "vampprior":
        model = pm.VAMP(pm.VAMPConfig(**base_config(reconstruction_loss="bce",
                                                    number_components=shared["pseudo_inputs"])))
        return model, *base_trainer, "gaussian", "vamp"
    if family == "iaf":
        model = pm.VAE_IAF(pm.VAE_IAF_Config(**base_config(
            reconstruction_loss="bce", n_made_blocks=shared["flow_steps"],
            n_hidden_in_made=len(shared["flow_hidden_units"]), hidden_size=shared["flow_hidden_units"][0])))
        return model, *base_trainer, "iaf", "normal"
    if family == "planar":
        model = pm.VAE_LinNF(pm.VAE_LinNF_Config(**base_config(reconstruction_loss="bce",
                                                               flows=["Planar"] * shared["flow_steps"])))
        return model, *base_trainer, "planar", "normal"
    if family == "rae-l2":
        # Adam's weight_decay adds wd * theta to the gradient: the gradient of (wd / 2) ||theta||^2.
        wd = 2.0 * shared["decoder_weight"]
        model = pm.RAE_L2(pm.RAE_L2_Config(**base_config(embedding_weight=shared["beta"], reg_weight=wd)))
        return (model, pt.CoupledOptimizerTrainerConfig,
                dict(encoder_learning_rate=LEARNING_RATE, decoder_learning_rate=LEARNING_RATE,
                     decoder_optimizer_params={"weight_decay": wd}), "deterministic", None)
    if family == "rae-gp":
        model = pm.RAE_GP(pm.RAE_GP_Config(**base_config(embedding_weight=shared["beta"],
                                                         reg_weight=shared["decoder_weight"])))
        return model, *base_trainer, "deterministic", None
    if family == "wae-mmd":
        model = pm.WAE_MMD(pm.WAE_MMD_Config(**base_config(
            kernel_choice=shared["kernel"], reg_weight=shared["mmd_weight"], kernel_bandwidth=1.0,
            scales=list(shared["kernel_multipliers"]), reconstruction_loss_scale=1.0)))
        return model, *base_trainer, "deterministic", None
    if family == "infovae":
        model = pm.INFOVAE_MMD(pm.INFOVAE_MMD_Config(**base_config(
            reconstruction_loss="bce", kernel_choice=shared["kernel"], alpha=shared["alpha"],
            lbd=shared["mmd_weight"], kernel_bandwidth=1.0, scales=list(shared["kernel_multipliers"]))))
        return model, *base_trainer, "gaussian", "normal"
    if family == "beta-tcvae":
        model = pm.BetaTCVAE(pm.BetaTCVAEConfig(**base_config(
            reconstruction_loss="bce", alpha=shared["alpha"], beta=shared["beta"], gamma=shared["gamma"],
            use_mss=shared["estimator"] == "mss")))
        return model, *base_trainer, "gaussian", "normal"
    if family == "factorvae":
        model = pm.FactorVAE(pm.FactorVAEConfig(**base_config(reconstruction_loss="bce", gamma=shared["gamma"])))
        return model, *adversarial_trainer(shared["discriminator_optimizer"]), "gaussian", "normal"
    if family == "vqvae":
        d = shared["embedding_dim"]
        grid_elements = 7 * 7 * d  # pythae averages the VQ terms over elements; keras-ae sums them per example
        config = pm.VQVAEConfig(**base_config(
            num_embeddings=shared["num_codes"], use_ema=False,
            commitment_loss_factor=shared["beta"] * grid_elements, quantization_loss_factor=1.0 * grid_elements))
        model = pm.VQVAE(config, encoder=GridEncoder(d, tuple(shared["filters"])),
                         decoder=GridDecoder(d, tuple(shared["filters"])))
        return model, *base_trainer, "vq", None
    if family == "aae":
        model = pm.Adversarial_AE(pm.Adversarial_AE_Config(**base_config(
            reconstruction_loss="bce", adversarial_loss_scale=shared["adversarial_weight"],
            reconstruction_loss_scale=1.0, deterministic_posterior=shared["deterministic_encoder"])))
        return model, *adversarial_trainer(shared["discriminator_optimizer"]), "gaussian", "normal"
    if family == "hyperspherical":
        return pm.SVAE(pm.SVAEConfig(**base_config(reconstruction_loss="bce"))), *base_trainer, "vmf", "sphere"
    raise ValueError(f"family {family!r} has no pythae configuration here")


# -- log-densities from the model's own modules ---------------------------------------------------------
def gaussian_log_prob(z, mu, log_var):
    """``log N(z; mu, exp(log_var))`` summed over the last axis, with its constant."""
    return -0.5 * ((z - mu) ** 2 / log_var.exp() + log_var + LOG_2PI).sum(-1)


def decoder_logits(model, z):
    """Bernoulli logits of the default MLP decoder (its last layer before the sigmoid)."""
    decoder = model.decoder
    hidden, out = decoder.layers
    if not isinstance(out[-1], nn.Sigmoid):
        raise ValueError(f"expected pythae's default decoder ending in a sigmoid, got {out}")
    return out[0](hidden(z))


def vamp_log_prior(model, z):
    """``log (1/C) sum_c N(z; mu(u_c), var(u_c))`` over the model's pseudo-inputs ``u_c``."""
    c = model.number_components
    u = model.pseudo_inputs(model.idle_input.to(z.device)).reshape((c,) + INPUT_DIM)
    out = model.encoder(u)
    per_component = gaussian_log_prob(z[:, None, :], out.embedding[None], out.log_covariance[None])  # [N, C]
    return torch.logsumexp(per_component, dim=1) - math.log(c)


def sphere_area_log(m):
    """``log`` of the area of the unit sphere in ``R^m``: ``log 2 + (m/2) log pi - lgamma(m/2)``."""
    return math.log(2.0) + 0.5 * m * math.log(math.pi) - math.lgamma(0.5 * m)


def vmf_log_prob(z, loc, kappa):
    """von Mises-Fisher ``log C_m(kappa) + kappa mu.z`` in float64 (``ive``: the scaled Bessel function)."""
    from scipy.special import ive

    m = loc.shape[-1]
    k = kappa.detach().double().numpy()[:, 0]
    log_norm = (0.5 * m - 1) * np.log(k) - 0.5 * m * LOG_2PI - (np.log(ive(0.5 * m - 1, k)) + k)
    return torch.from_numpy(log_norm) + kappa[:, 0].double() * (loc.double() * z.double()).sum(-1)


def vmf_parameters(model, x):
    out = model.encoder(x)
    loc = out.embedding / out.embedding.norm(dim=-1, keepdim=True)
    return loc, F.softplus(out.log_concentration) + 1  # as the model's forward pass (training)


def importance_chunk(model, posterior, prior, x, n):
    """``(log p(x|z), log p(z), log q(z|x))``, each ``[n, B]`` numpy, for ``n`` draws ``z ~ q(z|x)``."""
    batch = x.shape[0]
    flat_x = x.reshape(batch, -1)
    if posterior == "vmf":
        loc, kappa = vmf_parameters(model, x)
        loc_n, kappa_n = loc.repeat(n, 1), kappa.repeat(n, 1)  # sample-major [n * B, ...]
        z = model._sample_von_mises(loc_n, kappa_n)
        log_q = vmf_log_prob(z, loc_n, kappa_n)
    else:
        out = model.encoder(x)
        mu, log_var = out.embedding, out.log_covariance
        z0 = mu + (0.5 * log_var).exp() * torch.randn((n,) + tuple(mu.shape))
        log_q = gaussian_log_prob(z0, mu, log_var).reshape(-1)
        z = z0.reshape(n * batch, -1)
        if posterior == "iaf":
            flow = model.iaf_flow.inverse(z)  # the sampling direction, as the model's forward pass
            z, log_q = flow.out, log_q - flow.log_abs_det_jac
        elif posterior == "planar":
            for layer in model.net:
                step = layer(z)
                z, log_q = step.out, log_q - step.log_abs_det_jac
    if prior == "vamp":
        log_p = vamp_log_prior(model, z)
    elif prior == "sphere":
        log_p = torch.full((z.shape[0],), -sphere_area_log(z.shape[-1]))
    else:
        log_p = gaussian_log_prob(z, torch.zeros(()), torch.zeros(()))
    logits = decoder_logits(model, z.float())
    log_px = -F.binary_cross_entropy_with_logits(logits, flat_x.repeat(n, 1), reduction="none").sum(-1)
    return tuple(t.detach().double().reshape(n, batch).numpy() for t in (log_px, log_p, log_q))


@torch.no_grad()
def test_log_likelihood(model, posterior, prior, x, num_samples, chunk=100):
    """Per-example ``log p(x)`` ``[N]`` from ``is_estimator`` (batches of 100, draws in chunks of ``chunk``)."""
    out = []
    for start in range(0, len(x), BATCH):
        xb = x[start:start + BATCH]
        parts = [importance_chunk(model, posterior, prior, xb, min(chunk, num_samples - s))
                 for s in range(0, num_samples, chunk)]
        out.append(is_estimator.log_likelihood(*(np.concatenate(p, axis=0) for p in zip(*parts))))
    return np.concatenate(out)


@torch.no_grad()
def reconstructions(model, posterior, x):
    """The decoder's mean at the deterministic code (posterior mean, pushed through the flows)."""
    if posterior == "vq":
        embeddings = model.encoder(x).embedding.permute(0, 2, 3, 1)
        return model.decoder(model.quantizer(embeddings).quantized_vector).reconstruction
    if posterior == "vmf":
        code = vmf_parameters(model, x)[0]
    else:
        code = model.encoder(x).embedding
        if posterior == "iaf":
            code = model.iaf_flow.inverse(code).out
        elif posterior == "planar":
            for layer in model.net:
                code = layer(code).out
    return model.decoder(code).reconstruction


def squared_errors(model, posterior, x):
    """Per-example ``sum (x - x_hat)^2`` over the 784 pixels ``[N]``."""
    out = [((reconstructions(model, posterior, x[i:i + BATCH]).reshape(len(x[i:i + BATCH]), -1)
             - x[i:i + BATCH].reshape(len(x[i:i + BATCH]), -1)) ** 2).sum(-1).double().numpy()
           for i in range(0, len(x), BATCH)]
    return np.concatenate(out)


class EpochClock(TrainingCallback):
    """Wall time from the start of training to the end of the last epoch (before the final save)."""

    def on_train_begin(self, training_config, **kwargs):
        self.start = self.end = time.perf_counter()

    def on_log(self, training_config, logs, **kwargs):
        self.end = time.perf_counter()


def train(model, config_cls, config_args, x_train, epochs, seed, output_dir):
    """pythae's trainer for the family; returns ``(trained model, loop seconds, train() seconds)``."""
    config = config_cls(output_dir=output_dir, num_epochs=epochs, per_device_train_batch_size=BATCH, seed=seed,
                        no_cuda=True, **config_args)
    trainer_cls = {pt.BaseTrainerConfig: pt.BaseTrainer, pt.AdversarialTrainerConfig: pt.AdversarialTrainer,
                   pt.CoupledOptimizerTrainerConfig: pt.CoupledOptimizerTrainer}[config_cls]
    clock = EpochClock()
    trainer = trainer_cls(model=model, train_dataset=DataProcessor.to_dataset(x_train), training_config=config,
                          callbacks=[clock])
    start = time.perf_counter()
    trainer.train()
    call_seconds = time.perf_counter() - start
    return trainer._best_model, clock.end - clock.start, call_seconds


def mean_and_se(values):
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="npz with the binarized x_train, x_test (float32, [N, 784])")
    parser.add_argument("--family", required=True)
    parser.add_argument("--shared", default="{}", help="the family's hyperparameters as JSON")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--per-example", help="write per-example test values (log_likelihood, squared_error) here")
    parser.add_argument("--check-nll", type=int, default=0,
                        help="also run the library's get_nll on this many test images (k = --num-samples)")
    parser.add_argument("--output-dir", default=None, help="pythae's output folder (default: beside --per-example)")
    args = parser.parse_args(argv)
    logging.getLogger("pythae").setLevel(logging.WARNING)
    shared = json.loads(args.shared)
    data = np.load(args.data)
    x_train = torch.from_numpy(data["x_train"]).reshape((-1,) + INPUT_DIM)
    x_test = torch.from_numpy(data["x_test"]).reshape((-1,) + INPUT_DIM)
    torch.manual_seed(args.seed)
    model, config_cls, config_args, posterior, prior = build(args.family, shared, len(x_train))
    output_dir = args.output_dir or os.path.join(os.path.dirname(os.path.abspath(args.per_example or args.data)),
                                                 "pythae_runs")
    model, fit_seconds, call_seconds = train(model, config_cls, config_args, x_train, args.epochs, args.seed,
                                             output_dir)
    model.eval()
    torch.manual_seed(args.seed + 1)
    result = {"framework": f"pythae {importlib.metadata.version('pythae')}, torch {torch.__version__}",
              "model": type(model).__name__, "threads": torch.get_num_threads(),
              "fit_seconds": round(fit_seconds, 2), "train_call_seconds": round(call_seconds, 2)}
    per_example = {"squared_error": squared_errors(model, posterior, x_test)}
    result["squared_error"], result["squared_error_stderr"] = mean_and_se(per_example["squared_error"])
    if prior is not None:
        per_example["log_likelihood"] = test_log_likelihood(model, posterior, prior, x_test, args.num_samples)
        result["nll"], result["nll_stderr"] = is_estimator.mean_nll(per_example["log_likelihood"])
    if args.check_nll and prior is not None:
        with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):  # get_nll prints its progress
            x_check = x_test[:args.check_nll]
            ours = -float(test_log_likelihood(model, posterior, prior, x_check, args.num_samples).mean())
            library = -float(model.get_nll(x_check, n_samples=args.num_samples, batch_size=args.num_samples))
        result["check_nll"] = {"images": len(x_check), "here": round(ours, 3), "library_get_nll": round(library, 3)}
    if args.per_example:
        np.savez(args.per_example, **per_example)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}), flush=True)


if __name__ == "__main__":
    main()
