"""Asynchronous (stale) gradients (VeLO §3.2 "introducing asynchronicity in gradient calculation").

A worker in asynchronous data-parallel training computes its gradient at
parameters that are already several updates old. `StaleGradients(task,
delay=k)` simulates it: the model state holds the last k parameter values
(a buffer, filled with the initial parameters at init), and the loss and
gradient at step t are those of the inner task at the parameters passed k
calls earlier, p_{t−k} (p_j = p_0 for j < 0); then p_t enters the buffer.

The gradient reaches the current parameters by a straight-through
construction: the inner loss is evaluated at p_{t−k} + (p_t − stop_grad(p_t)),
whose value is exactly p_{t−k} and whose derivative in p_t is the identity.

Differences from the reference (tasks/task_augmentation.py
`AsyncDelayedGradients`): there the measured staleness of `delay_steps` d is
max(1, d − 1) steps; here `delay` is the staleness itself.

Requires the stateful API: use `init_with_state` and `loss_with_state`
(`init`/`loss` raise, as the buffer would be lost).
"""

import dataclasses

import jax
import jax.numpy as jnp

from lopt_tasks.augmentations.wrapper import Augmentation, TaskWrapper
from lopt_tasks.sampling import choice


@dataclasses.dataclass(frozen=True)
class StaleGradients(TaskWrapper):
    """`task` whose loss and gradient at each call are those at the parameters `delay` calls earlier.

    Model state: {"past_params": the last `delay` parameter values stacked
    on a leading axis, oldest first; "inner": the inner task's state}.
    """

    delay: int = 1

    def __post_init__(self):
        if not isinstance(self.delay, int) or self.delay < 1:
            raise ValueError(f"StaleGradients: delay must be an int >= 1 (steps of staleness), got {self.delay!r}.")

    @property
    def name(self) -> str:
        return f"{self.task.name}+stale{self.delay}"

    def init(self, key):
        raise ValueError(
            f"task {self.name!r} keeps past parameters in its model state; use init_with_state, not init."
        )

    def loss(self, params, key, batch):
        raise ValueError(
            f"task {self.name!r} keeps past parameters in its model state; use loss_with_state, not loss."
        )

    def init_with_state(self, key):
        params, inner_state = self.task.init_with_state(key)
        past = jax.tree_util.tree_map(lambda p: jnp.stack([p] * self.delay), params)
        return params, {"past_params": past, "inner": inner_state}

    def loss_with_state(self, params, model_state, key, batch):
        if not isinstance(model_state, dict) or "past_params" not in model_state:
            raise ValueError(
                f"task {self.name!r}: model_state must be the {{'past_params', 'inner'}} dict "
                f"from init_with_state, got {type(model_state).__name__}."
            )
        past = jax.lax.stop_gradient(model_state["past_params"])
        stale = jax.tree_util.tree_map(
            lambda old, p: old[0] + (p - jax.lax.stop_gradient(p)), past, params
        )
        loss, inner_state = self.task.loss_with_state(stale, model_state["inner"], key, batch)
        shifted = jax.tree_util.tree_map(
            lambda old, p: jnp.concatenate([old[1:], jax.lax.stop_gradient(p)[None]]), past, params
        )
        return loss, {"past_params": shifted, "inner": inner_state}


@dataclasses.dataclass(frozen=True)
class StaleGradientsAugmentation(Augmentation):
    """`StaleGradients` with the delay drawn uniformly from `delays`."""

    delays: tuple[int, ...] = (1, 2, 3, 4)

    @property
    def name(self) -> str:
        return "stale"

    def sample_static(self, rng):
        return int(choice(rng, self.delays))

    def wrap(self, task, static, values):
        return StaleGradients(task, delay=static)
