"""Changed floating-point precision (VeLO §3.2 "changing floating-point precision").

`FloatPrecision(task, "bfloat16")` initialises the parameters in the given
dtype and computes the loss in it: floating-point parameters and float32
batch arrays are cast before the inner loss runs; integer arrays (labels,
tokens) and the model state are left alone. The loss comes back in the
compute dtype and gradients in the parameters' dtype — nothing is silently
upcast (reference: tasks/task_augmentation.py `ConvertFloatDType`, default
bfloat16).
"""

import dataclasses

import jax
import jax.numpy as jnp

from lopt_tasks.augmentations.wrapper import Augmentation, TaskWrapper
from lopt_tasks.sampling import choice

DTYPES = ("bfloat16", "float16", "float32")


def _cast_floats(tree, dtype, only_float32: bool = False):
    def cast(x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            return x
        if only_float32 and x.dtype != jnp.float32:
            return x
        return x.astype(dtype)

    return jax.tree_util.tree_map(cast, tree)


@dataclasses.dataclass(frozen=True)
class FloatPrecision(TaskWrapper):
    """`task` with parameters and computation in `dtype` (a name in `DTYPES`)."""

    dtype: str = "bfloat16"

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"FloatPrecision: dtype must be one of {DTYPES}, got {self.dtype!r}.")

    @property
    def name(self) -> str:
        return f"{self.task.name}+{self.dtype}"

    def init_with_state(self, key):
        params, state = self.task.init_with_state(key)
        return _cast_floats(params, self.dtype), state

    def loss_with_state(self, params, model_state, key, batch):
        params = _cast_floats(params, self.dtype)
        batch = _cast_floats(batch, self.dtype, only_float32=True)
        return self.task.loss_with_state(params, model_state, key, batch)


@dataclasses.dataclass(frozen=True)
class PrecisionAugmentation(Augmentation):
    """`FloatPrecision` in a dtype drawn from `dtypes` (default bfloat16 only, as the reference)."""

    dtypes: tuple[str, ...] = ("bfloat16",)

    @property
    def name(self) -> str:
        return "precision"

    def sample_static(self, rng):
        return str(choice(rng, self.dtypes))

    def wrap(self, task, static, values):
        return FloatPrecision(task, dtype=static)
