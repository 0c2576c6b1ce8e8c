import dataclasses

import jax
import jax.numpy as jnp
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_es.meta_loss import MetaLoss
from lopt_es.testing import LearnedLR, QuadraticTask
from lopt_es.truncated import PES, TruncatedBPTT

LOPT = LearnedLR()
THETA = {"log_lr": jnp.asarray(np.log(0.3), jnp.float32)}


@dataclasses.dataclass(frozen=True)
class PoisonedQuadraticFamily(lt.TaskFamily):
    """Quadratics of which some (value `poisoned` = 1) have a NaN loss."""

    fraction: float = 0.25

    @property
    def name(self):
        return "poisoned_quadratic"

    def sample_structure(self, key):
        return "quadratic"

    def sample_values(self, key, structure):
        return {"poisoned": (jax.random.uniform(key) < self.fraction).astype(jnp.float32)}

    def task(self, cfg):
        return PoisonedQuadratic(poisoned=cfg.values["poisoned"])


@dataclasses.dataclass(frozen=True)
class PoisonedQuadratic(QuadraticTask):
    poisoned: jax.Array = 0.0

    def loss(self, params, key, batch):
        return jnp.where(self.poisoned > 0, jnp.nan, super().loss(params, key, batch))


@pytest.mark.parametrize("cls", [PES, TruncatedBPTT])
def test_non_finite_members_are_dropped_counted_and_restarted(cls):
    est = cls(LOPT, PoisonedQuadraticFamily(), num_tasks=16, trunc_length=3, inner_length=30, std=0.05, stagger=False)
    clean = cls(LOPT, lt.SingleTaskFamily(QuadraticTask()), num_tasks=16, trunc_length=3, inner_length=30, std=0.05)
    state = est.init(jax.random.PRNGKey(0), THETA)
    grad, state, metrics = est.estimate(state, THETA, jax.random.PRNGKey(1))
    poisoned = np.asarray(state.values["poisoned"]) > 0
    assert 0 < poisoned.sum() < 16
    assert metrics["non_finite_tasks"] == poisoned.sum()
    assert np.isfinite(float(grad["log_lr"])) and np.isfinite(metrics["meta_loss"])
    # The gradient is the healthy tasks' mean: their runs equal the clean family's.
    clean_grad, _, _ = clean.estimate(clean.init(jax.random.PRNGKey(0), THETA), THETA, jax.random.PRNGKey(1))
    if cls is TruncatedBPTT:  # deterministic: every healthy task has the same gradient
        np.testing.assert_allclose(float(grad["log_lr"]), float(clean_grad["log_lr"]), rtol=1e-5)
    # Failed runs restart at the next estimate (with freshly drawn task values).
    _, state, metrics = est.estimate(state, THETA, jax.random.PRNGKey(2))
    assert metrics["restarted_runs"] == poisoned.sum()


def test_non_finite_members_can_be_scored_at_the_normalizer():
    family = PoisonedQuadraticFamily()
    kwargs = dict(num_tasks=16, trunc_length=3, inner_length=30, std=0.05, stagger=False)
    dropping = PES(LOPT, family, **kwargs)
    scoring = PES(LOPT, family, meta_loss=MetaLoss(non_finite="normalizer"), **kwargs)
    state = dropping.init(jax.random.PRNGKey(0), THETA)
    grad_drop, _, m_drop = dropping.estimate(state, THETA, jax.random.PRNGKey(1))
    grad_score, next_state, m_score = scoring.estimate(state, THETA, jax.random.PRNGKey(1))
    poisoned = np.asarray(next_state.values["poisoned"]) > 0  # values drawn when the runs started
    healthy = int((~poisoned).sum())
    assert 0 < poisoned.sum() < 16
    # Poisoned pairs score the normalizer on both sides (no difference), but now count among the tasks.
    np.testing.assert_allclose(float(grad_score["log_lr"]) * 16, float(grad_drop["log_lr"]) * healthy, rtol=1e-5)
    normalizer = QuadraticTask().normalizer
    np.testing.assert_allclose(m_score["meta_loss"], (m_drop["meta_loss"] * healthy + normalizer * poisoned.sum()) / 16,
                               rtol=1e-5)
    # Diverged runs are still counted and restarted.
    assert m_score["non_finite_tasks"] == poisoned.sum()
    _, _, metrics = scoring.estimate(next_state, THETA, jax.random.PRNGKey(2))
    assert metrics["restarted_runs"] == poisoned.sum()


def test_runs_restart_at_their_length_and_stagger():
    est = PES(LOPT, lt.SingleTaskFamily(QuadraticTask()), num_tasks=8, trunc_length=2, inner_length=8, std=0.01)
    state = est.init(jax.random.PRNGKey(3), THETA)
    assert set(state.cursor.length.tolist()) <= {2, 4, 6, 8} and len(set(state.cursor.length.tolist())) > 1
    restarts = []
    for i in range(8):
        _, state, metrics = est.estimate(state, THETA, jax.random.PRNGKey(i))
        restarts.append(metrics["restarted_runs"])
    assert restarts[0] == 8  # every slot starts
    assert sum(restarts[1:]) > 0 and max(restarts[1:]) < 8  # later restarts are spread out
    assert np.all(state.cursor.inner_step <= state.cursor.length)
    np.testing.assert_array_equal(np.asarray(jax.tree.leaves(state.accumulator)[0]) == 0,
                                  state.cursor.inner_step == 0)


def test_log_uniform_run_lengths():
    """With min_inner_length, each run's length is a log-uniform draw in whole truncations, fixed by its key."""
    est = PES(LOPT, lt.SingleTaskFamily(QuadraticTask()), num_tasks=8, trunc_length=5, inner_length=200,
              min_inner_length=10, std=0.01)
    lengths = est.run_lengths(jax.random.split(jax.random.PRNGKey(0), 4000))
    assert lengths.min() >= 10 and lengths.max() <= 200 and np.all(lengths % 5 == 0)
    # Log-uniform: the median is near the geometric mean sqrt(10·200) ≈ 45, far below the arithmetic 105.
    assert 35 <= np.median(lengths) <= 55
    np.testing.assert_array_equal(lengths[:10], est.run_lengths(jax.random.split(jax.random.PRNGKey(0), 4000))[:10])
    fixed = dataclasses.replace(est, min_inner_length=None)
    assert set(fixed.run_lengths(jax.random.split(jax.random.PRNGKey(0), 5)).tolist()) == {200}
    est = dataclasses.replace(est, stagger=False)  # staggered first runs are shortened on purpose
    state = est.init(jax.random.PRNGKey(1), THETA)
    seen = set(state.cursor.length.tolist())
    for i in range(60):
        _, state, _ = est.estimate(state, THETA, jax.random.PRNGKey(i))
        seen |= set(state.cursor.length.tolist())
    assert len(seen) > 4 and all(10 <= n <= 200 and n % 5 == 0 for n in seen)
    assert np.all(state.cursor.inner_step <= state.cursor.length)


def test_configuration_errors():
    with pytest.raises(ValueError, match="min_inner_length 7 must be a multiple of trunc_length 5"):
        PES(LOPT, lt.SingleTaskFamily(QuadraticTask()), trunc_length=5, inner_length=50, min_inner_length=7)
    with pytest.raises(ValueError, match="min_inner_length 60 must be"):
        PES(LOPT, lt.SingleTaskFamily(QuadraticTask()), trunc_length=5, inner_length=50, min_inner_length=60)
    with pytest.raises(ValueError, match="inner_length 25 must be a multiple of trunc_length 10"):
        PES(LOPT, lt.SingleTaskFamily(QuadraticTask()), trunc_length=10, inner_length=25)
