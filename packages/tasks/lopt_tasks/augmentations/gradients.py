"""Augmentations that change the gradient but not the loss.

`ModifiedGradient` wraps the loss in a `jax.custom_vjp`: the forward pass is
the inner task's, and in the backward pass the parameters' cotangent is
passed through `modify(grads, key, args)`. Differentiating the wrapped loss
therefore gives the modified gradient while its value is exactly the inner
loss (reference: tasks/task_augmentation.py `ModifyTaskGradient`).

The modification's key is `fold_in(key, GRADIENT_KEY_DATA)` of the loss
key, so the inner loss sees its own key unchanged. Parameters of the
modification (e.g. a noise level sampled into the config's values) are
passed as explicit arguments of the custom-VJP function rather than closed
over, so they may be traced under `vmap`.

Here: `NormalizedGradient` (unit global norm; reference
`NormalizeTaskGradient`) and `NoisyGradient` (additive Gaussian noise).
`SubspaceGradient` is in subspace.py.
"""

import abc
import dataclasses
from collections.abc import Hashable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lopt_tasks.augmentations.wrapper import Augmentation, TaskWrapper
from lopt_tasks.base import Params, Task

#: What the loss key is folded with to key a gradient modification.
GRADIENT_KEY_DATA = 0x6772


def gradient_key(key: jax.Array) -> jax.Array:
    """The key a `ModifiedGradient` uses for the gradient computed with loss key `key`."""
    return jax.random.fold_in(key, GRADIENT_KEY_DATA)


def global_norm(tree: Params) -> jax.Array:
    """sqrt of the sum of squares of every leaf (in float32)."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree_util.tree_leaves(tree)))


def _zero_cotangent(x):
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, jax.dtypes.float0)


@dataclasses.dataclass(frozen=True)
class ModifiedGradient(TaskWrapper):
    """Base class: the inner loss, with the parameter gradient replaced by `modify(grads, key, args)`."""

    @abc.abstractmethod
    def modify(self, grads: Params, key: jax.Array, args: Any) -> Params:
        """The gradient the optimizer sees, given the true gradient `grads`."""

    def modify_args(self) -> Any:
        """Array parameters of `modify` (traced under vmap); a pytree, () if none."""
        return ()

    def loss_with_state(self, params, model_state, key, batch):
        inner = self.task.loss_with_state

        @jax.custom_vjp
        def loss(params, model_state, key, batch, args):
            return inner(params, model_state, key, batch)

        def forward(params, model_state, key, batch, args):
            out, vjp = jax.vjp(inner, params, model_state, key, batch)
            return out, (vjp, key, args)

        def backward(residuals, cotangent):
            vjp, key, args = residuals
            d_params, d_state, d_key, d_batch = vjp(cotangent)
            d_params = self.modify(d_params, None if key is None else gradient_key(key), args)
            return d_params, d_state, d_key, d_batch, jax.tree_util.tree_map(_zero_cotangent, args)

        loss.defvjp(forward, backward)
        return loss(params, model_state, key, batch, self.modify_args())


@dataclasses.dataclass(frozen=True)
class NormalizedGradient(ModifiedGradient):
    """Gradient divided by its global L2 norm (a zero gradient stays zero)."""

    @property
    def name(self) -> str:
        return f"{self.task.name}+normalized_grad"

    def modify(self, grads, key, args):
        norm = global_norm(grads)
        inverse = jnp.where(norm > 0, 1.0 / jnp.where(norm > 0, norm, 1.0), 0.0)
        return jax.tree_util.tree_map(lambda g: (g * inverse).astype(g.dtype), grads)


@dataclasses.dataclass(frozen=True)
class NoisyGradient(ModifiedGradient):
    """Gradient plus independent Gaussian noise, keyed by the loss key.

    Each element gets N(0, σ²) added, with σ = `std` if not `relative`, and
    σ = `std` · ‖g‖ / sqrt(n) (`std` times the gradient's root-mean-square
    element) if `relative`, which makes the noise level comparable across
    tasks whose gradients differ in scale.
    """

    std: Any = 0.1
    relative: bool = True

    @property
    def name(self) -> str:
        return f"{self.task.name}+noisy_grad"

    def modify_args(self):
        return jnp.asarray(self.std, jnp.float32)

    def modify(self, grads, key, std):
        flat, unravel = ravel_pytree(grads)
        if self.relative:
            std = std * global_norm(grads) / np.sqrt(max(flat.size, 1))
        # One draw for all tensors: many differently-shaped draws compile slowly (see lopt_tasks/random_pool.py).
        noise = std * jax.random.normal(key, flat.shape, jnp.float32)
        return unravel((flat.astype(jnp.float32) + noise).astype(flat.dtype))


@dataclasses.dataclass(frozen=True)
class NormalizedGradientAugmentation(Augmentation):
    """Always `NormalizedGradient` (nothing to sample)."""

    @property
    def name(self) -> str:
        return "normalized_grad"

    def wrap(self, task: Task, static: Hashable, values: Mapping[str, jax.Array]) -> Task:
        return NormalizedGradient(task)


@dataclasses.dataclass(frozen=True)
class NoisyGradientAugmentation(Augmentation):
    """`NoisyGradient` with relative std log-uniform on `std_range`."""

    std_range: tuple[float, float] = (0.01, 1.0)
    relative: bool = True

    @property
    def name(self) -> str:
        return "noisy_grad"

    def sample_values(self, key, static):
        low, high = self.std_range
        return {"log_std": jax.random.uniform(key, (), minval=np.log(low), maxval=np.log(high))}

    def wrap(self, task, static, values):
        return NoisyGradient(task, std=jnp.exp(values["log_std"]), relative=self.relative)
