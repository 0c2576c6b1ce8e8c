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
"""

import dataclasses

import jax
import jax.numpy as jnp

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
        if len(state) != len(self.estimators):
            raise ValueError(f"EstimatorMixture: state has {len(state)} groups, the mixture {len(self.estimators)}.")
        grads, states, group_metrics = [], [], []
        for i, (estimator, group_state) in enumerate(zip(self.estimators, state)):
            grad, group_state, metrics = estimator.estimate(group_state, theta, jax.random.fold_in(key, i))
            grads.append(grad)
            states.append(group_state)
            group_metrics.append(metrics)
        metrics = dataclasses.replace(pool_metrics(group_metrics),
                                      group_meta_losses=tuple(m.meta_loss for m in group_metrics))
        total = metrics.scored_tasks
        weights = [m.scored_tasks / total if total else 0.0 for m in group_metrics]
        grad = jax.tree_util.tree_map(lambda *gs: sum(w * g for w, g in zip(weights, gs) if w), *grads)
        if not total:  # every task failed: a zero gradient, as a single estimator gives
            grad = jax.tree_util.tree_map(jnp.zeros_like, theta)
        return grad, tuple(states), metrics
