"""Estimators against truth on a problem whose meta-loss is a closed form.

LearnedLR (x ← x − e^θ·g) on a fixed quadratic: the loss of every step is a
closed form in the learning rates used before it (`testing.quadratic_losses`),
so the gradient of the Gaussian-smoothed meta-loss is computed by
Gauss–Hermite quadrature in float64. Each estimator's meta-batch of N
independent slots averages N samples; the tolerance is four standard errors
of that average (measured across slots from the same run).
"""

import jax
import jax.numpy as jnp
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_es.full_es import FullES
from lopt_es.meta_loss import MetaLoss
from lopt_es.testing import LearnedLR, QuadraticTask, quadratic_losses
from lopt_es.truncated import PES, TruncatedBPTT, TruncatedES

TASK = QuadraticTask()
FAMILY = lt.SingleTaskFamily(TASK)
LOPT = LearnedLR()
THETA0 = float(np.log(0.4))
THETA = {"log_lr": jnp.asarray(THETA0, jnp.float32)}
SIGMA = 0.1
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
WEIGHTS = WEIGHTS / np.sqrt(2 * np.pi)


def clipped(losses):
    return np.minimum(losses, TASK.normalizer)


def smoothed_truncation(theta1, theta2, t):
    """E over ε1, ε2 of the mean clipped loss of truncation 2 (steps t … 2t−1)."""
    e1, e2 = np.meshgrid(SIGMA * NODES, SIGMA * NODES, indexing="ij")
    lrs = np.concatenate([np.repeat((theta1 + e1)[..., None], t, -1), np.repeat((theta2 + e2)[..., None], t, -1)], -1)
    m2 = clipped(quadratic_losses(lrs))[..., t:].mean(-1)
    return float(np.sum(WEIGHTS[:, None] * WEIGHTS[None, :] * m2))


def derivative(fn, x, h=1e-4):
    return (fn(x + h) - fn(x - h)) / (2 * h)




def run_two_truncations(cls, n, t, key=0):
    estimator = cls(LOPT, FAMILY, num_tasks=n, trunc_length=t, inner_length=2 * t, std=SIGMA, stagger=False)
    state = estimator.init(jax.random.PRNGKey(key), THETA)
    _, state, _ = estimator.estimate(state, THETA, jax.random.PRNGKey(key + 1))
    return estimator.estimate(state, THETA, jax.random.PRNGKey(key + 2))


def batched_estimates(cls, batches, n, t):
    """Estimates of several independent meta-batches: their mean and its standard error."""
    values = np.asarray([float(run_two_truncations(cls, n, t, key=10 * b)[0]["log_lr"]) for b in range(batches)])
    return values.mean(), values.std(ddof=1) / np.sqrt(batches)


def test_pes_is_unbiased_and_truncated_es_is_not():
    t = 4
    truth = derivative(lambda th: smoothed_truncation(th, th, t), THETA0)
    only_second = derivative(lambda th: smoothed_truncation(THETA0, th, t), THETA0)
    assert abs(truth - only_second) > 0.3 * abs(truth)  # θ's effect through the state matters here
    pes_mean, pes_err = batched_estimates(PES, 6, 4000, t)
    tes_mean, tes_err = batched_estimates(TruncatedES, 6, 4000, t)
    assert abs(pes_mean - truth) < 4 * pes_err + 1e-3 * abs(truth), (pes_mean, truth, pes_err)
    assert abs(tes_mean - only_second) < 4 * tes_err + 1e-3 * abs(truth), (tes_mean, only_second, tes_err)
    assert abs(tes_mean - truth) > 10 * tes_err  # the bias is far outside the noise


def test_truncated_bptt_is_the_exact_truncation_gradient():
    t = 4
    grad, _, metrics = run_two_truncations(TruncatedBPTT, 3, t)
    exact = derivative(lambda th: clipped(quadratic_losses(np.r_[np.full(t, THETA0), np.full(t, th)]))[t:].mean(), THETA0)
    np.testing.assert_allclose(float(grad["log_lr"]), exact, rtol=1e-4)
    assert metrics["inner_steps"] == 3 * t


def smoothed_full(theta, steps):
    lrs = np.repeat((theta + SIGMA * NODES)[:, None], steps, -1)
    return float(np.sum(WEIGHTS * clipped(quadratic_losses(lrs)).mean(-1)))


@pytest.mark.parametrize("antithetic", [True, False])
def test_full_es_matches_the_smoothed_gradient(antithetic):
    steps = 8
    truth = derivative(lambda th: smoothed_full(th, steps), THETA0)
    estimates = []
    for b in range(6):
        est = FullES(LOPT, FAMILY, num_tasks=4000, inner_length=steps, steps_per_call=3, std=SIGMA,
                     antithetic=antithetic)
        grad, _, _ = est.estimate(est.init(jax.random.PRNGKey(b), THETA), THETA, jax.random.PRNGKey(100 + b))
        estimates.append(float(grad["log_lr"]))
    mean, err = np.mean(estimates), np.std(estimates, ddof=1) / np.sqrt(len(estimates))
    assert abs(mean - truth) < 4 * err + 1e-3 * abs(truth), (mean, truth, err)


def test_antithetic_pairs_lower_the_variance():
    spread = {}
    for antithetic in (True, False):
        est = FullES(LOPT, FAMILY, num_tasks=32, inner_length=6, steps_per_call=6, std=SIGMA, antithetic=antithetic)
        state = est.init(jax.random.PRNGKey(0), THETA)
        values = []
        for b in range(30):
            grad, state, _ = est.estimate(state, THETA, jax.random.PRNGKey(b))
            values.append(float(grad["log_lr"]))
        spread[antithetic] = np.var(values)
    assert spread[False] > 20 * spread[True], spread


def test_final_loss_meta_objective():
    steps = 6
    meta = MetaLoss(kind="final")
    truth = derivative(lambda th: float(np.sum(WEIGHTS * clipped(quadratic_losses(
        np.repeat((th + SIGMA * NODES)[:, None], steps, -1)))[:, -1])), THETA0)
    estimates = []
    for b in range(6):
        est = FullES(LOPT, FAMILY, num_tasks=4000, inner_length=steps, std=SIGMA, meta_loss=meta)
        grad, _, _ = est.estimate(est.init(jax.random.PRNGKey(b), THETA), THETA, jax.random.PRNGKey(50 + b))
        estimates.append(float(grad["log_lr"]))
    mean, err = np.mean(estimates), np.std(estimates, ddof=1) / np.sqrt(len(estimates))
    assert abs(mean - truth) < 4 * err + 1e-3 * abs(truth), (mean, truth, err)


def test_too_many_members_for_one_unroll_are_refused():
    est = FullES(LOPT, FAMILY, num_tasks=20000, inner_length=2, std=SIGMA)
    with pytest.raises(ValueError, match="40000 members in one call; at most 32768"):
        est.estimate(est.init(jax.random.PRNGKey(0), THETA), THETA, jax.random.PRNGKey(1))
