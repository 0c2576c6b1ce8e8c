"""Rescaled losses.

`ScaledLoss(task, scale)` multiplies the loss by `scale` > 0: the minimisers
and the landscape's shape are unchanged, gradients scale by `scale`, so an
optimizer that is not scale-invariant behaves differently. The normalizer
scales too, so a meta-loss normalised by it is unchanged (and so does a
logarithmic loss's `log_loss_scale`, so a log meta-loss is unchanged too). Losses of real
tasks span orders of magnitude; this augmentation asks a learned optimizer
to cope with that (scale log-uniform on [1e-3, 1e3] by default).
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.augmentations.wrapper import Augmentation, TaskWrapper


@dataclasses.dataclass(frozen=True)
class ScaledLoss(TaskWrapper):
    """`task` with its loss (and normalizer) multiplied by `scale` (a positive scalar, may be traced)."""

    scale: Any = 1.0

    @property
    def name(self) -> str:
        return f"{self.task.name}+scaled_loss"

    @property
    def normalizer(self):
        return self.task.normalizer * self.scale

    @property
    def log_loss_scale(self):
        inner = self.task.log_loss_scale
        return None if inner is None else inner * self.scale

    def loss_with_state(self, params, model_state, key, batch):
        loss, state = self.task.loss_with_state(params, model_state, key, batch)
        return (loss * self.scale).astype(loss.dtype), state


@dataclasses.dataclass(frozen=True)
class ScaledLossAugmentation(Augmentation):
    """`ScaledLoss` with the scale log-uniform on `scale_range` (a value: configs stack across scales)."""

    scale_range: tuple[float, float] = (1e-3, 1e3)

    @property
    def name(self) -> str:
        return "loss_scale"

    def sample_values(self, key, static):
        low, high = self.scale_range
        return {"log_scale": jax.random.uniform(key, (), minval=np.log(low), maxval=np.log(high))}

    def wrap(self, task, static, values):
        return ScaledLoss(task, scale=jnp.exp(values["log_scale"]))
