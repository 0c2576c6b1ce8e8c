"""A meta-batch drawn from several task distributions: one estimator per group, gradients pooled.

The truncated estimators keep one task *structure* (architecture, dataset,
widths) for all their slots, so that a meta-batch compiles into one
vmapped computation. VeLO-style meta-training wants many structures and
several families in every meta-batch (VeLO §3.2–3.3); `EstimatorMixture`
gives that by holding one estimator per (family, structure) group and
averaging their gradients, each group weighted by the number of its tasks
that entered its estimate (`scored_tasks`: those with a finite meta-loss):

    g = Σ_j n_j · g_j / Σ_j n_j,

which is the plain mean over every valid task of the whole meta-batch (with
per-task normalisation in the groups, the mean of unit-length task
gradients). Each group compiles once; the state is the tuple of the groups'
states, so checkpoints and exact resumption work as for one estimator.

Every group's estimate is started (its device work queued) before any is
completed, so one group's inner training runs while the next group's data
are gathered; with small groups that host work, not the training, was most
of the time (`tools/meta_train_benchmark --family=...` compares a mixture
with one group of its size).
"""

import dataclasses
import functools
import operator
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lopt_es.base import GradientEstimator, MetaParams, Metrics, pool_metrics


@dataclasses.dataclass(frozen=True)
class EstimatorMixture(GradientEstimator):
    """Several estimators (e.g. PES on different task families) as one.

    Attributes:
      estimators: the groups (`PES`, `TruncatedES`, `TruncatedBPTT`,
        `FullES`, or any `GradientEstimator`).
    """

    estimators: tuple[GradientEstimator, ...]

    def __post_init__(self):
        if not self.estimators:
            raise ValueError("EstimatorMixture needs at least one estimator.")
        for i, estimator in enumerate(self.estimators):
            if not isinstance(estimator, GradientEstimator):
                raise TypeError(f"EstimatorMixture: estimator {i} ({type(estimator).__name__}) is not a "
                                "lopt_es.GradientEstimator.")

    @property
    def num_tasks(self) -> int:
        return sum(e.num_tasks for e in self.estimators)

    def init(self, key: jax.Array, theta: MetaParams) -> tuple:
        return tuple(e.init(jax.random.fold_in(key, i), theta) for i, e in enumerate(self.estimators))

    def estimate(self, state: tuple, theta: MetaParams, key: jax.Array) -> tuple[MetaParams, tuple, Metrics]:
        return self.start(state, theta, key)()

    def start(self, state: tuple, theta: MetaParams, key: jax.Array) -> Callable[[], tuple[MetaParams, tuple, Metrics]]:
        """Starts every group's estimate before completing any (see the module docstring)."""
        if len(state) != len(self.estimators):
            raise ValueError(f"EstimatorMixture: state has {len(state)} groups, the mixture {len(self.estimators)}.")
        started = [estimator.start(group_state, theta, _fold_in(key, i))
                   for i, (estimator, group_state) in enumerate(zip(self.estimators, state))]

        def finish() -> tuple[MetaParams, tuple, Metrics]:
            grads, states, group_metrics = zip(*(complete() for complete in started))
            metrics = dataclasses.replace(pool_metrics(group_metrics),
                                          group_meta_losses=tuple(m.meta_loss for m in group_metrics))
            total = metrics.scored_tasks
            if not total:  # every task failed: a zero gradient, as a single estimator gives
                return jax.tree_util.tree_map(jnp.zeros_like, theta), states, metrics
            scored = [(m.scored_tasks / total, g) for m, g in zip(group_metrics, grads) if m.scored_tasks]
            weights = np.asarray([w for w, _ in scored], np.float32)
            return _sum(_scaled(weights, [g for _, g in scored])), states, metrics

        return finish


_fold_in = jax.jit(jax.random.fold_in)  # a group's key in one call (op by op: ~1 ms a group)


# Compiled: one call each instead of two ops per group and leaf. Apart, so that every product is rounded
# before it is added, as op by op (fused, XLA would multiply and add in one rounding).
@jax.jit
def _scaled(weights: jax.Array, grads: list[MetaParams]) -> list[MetaParams]:
    return [jax.tree_util.tree_map(lambda g: weights[i].astype(g.dtype) * g, grad) for i, grad in enumerate(grads)]


@jax.jit
def _sum(trees: list[MetaParams]) -> MetaParams:
    return jax.tree_util.tree_map(lambda *xs: functools.reduce(operator.add, xs), *trees)
