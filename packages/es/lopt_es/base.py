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
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
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

    def start(self, state: Any, theta: MetaParams, key: jax.Array) -> Callable[[], tuple[MetaParams, Any, Metrics]]:
        """Begins `estimate(state, theta, key)`: returns the function that completes it and returns its result.

        Estimators that can queue their device work here and wait for it only
        in the returned function, so that estimates started together
        (`EstimatorMixture`'s groups) overlap one's host work (data, dispatch)
        with another's inner training. By default the whole estimate is made
        here.
        """
        result = self.estimate(state, theta, key)
        return lambda: result


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

    def estimate(self, state: Any, theta: MetaParams, key: jax.Array) -> tuple[MetaParams, Any, Metrics]:
        return self.start(state, theta, key)()

    @abc.abstractmethod
    def start(self, state: Any, theta: MetaParams, key: jax.Array) -> Callable[[], tuple[MetaParams, Any, Metrics]]:
        """Queues the estimate's device work; the returned function waits for it (see `GradientEstimator.start`)."""


def slot_keys(key: jax.Array, num: int, first_slot: int = 0) -> jax.Array:
    """One key per task slot, fold_in(key, slot): slot s gets the same key however slots are split."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(first_slot, first_slot + num))


# The helpers an estimate calls on θ-shaped trees run compiled: op by op, their dispatch, not the inner
# training, was most of a small group's estimate (an 8-group mixture of 1-task PES groups ran at 0.2-0.3 of
# one 8-task group). Each compiled function computes bit for bit what the ops did one by one. Where XLA would
# not (it merges constant factors, rounds a product fused into the sum that consumes it once, and may sum a
# fused input in another order), the step is a call of its own or stays op by op.


@functools.partial(jax.jit, static_argnums=(2, 3))
def _standard_normals(key: jax.Array, theta: MetaParams, num: int, first_slot: int) -> MetaParams:
    leaves, treedef = jax.tree_util.tree_flatten(theta)

    def one(slot_key):
        keys = jax.random.split(slot_key, len(leaves))
        return [jax.random.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves)]

    return treedef.unflatten(jax.vmap(one)(slot_keys(key, num, first_slot)))


def perturbations(key: jax.Array, theta: MetaParams, num: int, std: float, first_slot: int = 0) -> MetaParams:
    """ε ~ N(0, std²·I) shaped like θ for slots first_slot … first_slot + num − 1 (leaves lead with `num`).

    Slot s's ε depends only on (key, s), so a meta-batch split over
    processes draws the same perturbations as one process.
    """
    normals = _standard_normals(key, theta, num, first_slot)
    # σ multiplies in a call of its own: in the draw's, XLA would merge it with the normal's √2 (an ulp apart).
    # It is rounded to each leaf's dtype as a Python number would be.
    return _scale(normals, [np.asarray(std, x.dtype) for x in jax.tree_util.tree_leaves(normals)])


@jax.jit
def _scale(tree: MetaParams, factors: list[jax.Array]) -> MetaParams:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef.unflatten([f * x for f, x in zip(factors, leaves)])


@functools.partial(jax.jit, static_argnums=(2,))
def add_batched(theta: MetaParams, deltas: MetaParams, sign: float = 1.0) -> MetaParams:
    """θ + sign·δ_i for every i: leaves [num, ...]."""
    return jax.tree_util.tree_map(lambda t, d: t[None] + sign * d, theta, deltas)


def diverged_members(losses: jax.Array) -> np.ndarray:
    """[T, M] inner losses → [M]: whether a member's loss was ever non-finite (its run diverged)."""
    return ~np.isfinite(np.asarray(losses)).all(axis=0)


def failed_tasks(finite: jax.Array, losses: jax.Array, num_tasks: int) -> np.ndarray:
    """[N]: tasks whose meta-loss is not finite or one of whose members' inner losses ever was (losses [T, k·N])."""
    return ~np.asarray(finite) | diverged_members(losses).reshape(-1, num_tasks).any(axis=0)


def es_gradient(
    directions: MetaParams, meta: jax.Array, std: float, normalize: bool, antithetic: bool = True
) -> tuple[MetaParams, jax.Array, jax.Array, jax.Array]:
    """The ES gradient from the meta-losses of N tasks' runs with θ + ε_i (and, antithetic, with θ − ε_i).

    Antithetic: g = mean_i (M(θ + ε_i) − M(θ − ε_i)) / (2σ²) · d_i; else
    g = mean_i M(θ + ε_i) / σ² · d_i; d_i is ε_i, or PES's Σ ε. A task whose
    meta-loss is not finite gets weight 0 (`combine_task_gradients`).

    Args:
      directions: d_i, leaves [N, ...].
      meta: [2N] antithetic, the θ + ε runs then the θ − ε runs; else [N].

    Returns:
      (gradient, which tasks were finite [N], how many entered, each task's meta-loss [N]:
      the mean of the pair's).
    """
    # The divisor is a float32 argument, as it was when the ops ran one by one; a constant would be folded.
    divisor = jnp.float32(2 * std**2 if antithetic else std**2)
    per_task, finite, task_meta = _es_task_gradients(directions, meta, divisor, antithetic)
    grad, used = combine_task_gradients(per_task, finite, normalize)
    return grad, finite, used, task_meta


@functools.partial(jax.jit, static_argnums=(3,))
def _es_task_gradients(directions: MetaParams, meta: jax.Array, divisor: jax.Array, antithetic: bool):
    if antithetic:
        n = jax.tree_util.tree_leaves(directions)[0].shape[0]
        meta_pos, meta_neg = meta[:n], meta[n:]
        finite = jnp.isfinite(meta_pos) & jnp.isfinite(meta_neg)
        weight = jnp.where(finite, meta_pos - meta_neg, 0.0) / divisor
        meta = (meta_pos + meta_neg) / 2
    else:
        finite = jnp.isfinite(meta)
        weight = jnp.where(finite, meta, 0.0) / divisor
    per_task = jax.tree_util.tree_map(lambda d: jnp.reshape(weight, (-1,) + (1,) * (d.ndim - 1)) * d, directions)
    return per_task, finite, meta


def estimate_metrics(meta: jax.Array, scored: jax.Array, used: jax.Array, losses: jax.Array, failed: np.ndarray,
                     restarted_runs: int, inner_steps: int) -> Metrics:
    """An estimate's `Metrics` from its tasks' meta-losses [N], which were scored, and its inner losses."""
    # The scored meta-losses are selected on the host: jax would wait for them too, and take longer.
    return Metrics(
        meta_loss=float(jnp.mean(np.asarray(meta)[np.asarray(scored)])) if used else float("nan"),
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
    if not normalize:
        return _combine(per_task, valid)
    # Products and sums in separate calls, the squared norms summed op by op: see the note above _standard_normals.
    sq = sum(jnp.sum(x, axis=1) for x in _squares(per_task))
    weighted, count = _normalized(per_task, valid, sq)
    return _sum_over_tasks(weighted, count), count


@jax.jit
def _combine(per_task: MetaParams, valid: jax.Array) -> tuple[MetaParams, jax.Array]:
    valid = valid.astype(jnp.float32)
    count = jnp.sum(valid)

    def mean(x):
        safe = jnp.where(jnp.reshape(valid, (-1,) + (1,) * (x.ndim - 1)) > 0, x, 0.0)
        return jnp.sum(safe, axis=0) / jnp.maximum(count, 1.0)

    return jax.tree_util.tree_map(mean, per_task), count


@jax.jit
def _squares(per_task: MetaParams) -> list[jax.Array]:
    return [jnp.reshape(x, (x.shape[0], -1)) ** 2 for x in jax.tree_util.tree_leaves(per_task)]


@jax.jit
def _normalized(per_task: MetaParams, valid: jax.Array, sq: jax.Array) -> tuple[MetaParams, jax.Array]:
    """Each task's gradient over its norm (0 for an invalid task), and how many tasks are valid."""
    is_valid = valid.astype(bool)
    valid = valid.astype(jnp.float32)
    # An invalid task's NaN norm must not reach the weights (0·NaN is NaN).
    weights = jnp.where(is_valid, jax.lax.rsqrt(jnp.maximum(jnp.where(is_valid, sq, 1.0), 1e-30)), 0.0)

    def weigh(x):
        safe = jnp.where(jnp.reshape(valid, (-1,) + (1,) * (x.ndim - 1)) > 0, x, 0.0)
        return safe * jnp.reshape(weights, (-1,) + (1,) * (x.ndim - 1))

    return jax.tree_util.tree_map(weigh, per_task), jnp.sum(valid)


@jax.jit
def _sum_over_tasks(weighted: MetaParams, count: jax.Array) -> MetaParams:
    return jax.tree_util.tree_map(lambda x: jnp.sum(x, axis=0) / jnp.maximum(count, 1.0), weighted)


def data_source(family: lt.TaskFamily, structure: Any, values: dict, split: str):
    """The batch source of `split` for tasks of `structure` (datasets depend only on the structure).

    The task's own lookup, `lopt_tasks.split_source` (which says what stands in for a missing split).
    """
    one = jax.tree_util.tree_map(lambda x: np.asarray(x)[0], values)
    try:
        return lt.split_source(family.task(lt.TaskConfig(structure, one)), split)
    except KeyError as e:
        raise KeyError(f"task family {family.name!r}: {e.args[0]}") from None
