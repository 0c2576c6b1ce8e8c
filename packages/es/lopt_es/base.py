"""The gradient-estimator interface and what every estimator shares.

An estimator is a frozen dataclass (its configuration: learned optimizer,
task family, sizes) with two functions over explicit state, like evosax's
strategies:

    state = estimator.init(key, theta)
    grad, state, metrics = estimator.estimate(state, theta, key)

`grad` has θ's structure; `metrics` is a dict of Python floats. The state is
a pytree of arrays (device arrays and numpy counters), which is everything a
checkpoint needs to continue exactly.
"""

import abc
from typing import Any

import jax
import jax.numpy as jnp
import lopt_tasks as lt
import numpy as np

MetaParams = Any


class GradientEstimator(abc.ABC):
    """Estimates the gradient of a meta-loss with respect to meta-parameters θ."""

    @abc.abstractmethod
    def init(self, key: jax.Array, theta: MetaParams) -> Any:
        """The estimator's initial state (inner runs, accumulators, data positions)."""

    @abc.abstractmethod
    def estimate(self, state: Any, theta: MetaParams, key: jax.Array) -> tuple[MetaParams, Any, dict]:
        """(meta-gradient, next state, metrics)."""


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
