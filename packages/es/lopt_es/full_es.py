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
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np

from lopt_es import data as data_lib
from lopt_es import unroll as unroll_lib
from lopt_es.base import (
    GradientEstimator,
    add_batched,
    combine_task_gradients,
    data_source,
    diverged_members,
    perturbations,
    slot_keys,
)
from lopt_es.meta_loss import MetaLoss
from lopt_es.sharding import shard_members


class FullESState(NamedTuple):
    estimates: np.ndarray  # estimates made so far: the run number of every slot's data stream


@dataclasses.dataclass(frozen=True)
class FullES(GradientEstimator):
    """Antithetic ES on full unrolls of freshly sampled tasks."""

    lopt: la.LearnedOptimizer
    family: lt.TaskFamily
    num_tasks: int = 8
    inner_length: int = 100
    steps_per_call: int = 50
    std: float = 0.01
    meta_loss: MetaLoss = MetaLoss()
    antithetic: bool = True
    per_task_normalization: bool = False
    data_seed: int = 0
    mesh: Any = None  # a `sharding.member_mesh()` spreads the meta-batch over devices
    slot_offset: int = 0  # global index of this estimator's first slot (for a meta-batch split over processes)

    def init(self, key: jax.Array, theta: Any) -> FullESState:
        return FullESState(estimates=np.asarray(0, np.int64))

    def estimate(self, state: FullESState, theta: Any, key: jax.Array):
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
        if self.antithetic:
            meta_pos, meta_neg = meta[:n], meta[n:]
            finite = jnp.isfinite(meta_pos) & jnp.isfinite(meta_neg)
            weight = jnp.where(finite, meta_pos - meta_neg, 0.0) / (2 * self.std**2)
            mean_meta = (meta_pos + meta_neg) / 2
        else:
            finite = jnp.isfinite(meta)
            weight = jnp.where(finite, meta, 0.0) / self.std**2
            mean_meta = meta
        per_task = jax.tree_util.tree_map(lambda e: jnp.reshape(weight, (-1,) + (1,) * (e.ndim - 1)) * e, eps)
        grad, used = combine_task_gradients(per_task, finite, self.per_task_normalization)
        all_losses = jnp.concatenate(losses)
        diverged = diverged_members(all_losses).reshape(copies, n).any(axis=0)
        metrics = {
            "meta_loss": float(jnp.mean(mean_meta[finite])) if used else float("nan"),
            "inner_loss": float(jnp.nanmean(jnp.where(jnp.isfinite(all_losses), all_losses, jnp.nan))),
            "non_finite_tasks": int((~np.asarray(finite) | diverged).sum()),
            "scored_tasks": int(used),
            "restarted_runs": n,
            "inner_steps": int(copies * n * self.inner_length),
        }
        return grad, FullESState(estimates=np.asarray(int(state.estimates) + 1, np.int64)), metrics


def _tile(batches: Any, copies: int) -> Any:
    return jax.tree_util.tree_map(lambda x: np.concatenate([x] * copies, axis=1), batches)
