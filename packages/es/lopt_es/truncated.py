"""Estimators over truncated unrolls of persistent inner runs: PES, truncated ES, truncated BPTT.

Each of N task slots holds an inner training run of `inner_length` steps.
Every estimate advances every run by `trunc_length` steps and returns a
gradient from that truncation (tradeoffs paper App. D.1: PES, σ = 0.01,
truncations of 20 steps in 2k-step runs, antithetic pairs, a meta-batch of
tasks). Runs restart (new task values, initialisation and data stream) when
they reach their length; lengths are multiples of the truncation, so a
restart always falls on a truncation boundary. With `stagger`, each slot's
first run is shortened by a random number of truncations so restarts do not
happen all at once.

- `PES` (Vicol et al. 2021): each slot keeps a pair of runs, one with θ + ε_k
  and one with θ − ε_k in truncation k, and the sum of the ε's it has used
  since its run started, ξ = Σ_k ε_k. With ΔL the difference of the pair's
  meta-losses over this truncation,

      g_i = ΔL_i / (2σ²) · ξ_i,

  which is unbiased for the gradient of the Gaussian-smoothed meta-loss of
  the whole run: θ's effect on earlier truncations, carried in the inner
  state, is credited through ξ.
- `TruncatedES`: the same pair of runs but g_i = ΔL_i/(2σ²)·ε_i — it ignores
  that effect, so it is biased (kept for comparison).
- `TruncatedBPTT`: one run per slot with θ; the exact gradient of this
  truncation's meta-loss, not through the state it starts from.

A slot whose losses are not finite restarts at the next truncation and is
counted in the metrics. Its meta-loss is then NaN and it gets weight 0 in
the gradient, unless the meta-loss scores non-finite losses
(`MetaLoss(non_finite="normalizer")`), in which case the divergence counts.
"""

import dataclasses
import functools
from collections.abc import Callable, Hashable
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
    combine_task_gradients,
    data_source,
    es_gradient,
    estimate_metrics,
    failed_tasks,
    perturbations,
    slot_keys,
)
from lopt_es.sharding import shard_members


class TruncatedState(NamedTuple):
    """State of a truncated estimator; arrays lead with the slot axis N."""

    structure_key: jax.Array  # the task structure is family.sample_structure(structure_key)
    runs_key: jax.Array  # run r of slot i uses fold_in(fold_in(runs_key, i), r)
    values: dict  # task-config values per slot
    run_keys: jax.Array  # [N, 2]
    pos: Any  # optimizer states of the θ + ε runs (the only runs for TruncatedBPTT)
    neg: Any  # optimizer states of the θ − ε runs (None for TruncatedBPTT)
    accumulator: Any  # PES's ξ per slot (None otherwise)
    cursor: data_lib.Cursor


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Truncated(FamilyEstimator):
    """Configuration of the truncated estimators: `FamilyEstimator`'s fields and these."""

    inner_length: int = 2000
    trunc_length: int = 20
    min_inner_length: int | None = None  # if set: run lengths log-uniform in [min_inner_length, inner_length]
    stagger: bool = True

    def __post_init__(self):
        if self.inner_length % self.trunc_length:
            raise ValueError(
                f"{type(self).__name__}: inner_length {self.inner_length} must be a multiple of "
                f"trunc_length {self.trunc_length} (runs restart on truncation boundaries)."
            )
        if self.num_tasks < 1 or self.trunc_length < 1:
            raise ValueError(f"{type(self).__name__}: num_tasks and trunc_length must be positive.")
        if self.min_inner_length is not None and not (
                self.trunc_length <= self.min_inner_length <= self.inner_length
                and self.min_inner_length % self.trunc_length == 0):
            raise ValueError(
                f"{type(self).__name__}: min_inner_length {self.min_inner_length} must be a multiple of trunc_length "
                f"{self.trunc_length} between it and inner_length {self.inner_length}.")

    # Whether the estimator keeps a θ − ε twin of every run / PES's accumulator.
    antithetic: bool = dataclasses.field(default=True, init=False, repr=False)
    accumulates: bool = dataclasses.field(default=False, init=False, repr=False)

    def run_lengths(self, run_keys: jax.Array) -> np.ndarray:
        """The length of the run each key starts: `inner_length`, or with `min_inner_length` a draw
        log-uniform in [min_inner_length, inner_length] rounded to whole truncations (Celo's and the
        reference's LogUniformLengthSchedule), a function of the run's key so that resumption is exact."""
        n = run_keys.shape[0]
        if self.min_inner_length is None:
            return np.full(n, self.inner_length, np.int64)
        low, high = np.log(self.min_inner_length), np.log(self.inner_length)
        draws = jax.vmap(lambda k: jax.random.uniform(jax.random.fold_in(k, 2), (), jnp.float32, low, high))(run_keys)
        truncations = np.round(np.exp(np.asarray(draws, np.float64)) / self.trunc_length)
        return (np.clip(truncations * self.trunc_length, self.min_inner_length, self.inner_length)).astype(np.int64)

    def structure(self, state: TruncatedState) -> Hashable:
        return self.family.sample_structure(state.structure_key)

    def init(self, key: jax.Array, theta: Any) -> TruncatedState:
        structure_key, runs_key, stagger_key = jax.random.split(key, 3)
        structure = self.family.sample_structure(structure_key)
        n = self.num_tasks
        run_keys = slot_keys(runs_key, n, self.slot_offset)
        values = jax.vmap(lambda k: self.family.sample_values(k, structure))(run_keys)
        # Zero placeholders of the right shapes: every slot starts a run at the first estimate.
        shapes = jax.eval_shape(
            lambda: unroll_lib.init_members(self.lopt, self.family, structure, theta, values, run_keys,
                                            jnp.full((n,), self.inner_length, jnp.int32), theta_batched=False))
        states = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        # Before a slot's first run, `length` holds that run's length: shortened by a
        # random number of truncations with `stagger`, so restarts do not all coincide.
        first = self.run_lengths(run_keys)
        offsets = np.zeros(n, np.int64)
        if self.stagger:
            truncations = jnp.asarray(first // self.trunc_length, jnp.int32)
            draws = jax.vmap(lambda k, t: jax.random.randint(k, (), 0, t))(
                slot_keys(stagger_key, n, self.slot_offset), truncations)
            offsets = np.asarray(draws, np.int64) * self.trunc_length
        cursor = data_lib.new_cursor(n)._replace(length=first - offsets)
        zeros = jax.tree_util.tree_map(lambda x: jnp.zeros((n,) + jnp.shape(x), jnp.result_type(x)), theta)
        return TruncatedState(
            structure_key=structure_key, runs_key=runs_key, values=values, run_keys=run_keys, pos=states,
            neg=states if self.antithetic else None, accumulator=zeros if self.accumulates else None,
            cursor=cursor,
        )

    def _restart(self, state: TruncatedState, structure: Hashable, thetas: tuple) -> tuple[TruncatedState, np.ndarray]:
        """Starts new runs in the slots that finished (or failed); returns the state and the mask."""
        cursor = state.cursor
        not_started = cursor.run < 0
        restart = not_started | (cursor.inner_step >= cursor.length)
        if not restart.any():
            return state, restart
        n = self.num_tasks
        run = np.where(restart, cursor.run + 1, cursor.run)
        slots = slot_keys(state.runs_key, n, self.slot_offset)
        new_keys = jax.vmap(jax.random.fold_in)(slots, jnp.asarray(run, jnp.uint32))
        length = np.where(restart & ~not_started, self.run_lengths(new_keys), cursor.length)
        cursor = data_lib.Cursor(run=run, inner_step=np.where(restart, 0, cursor.inner_step), length=length)

        new_values = jax.vmap(lambda k: self.family.sample_values(jax.random.fold_in(k, 1), structure))(new_keys)
        mask = jnp.asarray(restart)

        def select(new, old):
            return jax.tree_util.tree_map(
                lambda a, b: jnp.where(jnp.reshape(mask, (-1,) + (1,) * (jnp.ndim(a) - 1)), a, b), new, old
            )

        values = select(new_values, state.values)
        run_keys = select(new_keys, state.run_keys)
        num_steps = jnp.asarray(length, jnp.int32)
        theta_pos, theta_neg, batched = thetas
        pos = select(unroll_lib.init_members(self.lopt, self.family, structure, theta_pos, values, run_keys,
                                             num_steps, theta_batched=batched), state.pos)
        neg = state.neg
        if self.antithetic:
            neg = select(unroll_lib.init_members(self.lopt, self.family, structure, theta_neg, values, run_keys,
                                                 num_steps, theta_batched=batched), state.neg)
        accumulator = state.accumulator
        if self.accumulates:
            accumulator = select(jax.tree_util.tree_map(jnp.zeros_like, accumulator), accumulator)
        return state._replace(values=values, run_keys=run_keys, pos=pos, neg=neg, accumulator=accumulator,
                              cursor=cursor), restart

    def _batches(self, state: TruncatedState, structure: Hashable):
        values = state.values
        train = data_source(self.family, structure, values, "train")
        batches = data_lib.gather_batches(train, self.data_seed, state.cursor, self.trunc_length, self.slot_offset)
        valid = None
        if self.meta_loss.split == "valid":
            source = data_source(self.family, structure, values, "valid")
            valid = data_lib.gather_batches(source, self.data_seed + 1, state.cursor, self.trunc_length, self.slot_offset)
        return batches, valid

    def _advance(self, state: TruncatedState, failed: np.ndarray) -> data_lib.Cursor:
        cursor = state.cursor
        inner_step = cursor.inner_step + self.trunc_length
        # A failed run is restarted at the next estimate.
        inner_step = np.where(failed, np.maximum(cursor.length, inner_step), inner_step)
        return cursor._replace(inner_step=inner_step)


# Assembling and taking apart the members, and PES's sum, are compiled (one call each, not one per leaf; see
# base.py): a small group's estimate was mostly their dispatch.


def _concat(a: Any, b: Any) -> Any:
    return jax.tree_util.tree_map(lambda x, y: jnp.concatenate([x, y]), a, b)


@jax.jit
def _pair_members(theta_pos: Any, theta_neg: Any, pos: Any, neg: Any, values: dict, run_keys: jax.Array,
                  first_step: jax.Array) -> tuple:
    """The 2N members of an antithetic estimate: the θ + ε runs, then the θ − ε runs of the same tasks."""
    return (_concat(theta_pos, theta_neg), _concat(pos, neg), _concat(values, values), _concat(run_keys, run_keys),
            _concat(first_step, first_step))


def _tile2(batches: Any) -> Any:
    return None if batches is None else jax.tree_util.tree_map(lambda x: np.concatenate([x, x], axis=1), batches)


@functools.partial(jax.jit, static_argnums=(1,))
def _split2(tree: Any, n: int) -> tuple[Any, Any]:
    return jax.tree_util.tree_map(lambda x: x[:n], tree), jax.tree_util.tree_map(lambda x: x[n:], tree)


@jax.jit
def _add(a: Any, b: Any) -> Any:
    return jax.tree_util.tree_map(jnp.add, a, b)


@jax.jit
def _finite_tasks(meta: jax.Array, per_task: Any) -> jax.Array:
    """[N]: tasks whose meta-loss and gradient are finite."""
    return jnp.isfinite(meta) & jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(jnp.reshape(g, (g.shape[0], -1))), axis=1)
                   for g in jax.tree_util.tree_leaves(per_task)]), axis=0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _AntitheticTruncated(_Truncated):
    """PES and truncated ES: a θ + ε_i and a θ − ε_i run in every slot."""

    def start(self, state: TruncatedState, theta: Any, key: jax.Array) -> Callable[[], tuple]:
        structure = self.structure(state)
        n = self.num_tasks
        eps = perturbations(key, theta, n, self.std, self.slot_offset)
        theta_pos, theta_neg = add_batched(theta, eps, 1.0), add_batched(theta, eps, -1.0)
        state, restarted = self._restart(state, structure, (theta_pos, theta_neg, True))
        batches, valid = self._batches(state, structure)
        first_step = jnp.asarray(state.cursor.inner_step, jnp.int32)
        members = shard_members(_pair_members(theta_pos, theta_neg, state.pos, state.neg, state.values,
                                              state.run_keys, first_step), self.mesh)
        states, losses, objectives = unroll_lib.unroll(
            self.lopt, self.family, structure, self.meta_loss, *members,
            shard_members(_tile2(batches), self.mesh, axis=1), shard_members(_tile2(valid), self.mesh, axis=1),
        )
        pos, neg = _split2(states, n)
        meta = self.meta_loss.reduce(objectives)
        accumulator = state.accumulator
        if self.accumulates:
            accumulator = _add(accumulator, eps)
        direction = accumulator if self.accumulates else eps
        grad, finite, used, task_meta = es_gradient(direction, meta, self.std, self.per_task_normalization)

        def finish() -> tuple[Any, TruncatedState, Metrics]:
            failed = failed_tasks(finite, losses, n)
            new_state = state._replace(pos=pos, neg=neg, accumulator=accumulator,
                                       cursor=self._advance(state, failed))
            metrics = estimate_metrics(task_meta, finite, used, losses, failed, restarted_runs=restarted.sum(),
                                       inner_steps=2 * n * self.trunc_length)
            return grad, new_state, metrics

        return finish


@dataclasses.dataclass(frozen=True, kw_only=True)
class PES(_AntitheticTruncated):
    """Persistent evolution strategies: unbiased gradients from truncated, persistent unrolls."""

    accumulates: bool = dataclasses.field(default=True, init=False, repr=False)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TruncatedES(_AntitheticTruncated):
    """Antithetic ES on each truncation alone: biased, as it ignores θ's effect on the state."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TruncatedBPTT(_Truncated):
    """The analytic gradient of each truncation's meta-loss (states enter as constants)."""

    antithetic: bool = dataclasses.field(default=False, init=False, repr=False)

    def start(self, state: TruncatedState, theta: Any, key: jax.Array) -> Callable[[], tuple]:
        structure = self.structure(state)
        state, restarted = self._restart(state, structure, (theta, None, False))
        batches, valid = self._batches(state, structure)
        first_step = jnp.asarray(state.cursor.inner_step, jnp.int32)
        pos, values, run_keys, first_step = shard_members((state.pos, state.values, state.run_keys, first_step), self.mesh)
        (meta, (states, losses)), per_task = _tbptt_value_and_grad(
            self.lopt, self.family, structure, self.meta_loss, theta, pos, values, run_keys, first_step,
            shard_members(batches, self.mesh, axis=1), shard_members(valid, self.mesh, axis=1),
        )
        finite = _finite_tasks(meta, per_task)
        grad, used = combine_task_gradients(per_task, finite, self.per_task_normalization)

        def finish() -> tuple[Any, TruncatedState, Metrics]:
            failed = failed_tasks(finite, losses, self.num_tasks)
            metrics = estimate_metrics(meta, finite, used, losses, failed, restarted_runs=restarted.sum(),
                                       inner_steps=self.num_tasks * self.trunc_length)
            return grad, state._replace(pos=states, cursor=self._advance(state, failed)), metrics

        return finish


def _tbptt_member(lopt, family, structure, meta_loss, theta, opt_state, values, run_key, first_step, batches, valid):
    """One member's truncation meta-loss (a function of θ) and its final state and losses."""
    add = lambda tree: jax.tree_util.tree_map(lambda x: x[None], tree)  # noqa: E731
    states, losses, objectives = unroll_lib.unroll_members(
        lopt, family, structure, meta_loss, theta, add(opt_state), add(values), run_key[None], first_step[None],
        jax.tree_util.tree_map(lambda x: x[:, None], batches),
        None if valid is None else jax.tree_util.tree_map(lambda x: x[:, None], valid), theta_batched=False,
    )
    return meta_loss.reduce(objectives)[0], (jax.tree_util.tree_map(lambda x: x[0], states), losses[:, 0])


def _tbptt(lopt, family, structure, meta_loss, theta, states, values, run_keys, first_step, batches, valid):
    member = jax.value_and_grad(_tbptt_member, argnums=4, has_aux=True)
    in_axes = (None, 0, 0, 0, 0, 1, None if valid is None else 1)
    (meta, (new_states, losses)), grads = jax.vmap(
        lambda *args: member(lopt, family, structure, meta_loss, *args), in_axes=in_axes
    )(theta, states, values, run_keys, first_step, batches, valid)
    return (meta, (new_states, losses.T)), grads


_tbptt_value_and_grad = jax.jit(_tbptt, static_argnums=(0, 1, 2, 3))
