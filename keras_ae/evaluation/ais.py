"""Annealed importance sampling (Neal 2001) of ``log p(x)`` and its reverse, the BDMC upper bound.

For a decoder-based model (Wu et al. 2017, "On the quantitative analysis of decoder-based
generative models") AIS anneals from a normalized initial density ``pi_0(z)`` (the prior, or the
encoder's ``q(z|x)``) to the unnormalized posterior ``p(x, z)`` along the geometric path::

    log f_b(z) = log pi_0(z) + b * (log p(x, z) - log pi_0(z)),   0 = b_0 < b_1 < ... < b_T = 1

Each chain starts at ``z_0 ~ pi_0``, and at step ``t`` adds ``(b_t - b_{t-1}) * (log p(x, z) -
log pi_0(z))`` at its current state to its log weight, then moves ``z`` by one Hamiltonian Monte
Carlo transition (``tfp.mcmc.HamiltonianMonteCarlo``) that leaves ``f_{b_t}`` invariant. The mean
of the weights is an unbiased estimate of ``p(x)``, so ``log mean_c w_c`` is a stochastic *lower*
bound on ``log p(x)`` that becomes exact as ``T`` grows.

Run backwards (``b`` from 1 to 0) from an exact posterior sample, which is available for data
simulated from the model (``z ~ p(z)``, ``x ~ p(x|z)``), the same weights estimate ``1 / p(x)``:
``-log mean_c w_c`` is a stochastic *upper* bound. The two together bracket ``log p(x)``:
bidirectional Monte Carlo (Grosse et al. 2015, "Sandwiching the marginal likelihood using
bidirectional Monte Carlo").

Step sizes are adapted per chain as in Wu et al.: multiplied by 1.02 after an accepted proposal
and by 0.98 after a rejected one, which drives the acceptance rate towards about one half; the
step size at step ``t`` depends only on the past of its chain, so every transition still leaves
its ``f_{b_t}`` invariant and the weights stay valid. The schedule is Grosse et al.'s sigmoid.
"""

from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_ae import _checks, samplers

#: Wu et al. 2017 adapt the leapfrog step size so that the acceptance rate stays near 0.65 with
#: multiplicative steps of 2%; the per-chain rule here (x1.02 accepted, x0.98 rejected) settles
#: where accept * log 1.02 = reject * log(1/0.98), an acceptance of 0.505.
STEP_SIZE_GROWTH = 1.02
STEP_SIZE_SHRINK = 0.98


class AISResult(NamedTuple):
    """What one AIS run returns.

    ``log_weights`` ``[C, B]`` per chain and example; ``log_marginal`` ``[B]`` is
    ``log mean_c exp(log_weights)`` (forward: the estimate of ``log p(x)``; reverse: of
    ``-log p(x)``); ``final_state`` the chains' last states; ``acceptance_rate`` ``[B]`` the mean
    HMC acceptance over steps and chains.
    """

    log_weights: tf.Tensor
    log_marginal: tf.Tensor
    final_state: tf.Tensor
    acceptance_rate: tf.Tensor


def sigmoid_schedule(num_steps, delta=4.0):
    """``num_steps + 1`` inverse temperatures from 0 to 1, dense at both ends (Grosse et al. 2015).

    ``b_t = (s(d (2t/T - 1)) - s(-d)) / (s(d) - s(-d))`` with ``s`` the logistic function.
    """
    num_steps = _checks.check_positive_int(num_steps, "num_steps")
    s = 1.0 / (1.0 + np.exp(-np.linspace(-delta, delta, num_steps + 1)))
    betas = (s - s[0]) / (s[-1] - s[0])
    betas[0], betas[-1] = 0.0, 1.0
    return betas


def annealed_importance_sampling(log_initial: Callable, log_joint: Callable, initial_state, betas, seed,
                                 num_leapfrog_steps: int = 10, step_size: float = 0.05) -> AISResult:
    """Run AIS chains along ``betas``; forward when ``betas`` rise from 0 to 1, reverse when they fall.

    Args:
        log_initial: ``z [C, B, *event] -> [C, B]``, the normalized ``log pi_0(z)``.
        log_joint: ``z -> [C, B]``, the unnormalized target ``log p(x, z)``.
        initial_state: ``[C, B, *event]`` float32 draws from ``pi_0`` (forward) or from the
            exact posterior (reverse).
        betas: the inverse temperatures, a 1-D array from 0 to 1 or from 1 to 0 (at least 2).
        seed: a stateless ``[2]`` seed (or an integer): the same seed, the same estimate.
        num_leapfrog_steps: leapfrog steps per HMC transition, default 10 (Wu et al.).
        step_size: the initial leapfrog step size, default 0.05, adapted per chain.
    """
    betas = np.asarray(betas, np.float64)
    if betas.ndim != 1 or len(betas) < 2 or {float(betas[0]), float(betas[-1])} != {0.0, 1.0}:
        raise ValueError(f"betas must be a 1-D schedule from 0 to 1 or from 1 to 0, got {betas!r:.80}")
    if not (np.all(np.diff(betas) >= 0) or np.all(np.diff(betas) <= 0)):
        raise ValueError("betas must be monotonic")
    num_leapfrog_steps = _checks.check_positive_int(num_leapfrog_steps, "num_leapfrog_steps")
    step_size = _checks.check_number(step_size, "step_size", minimum=0.0, exclusive_minimum=True)
    state = tf.convert_to_tensor(initial_state, tf.float32)
    if state.shape.rank < 3:
        raise ValueError(f"initial_state must be [chains, batch, *event], got shape {state.shape}")
    seed = samplers.stateless_seed(seed)
    event_rank = state.shape.rank - 2
    return _run(log_initial, log_joint, state, tf.constant(betas, tf.float32), seed, num_leapfrog_steps,
                tf.fill(tf.concat([tf.shape(state)[:2], tf.ones([event_rank], tf.int32)], 0), step_size))


def _run(log_initial, log_joint, state, betas, seed, num_leapfrog_steps, step_sizes):
    def log_ratio(z):
        return log_joint(z) - log_initial(z)

    @tf.function(autograph=False)
    def run(state, step_sizes):
        def body(t, z, log_w, steps, accepted_sum):
            beta_prev, beta = betas[t - 1], betas[t]
            log_w = log_w + (beta - beta_prev) * log_ratio(z)

            def target(z):
                return log_initial(z) + beta * log_ratio(z)

            kernel = tfp.mcmc.HamiltonianMonteCarlo(target, step_size=steps, num_leapfrog_steps=num_leapfrog_steps)
            z, results = kernel.one_step(z, kernel.bootstrap_results(z), seed=samplers.fold_seed(seed, t))
            accepted = tf.cast(results.is_accepted, tf.float32)
            factor = tf.where(results.is_accepted, STEP_SIZE_GROWTH, STEP_SIZE_SHRINK)
            steps = steps * tf.reshape(factor, tf.shape(steps))
            return t + 1, z, log_w, steps, accepted_sum + accepted

        num_steps = tf.shape(betas)[0] - 1
        zeros = tf.zeros(tf.shape(state)[:2])
        _, z, log_w, _, accepted = tf.while_loop(
            lambda t, *_: t <= num_steps, body, (tf.constant(1), state, zeros, step_sizes, zeros))
        return z, log_w, accepted / tf.cast(num_steps, tf.float32)

    z, log_w, accepted = run(state, step_sizes)
    chains = tf.cast(tf.shape(log_w)[0], tf.float32)
    log_marginal = tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(chains)
    return AISResult(log_w, log_marginal, z, tf.reduce_mean(accepted, axis=0))


def forward_bound(log_initial, log_joint, initial_state, num_steps, seed, **kwargs) -> AISResult:
    """AIS from ``pi_0`` to ``p(x, z)`` over a sigmoid schedule: ``log_marginal`` is a lower bound on ``log p(x)``."""
    return annealed_importance_sampling(log_initial, log_joint, initial_state, sigmoid_schedule(num_steps), seed,
                                        **kwargs)


def reverse_bound(log_initial, log_joint, posterior_state, num_steps, seed, **kwargs) -> AISResult:
    """Reverse AIS from exact posterior draws: ``-log_marginal`` is an upper bound on ``log p(x)`` (BDMC).

    The returned ``log_marginal`` is already negated: it is the upper-bound estimate of ``log p(x)``.
    """
    result = annealed_importance_sampling(log_initial, log_joint, posterior_state, sigmoid_schedule(num_steps)[::-1],
                                          seed, **kwargs)
    return result._replace(log_marginal=-result.log_marginal)
