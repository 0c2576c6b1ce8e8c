"""The gradient-estimator interface and what every estimator shares.

An estimator is a frozen dataclass (its configuration: learned optimizer,
task family, sizes) with two functions over explicit state, like evosax's
strategies:

    state = estimator.init(key, theta)
    grad, state, metrics = estimator.estimate(state, theta, key)

`grad` has θ's structure; `metrics` is a `Metrics` (a mapping of Python
numbers, as metrics.jsonl records it). The state is a pytree of arrays
(device arrays and numpy counters), which is everything a checkpoint needs
to continue exactly. The estimators of one task family's meta-batch
(`FullES`, `PES`, `TruncatedES`, `TruncatedBPTT`) share their configuration
fields through `FamilyEstimator`.
"""

import abc
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np

from lopt_es.meta_loss import MetaLoss

MetaParams = Any


@dataclasses.dataclass(frozen=True)
class Metrics(Mapping):
    """What one estimate reports, read as a mapping of names to Python numbers (the keys of metrics.jsonl).

    Attributes:
      meta_loss: mean meta-loss of the scored tasks (over each antithetic pair's two runs); NaN if none.
      inner_loss: mean of the finite inner losses of the estimate's steps.
      non_finite_tasks: tasks whose meta-loss or inner losses were not finite.
      scored_tasks: tasks whose gradient entered the estimate.
      restarted_runs: inner runs started by the estimate.
      inner_steps: inner steps taken (over every member: both runs of a pair count).
      group_meta_losses: an `EstimatorMixture`'s groups' meta-losses, keys "group<i>/meta_loss".
    """

    meta_loss: float
    inner_loss: float
    non_finite_tasks: int
    scored_tasks: int
    restarted_runs: int
    inner_steps: int
    group_meta_losses: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, float | int]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "group_meta_losses"}
        out.update({f"group{i}/meta_loss": m for i, m in enumerate(self.group_meta_losses)})
        return out

    def __getitem__(self, name: str) -> float | int:
        return self.as_dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


def pool_metrics(parts: Sequence[Metrics]) -> Metrics:
    """The metrics of disjoint parts of one meta-batch (a mixture's groups, a split's processes) as one.

    Counts add up; the meta-loss is the mean over every scored task, each
    part weighted by its `scored_tasks` (NaN if none was scored); the inner
    loss is the mean over the parts.
    """
    scored = sum(m.scored_tasks for m in parts)
    return Metrics(
        meta_loss=sum(m.scored_tasks * m.meta_loss for m in parts if m.scored_tasks) / scored
        if scored else float("nan"),
        inner_loss=sum(m.inner_loss for m in parts) / len(parts),
        non_finite_tasks=sum(m.non_finite_tasks for m in parts),
        scored_tasks=scored,
        restarted_runs=sum(m.restarted_runs for m in parts),
        inner_steps=sum(m.inner_steps for m in parts),
    )


class GradientEstimator(abc.ABC):
    """Estimates the gradient of a meta-loss with respect to meta-parameters θ."""

    @property
    @abc.abstractmethod
    def num_tasks(self) -> int:
        """Tasks in one estimate's meta-batch."""

    @abc.abstractmethod
    def init(self, key: jax.Array, theta: MetaParams) -> Any:
        """The estimator's initial state (inner runs, accumulators, data positions)."""

    @abc.abstractmethod
    def estimate(self, state: Any, theta: MetaParams, key: jax.Array) -> tuple[MetaParams, Any, Metrics]:
        """(meta-gradient, next state, metrics)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class FamilyEstimator(GradientEstimator):
    """The configuration of an estimator over a meta-batch of `num_tasks` tasks of one family.

    Everything but the learned optimizer and the family is keyword-only.

    Attributes:
      lopt: the learned optimizer whose θ is meta-trained.
      family: the task family whose tasks make up the meta-batch.
      num_tasks: tasks (slots) per estimate.
      inner_length: length of each inner training run.
      std: standard deviation σ of the ES perturbations.
      meta_loss: how inner losses become the meta-loss.
      per_task_normalization: scale each task's gradient to unit length before averaging (VeLO §3.3).
      data_seed: base seed of the slots' data streams.
      mesh: a `sharding.member_mesh()` spreads the meta-batch over devices.
      slot_offset: global index of the first slot (for a meta-batch split over processes).
    """

    lopt: la.LearnedOptimizer = dataclasses.field(kw_only=False)
    family: lt.TaskFamily = dataclasses.field(kw_only=False)
    num_tasks: int = 8
    inner_length: int
    std: float = 0.01
    meta_loss: MetaLoss = MetaLoss()
    per_task_normalization: bool = False
    data_seed: int = 0
    mesh: Any = None
    slot_offset: int = 0


def slot_keys(key: jax.Array, num: int, first_slot: int = 0) -> jax.Array:
    """One key per task slot, fold_in(key, slot): slot s gets the same key however slots are split."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(first_slot, first_slot + num))


def perturbations(key: jax.Array, theta: MetaParams, num: int, std: float, first_slot: int = 0) -> MetaParams:
    """ε ~ N(0, std²·I) shaped like θ for slots first_slot … first_slot + num − 1 (leaves lead with `num`).

    Slot s's ε depends only on (key, s), so a meta-batch split over
    processes draws the same perturbations as one process.
    """
    leaves, treedef = jax.tree_util.tree_flatten(theta)

    def one(slot_key):
        keys = jax.random.split(slot_key, len(leaves))
        return [std * jax.random.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves)]

    return treedef.unflatten(jax.vmap(one)(slot_keys(key, num, first_slot)))


def add_batched(theta: MetaParams, deltas: MetaParams, sign: float = 1.0) -> MetaParams:
    """θ + sign·δ_i for every i: leaves [num, ...]."""
    return jax.tree_util.tree_map(lambda t, d: t[None] + sign * d, theta, deltas)


def diverged_members(losses: jax.Array) -> np.ndarray:
    """[T, M] inner losses → [M]: whether a member's loss was ever non-finite (its run diverged)."""
    return ~np.asarray(jnp.all(jnp.isfinite(losses), axis=0))


def failed_tasks(finite: jax.Array, losses: jax.Array, num_tasks: int) -> np.ndarray:
    """[N]: tasks whose meta-loss is not finite or one of whose members' inner losses ever was (losses [T, k·N])."""
    return ~np.asarray(finite) | diverged_members(losses).reshape(-1, num_tasks).any(axis=0)


def es_gradient(
    directions: MetaParams, meta_pos: jax.Array, meta_neg: jax.Array | None, std: float, normalize: bool
) -> tuple[MetaParams, jax.Array, jax.Array, jax.Array]:
    """The ES gradient from each task's meta-loss with θ + ε_i (and, antithetic, with θ − ε_i).

    Antithetic: g = mean_i (M(θ + ε_i) − M(θ − ε_i)) / (2σ²) · d_i; else
    g = mean_i M(θ + ε_i) / σ² · d_i; d_i is ε_i, or PES's Σ ε. A task whose
    meta-loss is not finite gets weight 0 (`combine_task_gradients`).

    Returns:
      (gradient, which tasks were finite [N], how many entered, each task's meta-loss [N]:
      the mean of the pair's).
    """
    if meta_neg is None:
        finite = jnp.isfinite(meta_pos)
        weight = jnp.where(finite, meta_pos, 0.0) / std**2
        meta = meta_pos
    else:
        finite = jnp.isfinite(meta_pos) & jnp.isfinite(meta_neg)
        weight = jnp.where(finite, meta_pos - meta_neg, 0.0) / (2 * std**2)
        meta = (meta_pos + meta_neg) / 2
    per_task = jax.tree_util.tree_map(lambda d: jnp.reshape(weight, (-1,) + (1,) * (d.ndim - 1)) * d, directions)
    grad, used = combine_task_gradients(per_task, finite, normalize)
    return grad, finite, used, meta


def estimate_metrics(meta: jax.Array, scored: jax.Array, used: jax.Array, losses: jax.Array, failed: np.ndarray,
                     restarted_runs: int, inner_steps: int) -> Metrics:
    """An estimate's `Metrics` from its tasks' meta-losses [N], which were scored, and its inner losses."""
    return Metrics(
        meta_loss=float(jnp.mean(meta[scored])) if used else float("nan"),
        inner_loss=float(jnp.nanmean(jnp.where(jnp.isfinite(losses), losses, jnp.nan))),
        non_finite_tasks=int(failed.sum()),
        scored_tasks=int(used),
        restarted_runs=int(restarted_runs),
        inner_steps=int(inner_steps),
    )


def combine_task_gradients(
    per_task: MetaParams, valid: jax.Array, normalize: bool
) -> tuple[MetaParams, jax.Array]:
    """Mean over tasks of per-task gradients (leaves [N, ...]), skipping invalid tasks.

    With `normalize` each task's gradient is first scaled to unit length (VeLO
    §3.3), so tasks with large losses do not dominate. Returns the gradient
    and the number of tasks used; with none, the gradient is zero.
    """
    is_valid = valid.astype(bool)
    valid = valid.astype(jnp.float32)
    if normalize:
        sq = sum(jnp.sum(jnp.reshape(x, (x.shape[0], -1)) ** 2, axis=1) for x in jax.tree_util.tree_leaves(per_task))
        # An invalid task's NaN norm must not reach the weights (0·NaN is NaN).
        scale = jax.lax.rsqrt(jnp.maximum(jnp.where(is_valid, sq, 1.0), 1e-30))
    else:
        scale = jnp.ones_like(valid)
    weights = jnp.where(is_valid, scale, 0.0)
    count = jnp.sum(valid)

    def mean(x):
        safe = jnp.where(jnp.reshape(valid, (-1,) + (1,) * (x.ndim - 1)) > 0, x, 0.0)
        w = jnp.reshape(weights, (-1,) + (1,) * (x.ndim - 1))
        return jnp.sum(safe * w, axis=0) / jnp.maximum(count, 1.0)

    return jax.tree_util.tree_map(mean, per_task), count


def data_source(family: lt.TaskFamily, structure: Any, values: dict, split: str):
    """The batch source of `split` for tasks of `structure` (datasets depend only on the structure).

    "valid" falls back to "test" for tasks whose data has no validation split.
    """
    one = jax.tree_util.tree_map(lambda x: np.asarray(x)[0], values)
    datasets = family.task(lt.TaskConfig(structure, one)).datasets
    if split in datasets:
        return datasets[split]
    if split == "valid" and "test" in datasets:
        return datasets["test"]
    raise KeyError(f"task family {family.name!r}: no {split!r} split; the tasks have {sorted(datasets)}.")
