"""Meta-batches split over processes (hosts) with `jax.distributed`.

Each of P processes runs slots [p·N/P, (p+1)·N/P) of an N-task meta-batch:
the same estimator with `num_tasks = N/P` and `slot_offset = p·N/P`. Every
per-slot random choice (perturbation, task values, run keys, data streams)
depends only on the global slot index, so the slots compute exactly what one
process would. After each estimate the processes exchange their gradient sum
and task count (`process_allgather`, a θ-sized message) and all take the
same mean, so θ and the meta-optimizer stay identical everywhere. Inside a
process the slots can be spread over its devices as usual (`mesh`).

    lopt_es.distributed.initialize("10.0.0.1:1234", num_processes=2, process_id=rank)
    estimator = lopt_es.distributed.CrossProcessEstimator(PES(lopt, family, num_tasks=16))
"""

import dataclasses
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from lopt_es.base import GradientEstimator, Metrics, pool_metrics

# What processes exchange of their `Metrics`: two means, then counts.
_MEANS = ("meta_loss", "inner_loss")
_COUNTS = ("non_finite_tasks", "scored_tasks", "restarted_runs", "inner_steps")


def initialize(coordinator_address: str, num_processes: int, process_id: int) -> None:
    """Starts jax's multi-process runtime (on CPU with gloo collectives)."""
    if jax.config.jax_platforms in (None, "", "cpu") or "cpu" in str(jax.config.jax_platforms):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id)


@dataclasses.dataclass(frozen=True)
class CrossProcessEstimator(GradientEstimator):
    """`estimator`'s meta-batch split over the processes of `jax.distributed`.

    `estimator.num_tasks` is the global meta-batch size; it must be a
    multiple of the number of processes.
    """

    estimator: Any
    process_id: int | None = None  # defaults to jax.process_index()
    num_processes: int | None = None  # defaults to jax.process_count()

    @property
    def num_tasks(self) -> int:
        return self.estimator.num_tasks

    def local(self) -> Any:
        p = jax.process_index() if self.process_id is None else self.process_id
        count = jax.process_count() if self.num_processes is None else self.num_processes
        n = self.estimator.num_tasks
        if n % count:
            raise ValueError(f"CrossProcessEstimator: {n} tasks cannot be split evenly over {count} processes.")
        return dataclasses.replace(self.estimator, num_tasks=n // count, slot_offset=p * (n // count))

    def init(self, key: jax.Array, theta: Any) -> Any:
        return self.local().init(key, theta)

    def estimate(self, state: Any, theta: Any, key: jax.Array) -> tuple[Any, Any, Metrics]:
        local = self.local()
        grad, state, metrics = local.estimate(state, theta, key)
        used = metrics.scored_tasks
        leaves, treedef = jax.tree_util.tree_flatten(grad)
        local_sum = [np.asarray(x, np.float64) * used for x in leaves]
        # As bits: without jax_enable_x64 the exchange would round float64 to float32.
        summary = np.asarray([getattr(metrics, name) for name in _MEANS + _COUNTS], np.float64).view(np.uint32)
        gathered = multihost_utils.process_allgather([summary] + local_sum)
        summaries, sums = np.ascontiguousarray(gathered[0]).view(np.float64), gathered[1:]
        pooled = pool_metrics([
            Metrics(**{name: float(v) for name, v in zip(_MEANS, row)},
                    **{name: int(v) for name, v in zip(_COUNTS, row[len(_MEANS):])}) for row in summaries])
        grad = treedef.unflatten([
            (s.sum(axis=0) / max(pooled.scored_tasks, 1.0)).astype(np.asarray(x).dtype) for s, x in zip(sums, leaves)
        ])
        return jax.tree_util.tree_map(jax.numpy.asarray, grad), state, pooled
