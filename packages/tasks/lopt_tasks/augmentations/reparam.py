"""Re-parameterised weights (VeLO §3.2 "re-parameterizing weight tensors").

The wrapped task stores each weight w as w / s and multiplies by s inside
the loss: if the inner loss is f(w), the augmented loss is g(v) = f(s·v) with
initial v0 = w0 / s. The function the weights represent is unchanged (g(v)
= f(w) for v = w / s), but ∇g(v) = s·∇f(s·v), so an optimizer sees
gradients s times larger on parameters s times smaller: the dynamics change
a lot while the problem does not (reference: tasks/task_augmentation.py
`ReparamWeights`, `ReparamWeightsFamily`).

Levels, as in the reference: "global" (one scale), "tensor" (one per
parameter tensor) or "parameter" (one per element). Scales are
exp(U(log 0.01, log 100)) by default. For the tensor and parameter levels
the config stores one key and the scales are regenerated from it and the
parameters' shapes (`RandomScales`), so configs stay small.
"""

import dataclasses
from collections.abc import Hashable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.augmentations.wrapper import Augmentation, TaskWrapper
from lopt_tasks.base import Params, Task
from lopt_tasks.sampling import choice, key_data

LEVELS = ("global", "tensor", "parameter")


@dataclasses.dataclass(frozen=True)
class ReparamWeights(TaskWrapper):
    """`task` with parameters stored divided by `scale`.

    Args:
      task: the task to wrap.
      scale: a scalar (every parameter), a pytree with the parameters'
        structure whose leaves broadcast against each tensor, or a function
        of the parameters returning such a pytree (it may use only their
        shapes and dtypes, e.g. `RandomScales`).
    """

    scale: Any = 1.0

    @property
    def name(self) -> str:
        return f"{self.task.name}+reparam"

    def scales(self, params: Params) -> Params:
        """The scale of every parameter tensor, as a pytree like `params`."""
        scale = self.scale(params) if callable(self.scale) else self.scale
        if jax.tree_util.treedef_is_leaf(jax.tree_util.tree_structure(scale)):
            return jax.tree_util.tree_map(lambda _: scale, params)
        if jax.tree_util.tree_structure(scale) != jax.tree_util.tree_structure(params):
            raise ValueError(
                f"task {self.name!r}: scale tree {jax.tree_util.tree_structure(scale)} does not match "
                f"the parameter tree {jax.tree_util.tree_structure(params)}."
            )
        return scale

    def init_with_state(self, key):
        params, state = self.task.init_with_state(key)
        stored = jax.tree_util.tree_map(lambda w, s: (w / s).astype(w.dtype), params, self.scales(params))
        return stored, state

    def loss_with_state(self, params, model_state, key, batch):
        represented = jax.tree_util.tree_map(lambda v, s: (v * s).astype(v.dtype), params, self.scales(params))
        return self.task.loss_with_state(represented, model_state, key, batch)


@dataclasses.dataclass(frozen=True)
class RandomScales:
    """Per-tensor or per-element scales exp(U(log low, log high)) drawn from `key`.

    The scales are one draw from `key` — one number per tensor (in
    tree-flattening order) or per element of the flattened parameters — so
    they are a pure function of the key and the parameters' shapes.
    """

    key: jax.Array
    level: str
    low: float = 0.01
    high: float = 100.0

    def __call__(self, params: Params) -> Params:
        leaves, treedef = jax.tree_util.tree_flatten(params)
        key = jax.random.wrap_key_data(self.key) if self.key.dtype == jnp.uint32 else self.key
        sizes = [1 if self.level == "tensor" else int(np.size(leaf)) for leaf in leaves]
        logs = jax.random.uniform(key, (sum(sizes),), minval=np.log(self.low), maxval=np.log(self.high))
        pieces = jnp.split(jnp.exp(logs), np.cumsum(sizes)[:-1])
        shaped = [p[0] if self.level == "tensor" else jnp.reshape(p, jnp.shape(leaf)) for p, leaf in zip(pieces, leaves)]
        return jax.tree_util.tree_unflatten(treedef, shaped)


@dataclasses.dataclass(frozen=True)
class ReparamAugmentation(Augmentation):
    """Samples `ReparamWeights`: a level from `levels` (static), scales log-uniform on `scale_range`.

    Values: {"log_scale": scalar} at the global level, {"key": uint32 key
    data} at the tensor and parameter levels (see `RandomScales`).
    """

    levels: tuple[str, ...] = LEVELS
    scale_range: tuple[float, float] = (0.01, 100.0)

    def __post_init__(self):
        unknown = [level for level in self.levels if level not in LEVELS]
        if unknown or not self.levels:
            raise ValueError(f"ReparamAugmentation: levels must be a non-empty subset of {LEVELS}, got {self.levels!r}.")
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"ReparamAugmentation: scale_range must satisfy 0 < low <= high, got {self.scale_range}.")

    @property
    def name(self) -> str:
        return "reparam"

    def sample_static(self, rng):
        return str(choice(rng, self.levels))

    def sample_values(self, key: jax.Array, static: Hashable) -> dict[str, jax.Array]:
        low, high = self.scale_range
        if static == "global":
            return {"log_scale": jax.random.uniform(key, (), minval=np.log(low), maxval=np.log(high))}
        return {"key": key_data(key)}

    def wrap(self, task: Task, static: Hashable, values: Mapping[str, jax.Array]) -> Task:
        if static == "global":
            return ReparamWeights(task, jnp.exp(values["log_scale"]))
        low, high = self.scale_range
        return ReparamWeights(task, RandomScales(values["key"], static, low, high))
