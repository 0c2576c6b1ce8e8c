"""EstimatorMixture against closed-form truncation gradients of two different quadratics."""

import dataclasses

import jax
import jax.numpy as jnp
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_es import checkpoint
from lopt_es.base import GradientEstimator, Metrics
from lopt_es.meta_loss import MetaLoss
from lopt_es.mixture import EstimatorMixture
from lopt_es.testing import LearnedLR, QuadraticTask, quadratic_losses
from lopt_es.truncated import PES, TruncatedBPTT

LOPT = LearnedLR()
THETA0 = float(np.log(0.3))
THETA = {"log_lr": jnp.asarray(THETA0, jnp.float32)}
T = 5
TASK_A = QuadraticTask()
TASK_B = QuadraticTask(curvature=(2.0, 0.1), target=(0.5, 3.0), start=(1.0, 0.0))


def truncation_gradient(task: QuadraticTask) -> float:
    """d/dθ of the first truncation's mean clipped loss, by central differences of the float64 closed form."""

    def meta(theta):
        losses = quadratic_losses(np.full(T, theta), task)
        return float(np.mean(np.minimum(losses, task.normalizer)))

    h = 1e-5
    return (meta(THETA0 + h) - meta(THETA0 - h)) / (2 * h)


def tbptt(task, n):
    return TruncatedBPTT(LOPT, lt.SingleTaskFamily(task), num_tasks=n, trunc_length=T, inner_length=2 * T, stagger=False)


def test_gradient_is_the_mean_over_all_valid_tasks():
    mixture = EstimatorMixture((tbptt(TASK_A, 1), tbptt(TASK_B, 3)))
    assert mixture.num_tasks == 4
    grad, state, metrics = mixture.estimate(mixture.init(jax.random.PRNGKey(0), THETA), THETA, jax.random.PRNGKey(1))
    expected = (1 * truncation_gradient(TASK_A) + 3 * truncation_gradient(TASK_B)) / 4
    assert truncation_gradient(TASK_A) * truncation_gradient(TASK_B) != pytest.approx(0.0)
    np.testing.assert_allclose(float(grad["log_lr"]), expected, rtol=1e-3)
    assert metrics["non_finite_tasks"] == 0 and metrics["inner_steps"] == 4 * T
    assert set(metrics) >= {"meta_loss", "group0/meta_loss", "group1/meta_loss"}
    assert len(state) == 2


def test_failed_group_is_dropped_and_all_failed_gives_zero():
    poisoned = QuadraticTask(scale=float("nan"))
    mixture = EstimatorMixture((tbptt(TASK_A, 2), tbptt(poisoned, 2)))
    grad, _, metrics = mixture.estimate(mixture.init(jax.random.PRNGKey(0), THETA), THETA, jax.random.PRNGKey(1))
    np.testing.assert_allclose(float(grad["log_lr"]), truncation_gradient(TASK_A), rtol=1e-3)
    assert metrics["non_finite_tasks"] == 2 and np.isfinite(metrics["meta_loss"])

    all_bad = EstimatorMixture((tbptt(poisoned, 2),))
    grad, _, metrics = all_bad.estimate(all_bad.init(jax.random.PRNGKey(0), THETA), THETA, jax.random.PRNGKey(1))
    assert float(grad["log_lr"]) == 0.0 and np.isnan(metrics["meta_loss"])


@dataclasses.dataclass(frozen=True)
class NaNLossQuadratic(QuadraticTask):
    """A quadratic whose loss is NaN but whose normalizer is finite."""

    def loss(self, params, key, batch):
        return super().loss(params, key, batch) * jnp.nan


def test_penalised_failures_count_in_the_weights():
    """With non-finite losses scored at the normalizer, a poisoned group's tasks enter the mean (with zero weight
    difference between their antithetic members), so the healthy group's gradient is diluted, not re-weighted."""
    poisoned = NaNLossQuadratic()
    meta_loss = MetaLoss(non_finite="normalizer")

    def pes(task):
        return PES(LOPT, lt.SingleTaskFamily(task), num_tasks=2, trunc_length=T, inner_length=2 * T, std=0.1,
                   meta_loss=meta_loss, stagger=False)

    mixture = EstimatorMixture((pes(TASK_A), pes(poisoned)))
    init_key, key = jax.random.PRNGKey(0), jax.random.PRNGKey(1)
    grad, _, metrics = mixture.estimate(mixture.init(init_key, THETA), THETA, key)
    alone = pes(TASK_A)
    grad_a, _, _ = alone.estimate(alone.init(jax.random.fold_in(init_key, 0), THETA), THETA, jax.random.fold_in(key, 0))
    assert float(grad_a["log_lr"]) != 0.0
    np.testing.assert_allclose(float(grad["log_lr"]), float(grad_a["log_lr"]) / 2, rtol=1e-5)
    assert metrics["non_finite_tasks"] == 2 and metrics["scored_tasks"] == 4


def test_state_survives_a_checkpoint_and_continues_identically(tmp_path):
    mixture = EstimatorMixture(tuple(
        PES(LOPT, lt.SingleTaskFamily(task), num_tasks=2, trunc_length=T, inner_length=4 * T, std=0.1)
        for task in (TASK_A, TASK_B)))
    state = mixture.init(jax.random.PRNGKey(0), THETA)
    _, state, _ = mixture.estimate(state, THETA, jax.random.PRNGKey(1))
    checkpoint.save(str(tmp_path), 1, state, {})
    restored, _, _ = checkpoint.restore(str(tmp_path), mixture.init(jax.random.PRNGKey(5), THETA))
    direct, _, _ = mixture.estimate(state, THETA, jax.random.PRNGKey(2))
    resumed, _, _ = mixture.estimate(restored, THETA, jax.random.PRNGKey(2))
    assert float(direct["log_lr"]) == float(resumed["log_lr"])


def test_rejects_empty_and_mismatched_state():
    with pytest.raises(ValueError, match="at least one"):
        EstimatorMixture(())
    with pytest.raises(TypeError, match=r"estimator 1 \(dict\) is not a lopt_es.GradientEstimator"):
        EstimatorMixture((tbptt(TASK_A, 1), {"num_tasks": 1}))
    mixture = EstimatorMixture((tbptt(TASK_A, 1), tbptt(TASK_B, 1)))
    state = mixture.init(jax.random.PRNGKey(0), THETA)
    with pytest.raises(ValueError, match="2 groups"):
        EstimatorMixture((tbptt(TASK_A, 1),)).estimate(state, THETA, jax.random.PRNGKey(1))


@dataclasses.dataclass(frozen=True, eq=False)
class Recorder(GradientEstimator):
    """A group that reports when it is started and completed, with a fixed gradient of one scored task."""

    name: str
    value: float
    log: list

    @property
    def num_tasks(self):
        return 1

    def init(self, key, theta):
        return ()

    def estimate(self, state, theta, key):
        return self.start(state, theta, key)()

    def start(self, state, theta, key):
        self.log.append(("start", self.name))

        def finish():
            self.log.append(("finish", self.name))
            return {"log_lr": jnp.asarray(self.value)}, state, Metrics(self.value, 0.0, 0, 1, 0, 1)

        return finish


def test_groups_are_all_started_before_any_is_completed():
    log = []
    mixture = EstimatorMixture((Recorder("a", 1.0, log), Recorder("b", 4.0, log)))
    grad, _, metrics = mixture.estimate(mixture.init(jax.random.PRNGKey(0), THETA), THETA, jax.random.PRNGKey(1))
    assert log == [("start", "a"), ("start", "b"), ("finish", "a"), ("finish", "b")]
    assert float(grad["log_lr"]) == 2.5 and metrics["meta_loss"] == 2.5 and metrics["group1/meta_loss"] == 4.0
