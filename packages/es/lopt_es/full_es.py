"""Antithetic evolution strategies over complete inner runs (VeLO §3.3).

Every estimate samples a fresh meta-batch of tasks (one structure, N value
draws), trains each from initialisation for `inner_length` steps with θ + ε_i
and with θ − ε_i on the same data and keys, and returns

    g = mean_i (M(θ + ε_i) − M(θ − ε_i)) / (2σ²) · ε_i,

an unbiased estimate of the gradient of the Gaussian-smoothed meta-loss
E_ε[M(θ + ε)] (with `kind="final"`, the final loss, as VeLO targets). With
`antithetic=False` it is the plain estimate M(θ + ε_i)·ε_i/σ², which is
unbiased too but far noisier; it is kept to show what antithetic pairs buy.
The run is unrolled `steps_per_call` steps per compiled call, so the batches
held in memory stay small.

Each estimate draws its structure afresh. The initialisation and the unroll
are compiled once per structure (it is a static argument of their `jax.jit`)
and reused whenever the family draws that structure again
(`full_es_test.py` counts the traces); a family whose structures seldom
repeat — mlp, autoencoder and vae draw a new one nearly every time, more so
augmented — compiles at nearly every estimate, which the truncated
estimators, holding one structure per group, avoid.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lopt_es import data as data_lib
from lopt_es import unroll as unroll_lib
from lopt_es.base import (
    FamilyEstimator,
    Metrics,
    add_batched,
    data_source,
    es_gradient,
    estimate_metrics,
    failed_tasks,
    perturbations,
    slot_keys,
)
from lopt_es.sharding import shard_members


class FullESState(NamedTuple):
    estimates: np.ndarray  # estimates made so far: the run number of every slot's data stream


@dataclasses.dataclass(frozen=True, kw_only=True)
class FullES(FamilyEstimator):
    """Antithetic ES on full unrolls of freshly sampled tasks (fields: `FamilyEstimator`'s and these)."""

    inner_length: int = 100
    steps_per_call: int = 50
    antithetic: bool = True

    def init(self, key: jax.Array, theta: Any) -> FullESState:
        return FullESState(estimates=np.asarray(0, np.int64))

    def start(self, state: FullESState, theta: Any, key: jax.Array) -> Callable[[], tuple]:
        n = self.num_tasks
        structure_key, values_key, runs_key, eps_key = jax.random.split(key, 4)
        structure = self.family.sample_structure(structure_key)
        values = jax.vmap(lambda k: self.family.sample_values(k, structure))(slot_keys(values_key, n, self.slot_offset))
        run_keys = slot_keys(runs_key, n, self.slot_offset)
        eps = perturbations(eps_key, theta, n, self.std, self.slot_offset)
        if self.antithetic:
            thetas = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), add_batched(theta, eps, 1.0),
                                            add_batched(theta, eps, -1.0))
            copies = 2
        else:
            thetas, copies = add_batched(theta, eps, 1.0), 1
        tile = lambda tree: jax.tree_util.tree_map(lambda x: jnp.concatenate([x] * copies), tree)  # noqa: E731
        thetas, member_values, member_keys = shard_members((thetas, tile(values), tile(run_keys)), self.mesh)
        states = unroll_lib.init_members(self.lopt, self.family, structure, thetas, member_values, member_keys,
                                         jnp.full((n * copies,), self.inner_length, jnp.int32))
        cursor = data_lib.Cursor(run=np.full(n, int(state.estimates), np.int64), inner_step=np.zeros(n, np.int64),
                                 length=np.full(n, self.inner_length, np.int64))
        train = data_source(self.family, structure, values, "train")
        valid = data_source(self.family, structure, values, "valid") if self.meta_loss.split == "valid" else None
        objectives, losses = [], []
        done = 0
        while done < self.inner_length:
            steps = min(self.steps_per_call, self.inner_length - done)
            batches = shard_members(_tile(data_lib.gather_batches(train, self.data_seed, cursor, steps, self.slot_offset), copies),
                                    self.mesh, axis=1)
            valid_batches = None if valid is None else shard_members(_tile(
                data_lib.gather_batches(valid, self.data_seed + 1, cursor, steps, self.slot_offset), copies),
                self.mesh, axis=1)
            states, step_losses, step_objectives = unroll_lib.unroll(
                self.lopt, self.family, structure, self.meta_loss, thetas, states, member_values, member_keys,
                shard_members(jnp.full((n * copies,), done, jnp.int32), self.mesh), batches, valid_batches,
            )
            objectives.append(step_objectives)
            losses.append(step_losses)
            cursor = cursor._replace(inner_step=cursor.inner_step + steps)
            done += steps
        meta = self.meta_loss.reduce(jnp.concatenate(objectives))
        grad, finite, used, task_meta = es_gradient(eps, meta, self.std, self.per_task_normalization, self.antithetic)
        all_losses = jnp.concatenate(losses)

        def finish() -> tuple[Any, FullESState, Metrics]:
            metrics = estimate_metrics(task_meta, finite, used, all_losses, failed_tasks(finite, all_losses, n),
                                       restarted_runs=n, inner_steps=copies * n * self.inner_length)
            return grad, FullESState(estimates=np.asarray(int(state.estimates) + 1, np.int64)), metrics

        return finish


def _tile(batches: Any, copies: int) -> Any:
    return jax.tree_util.tree_map(lambda x: np.concatenate([x] * copies, axis=1), batches)
