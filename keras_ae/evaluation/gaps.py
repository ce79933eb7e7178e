"""The inference gap of a VAE and its split into approximation and amortization gaps (Cremer et al. 2018).

Cremer, Li & Duvenaud 2018, "Inference Suboptimality in Variational Autoencoders". For an example
``x``, a trained decoder ``p(x|z) p(z)`` and its encoder ``q(z|x)``::

    log p(x) - L[q]  =  (log p(x) - L[q*])  +  (L[q*] - L[q])
    inference gap    =  approximation gap   +  amortization gap

where ``L[r] = E_r[log p(x, z) - log r(z)]`` is the ELBO of a distribution ``r`` and ``q*`` is
the best member of a variational family *for this one example*, found by optimising that
example's own parameters against the frozen decoder (here with Adam, from the encoder's answer).
The approximation gap is what the family cannot express, the amortization gap what the encoder
loses by predicting the parameters instead of optimising them. Both are non-negative in
expectation (``q*`` is optimal in the family; the encoder's answer is a member of it).

Two local families:

- ``"gaussian"``: a factorized Gaussian ``N(m, diag(s^2))`` per example, the encoder's family for
  the VAE and IWAE;
- ``"flow"``: the same Gaussian pushed through ``K`` planar flows (Rezende & Mohamed 2015) whose
  parameters ``u, w, b`` are the example's own; started at the identity (``u = 0``), so it starts
  where the Gaussian does. Cremer et al. use a flexible family of this kind to show how much of
  the approximation gap the Gaussian family itself causes.

``log p(x)`` comes from annealed importance sampling (:mod:`keras_ae.evaluation.ais`) or, cheaper and looser,
from importance sampling with many samples. Published on MNIST (Cremer et al., Table 2, a
factorized-Gaussian VAE): approximation gap about 1.4 nats, amortization gap about 1.3.
"""

from typing import Callable, Dict, NamedTuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, samplers
from keras_ae.layers.flows import PlanarBijector

tfd, tfb = tfp.distributions, tfp.bijectors

FAMILIES = ("gaussian", "flow")

#: Adam's learning rate for the local parameters, Cremer et al.'s. Measured with
#: ``benchmarks/gap_learning_rate.py`` on 100 test digits of a trained ``vae-digits`` (from the
#: encoder's answer): 1e-3 for 1000 steps reaches the ELBO of 4000 steps (-23.925 both; the
#: encoder's -24.207), while 1e-2 stops 0.015 nats short (the jitter of noisy gradients) and 3e-2
#: 0.05 nats short.
LEARNING_RATE = 1e-3
#: The scale of the local Gaussian is ``softplus(raw) + SCALE_FLOOR`` (no division by zero).
SCALE_FLOOR = 1e-5


class LocalPosterior(NamedTuple):
    """A per-example variational distribution after local optimisation.

    ``distribution`` is a batch ``[B]`` distribution over ``[d]`` codes; ``trace`` ``[steps]`` the
    mean training ELBO at every step (the last ones show convergence).
    """

    distribution: tfd.Distribution
    trace: np.ndarray


def _inverse_softplus(y):
    return y + np.log(-np.expm1(-y))


def local_distribution(mean, raw_scale, flow_params=None):
    """``N(mean, diag(softplus(raw_scale) + floor))``, optionally pushed through per-example planar flows."""
    base = tfd.MultivariateNormalDiag(mean, tf.nn.softplus(raw_scale) + SCALE_FLOOR)
    if flow_params is None:
        return base
    u, w, b = flow_params  # [B, K, d], [B, K, d], [B, K]
    steps = [PlanarBijector(u[:, k], w[:, k], b[:, k], name=f"local_planar_{k}") for k in range(u.shape[1])]
    return tfd.TransformedDistribution(base, tfb.Chain(steps[::-1]))


def elbo_estimate(log_joint: Callable, distribution, num_samples: int, seed):
    """Monte Carlo ELBO ``E_r[log p(x, z) - log r(z)]`` per example and its standard error, each ``[B]``.

    ``log_joint`` maps codes ``[n, B, d]`` to ``[n, B]``; samples are drawn in chunks of 100.
    """
    num_samples = _checks.check_positive_int(num_samples, "num_samples")
    values = []
    for i, start in enumerate(range(0, num_samples, 100)):
        n = min(100, num_samples - start)
        z = distribution.sample(n, seed=samplers.fold_seed(samplers.stateless_seed(seed), i))
        values.append((log_joint(z) - distribution.log_prob(z)).numpy().astype(np.float64))
    values = np.concatenate(values, axis=0)
    se = values.std(axis=0, ddof=1) / np.sqrt(num_samples) if num_samples > 1 else np.full(values.shape[1], np.inf)
    return values.mean(axis=0), se


def optimize_local_posterior(log_joint: Callable, init_mean, init_scale, family: str = "gaussian",
                             steps: int = 1000, learning_rate: float = LEARNING_RATE, num_samples: int = 10,
                             flow_steps: int = 10, seed=0) -> LocalPosterior:
    """Maximise each example's own ELBO over a local family, from ``N(init_mean, diag(init_scale^2))``.

    The objective is ``sum_b L_b[r_b]``, whose gradient with respect to example ``b``'s parameters
    is that of ``L_b`` alone, and Adam scales every coordinate separately: one joint run is ``B``
    independent optimisations. Each step estimates the ELBOs with ``num_samples`` reparameterized
    draws (fresh per step, from the stateless ``seed``).

    Args:
        log_joint: codes ``[n, B, d]`` -> ``log p(x, z)`` ``[n, B]`` for the fixed batch.
        init_mean, init_scale: ``[B, d]`` starting Gaussian (the encoder's answer).
        family: ``"gaussian"`` or ``"flow"`` (the Gaussian and ``flow_steps`` planar flows).
        steps: Adam steps, default 1000.
        learning_rate: default :data:`LEARNING_RATE`.
        num_samples: draws per step, default 10.
        flow_steps: planar flows of the ``"flow"`` family, default 10.
        seed: integer seed.
    """
    family = _checks.check_choice(family, "family", FAMILIES)
    steps = _checks.check_positive_int(steps, "steps")
    num_samples = _checks.check_positive_int(num_samples, "num_samples")
    flow_steps = _checks.check_positive_int(flow_steps, "flow_steps")
    learning_rate = _checks.check_number(learning_rate, "learning_rate", minimum=0.0, exclusive_minimum=True)
    init_mean = np.asarray(init_mean, np.float32)
    init_scale = np.asarray(init_scale, np.float32)
    if init_mean.ndim != 2 or init_scale.shape != init_mean.shape:
        raise ValueError(f"init_mean and init_scale must both be [batch, latent_dim], got shapes {init_mean.shape} "
                         f"and {init_scale.shape}")
    if not np.all(np.isfinite(init_mean)) or not np.all(init_scale > 0):
        raise ValueError("init_mean must be finite and init_scale positive")
    batch, dim = init_mean.shape
    mean = tf.Variable(init_mean, name="local_mean")
    raw_scale = tf.Variable(_inverse_softplus(np.maximum(init_scale - SCALE_FLOOR, 1e-6)).astype(np.float32),
                            name="local_raw_scale")
    variables = [mean, raw_scale]
    flow = None
    if family == "flow":
        rng = np.random.default_rng(int(np.asarray(samplers.stateless_seed(seed))[0]))
        flow = (tf.Variable(tf.zeros([batch, flow_steps, dim]), name="local_u"),
                tf.Variable(rng.normal(0.0, 0.1, (batch, flow_steps, dim)).astype(np.float32), name="local_w"),
                tf.Variable(tf.zeros([batch, flow_steps]), name="local_b"))
        variables += list(flow)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(variables)
    base_seed = samplers.stateless_seed(seed)

    @tf.function(autograph=False)
    def step(t):
        with tf.GradientTape() as tape:
            r = local_distribution(mean, raw_scale, flow)
            z = r.sample(num_samples, seed=samplers.fold_seed(base_seed, t))
            elbo = tf.reduce_mean(log_joint(z) - r.log_prob(z), axis=0)  # [B]
            loss = -tf.reduce_sum(elbo)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return tf.reduce_mean(elbo)

    trace = np.array([float(step(tf.constant(t))) for t in range(steps)])
    # the final distribution holds the variables' current values (a snapshot, not live variables)
    snapshot = [tf.constant(v.numpy()) for v in variables]
    flow_params = tuple(snapshot[2:]) if family == "flow" else None
    return LocalPosterior(local_distribution(snapshot[0], snapshot[1], flow_params), trace)


def _check_model(model):
    """Refuse what the gap tool cannot measure, by the model's declarations.

    It needs a posterior and importance weights (``is_probabilistic``) over a flat float code.
    A conditional model is refused: its gaps would be those of ``p(x | y)``, a different
    quantity from the unconditional ones this tool reports next to other models' (and M2's
    ``log p(x)`` marginalises the label, which a local posterior over ``z`` alone cannot).
    """
    model.require("is_probabilistic", "the inference gaps (keras_ae.evaluation.gaps)")
    if model.capabilities()["is_conditional"]:
        raise ValueError(f"{type(model).__name__} declares is_conditional (condition "
                         f"{sorted(model.capabilities()['condition_spec'])}): the inference gaps "
                         "(keras_ae.evaluation.gaps) are those of an unconditional p(x, z); a conditional model "
                         "is not measured")
    spec = model.code_spec
    if spec.dtype != tf.float32 or len(spec.shape) != 1:
        raise ValueError(f"{type(model).__name__} has codes {spec}: the gap tool needs a flat float latent vector")


def inference_gaps(model, x, families=("gaussian", "flow"), steps: int = 1000, learning_rate: float = LEARNING_RATE,
                   train_samples: int = 10, elbo_samples: int = 1000, log_px_method: str = "ais",
                   log_px_samples: int = 16, ais_steps: int = 1000, flow_steps: int = 10,
                   seed: int = 0, log_px=None) -> Dict[str, np.ndarray]:
    """Per-example ``log p(x)``, ``L[q]``, ``L[q*]`` per local family, and the gap split, in nats.

    Args:
        model: a trained VAE-family model (continuous, flat latent; not conditional).
        x: a batch ``[B, *input_shape]`` (split larger sets into batches of about 100).
        families: local families to optimise, from ``("gaussian", "flow")``.
        steps, learning_rate, train_samples, flow_steps: of :func:`optimize_local_posterior`.
        elbo_samples: draws for the final ELBO estimates of ``q`` and ``q*``, default 1000.
        log_px_method: ``"ais"`` (default, the tight estimate) or ``"importance"``.
        log_px_samples: AIS chains (default 16) or importance samples.
        ais_steps: AIS transitions, default 1000.
        seed: integer seed.
        log_px: ``[B]`` estimates of ``log p(x)`` already computed (e.g. by AIS for the same
            examples); then ``log_px_method`` and its settings are not used.

    Returns:
        a dict of float64 ``[B]`` arrays: ``log_px``, ``elbo_amortized`` (and ``_se``), and per
        family ``elbo_<family>`` (and ``_se``), ``approximation_gap_<family>`` and
        ``amortization_gap_<family>``; plus ``inference_gap`` ``= log_px - elbo_amortized``
        (which each family's two gaps add up to exactly).
    """
    _check_model(model)
    x = model.check_inputs(x)
    families = tuple(_checks.check_choice(f, "families", FAMILIES) for f in families)
    if not families:
        raise ValueError("families must name at least one local family")
    _checks.check_seed(seed)
    prior = model._prior()

    def log_joint(z):
        return tf.cast(prior.log_prob(z), tf.float32) + model.log_prob_of_codes(x, z)

    if log_px is None:
        log_px = model.log_likelihood(x, num_samples=log_px_samples, seed=seed, method=log_px_method,
                                      ais_steps=ais_steps).numpy()
    log_px = np.asarray(log_px, np.float64)
    if log_px.shape != (int(x.shape[0]),):
        raise ValueError(f"log_px must hold one value per example, shape ({int(x.shape[0])},), got {log_px.shape}")
    out = {"log_px": log_px}
    q = model._posterior(x)
    out["elbo_amortized"], out["elbo_amortized_se"] = elbo_estimate(log_joint, q, elbo_samples, seed + 1)
    out["inference_gap"] = out["log_px"] - out["elbo_amortized"]
    start = model.encode_outputs(x)
    # the encoder's Gaussian (a flow posterior: its output code and its base Gaussian's scale)
    init_mean = start.get("mean", start["code"]).numpy()
    init_scale = start.get("scale", start.get("base_scale"))
    init_scale = np.ones_like(init_mean) if init_scale is None else init_scale.numpy()
    for i, family in enumerate(families):
        local = optimize_local_posterior(log_joint, init_mean, init_scale, family=family, steps=steps,
                                         learning_rate=learning_rate, num_samples=train_samples,
                                         flow_steps=flow_steps, seed=seed + 2 + i)
        elbo, se = elbo_estimate(log_joint, local.distribution, elbo_samples, seed + 10 + i)
        out[f"elbo_{family}"], out[f"elbo_{family}_se"] = elbo, se
        out[f"approximation_gap_{family}"] = out["log_px"] - elbo
        out[f"amortization_gap_{family}"] = elbo - out["elbo_amortized"]
        tail = local.trace[-max(1, steps // 10):]
        out[f"last_tenth_gain_{family}"] = np.full(len(elbo), float(tail[-1] - tail[0]))
    return out


def gap_metrics(model, x, batch_size: int = 100, seed: int = 0, log_px=None, **kwargs) -> Dict[str, float]:
    """:func:`inference_gaps` over a whole test array in batches, summarised as means in nats.

    Returns ``{"gap_log_px", "gap_elbo_amortized", "gap_inference", "gap_elbo_<family>",
    "gap_approximation_<family>", "gap_amortization_<family>"}`` (means over the examples, each
    with a ``_stderr`` over examples), ``"gap_examples"`` and the settings, ready for
    ``metrics.json``. ``log_px`` ``[N]``: estimates already computed for ``x`` (optional).
    Keyword arguments go to :func:`inference_gaps`.
    """
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    x = np.asarray(x)
    if not len(x):
        raise ValueError("x is empty: there are no examples to measure the gaps of")
    if log_px is not None and np.shape(log_px) != (len(x),):
        raise ValueError(f"log_px must hold one value per example, shape ({len(x)},), got {np.shape(log_px)}")
    parts = [inference_gaps(model, x[i:i + batch_size], seed=seed + 1000 * (i // batch_size),
                            log_px=None if log_px is None else log_px[i:i + batch_size], **kwargs)
             for i in range(0, len(x), batch_size)]
    per_example = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if not k.endswith("_se")}
    names = {"log_px": "gap_log_px", "elbo_amortized": "gap_elbo_amortized", "inference_gap": "gap_inference"}
    for family in FAMILIES:
        names.update({f"elbo_{family}": f"gap_elbo_{family}",
                      f"approximation_gap_{family}": f"gap_approximation_{family}",
                      f"amortization_gap_{family}": f"gap_amortization_{family}"})
    out = {"gap_examples": len(x)}
    for key, name in names.items():
        if key in per_example:
            values = per_example[key]
            out[name] = float(values.mean())
            out[name + "_stderr"] = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    for family in FAMILIES:
        if f"last_tenth_gain_{family}" in per_example:  # the same number for every example of a batch
            out[f"gap_last_tenth_gain_{family}"] = float(np.max(per_example[f"last_tenth_gain_{family}"]))
    return out
