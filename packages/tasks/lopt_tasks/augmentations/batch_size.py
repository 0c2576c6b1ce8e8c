"""Smaller batches: the same data streams, fewer examples per batch.

`ReducedBatchSize(task, fraction)` keeps the first max(1, int(B · fraction))
rows of every array of every batch of every split (B = the split's batch
size), so the gradient is noisier while the loss and the data are
unchanged. Reusing the inner streams keeps batches deterministic and costs
no extra memory (reference: tasks/task_augmentation.py
`ReducedBatchsizeTask`, same rule).
"""

import dataclasses
from typing import Any

import jax
import numpy as np

from lopt_tasks.augmentations.wrapper import Augmentation, TaskWrapper
from lopt_tasks.base import BatchSource
from lopt_tasks.sampling import log_uniform


def reduced_size(batch_size: int, fraction: float) -> int:
    """max(1, int(batch_size · fraction))."""
    return max(1, int(batch_size * fraction))


@dataclasses.dataclass(frozen=True)
class FirstRows:
    """A batch source that yields the first `batch_size` rows of each batch of `source`."""

    source: BatchSource
    batch_size: int

    def batch(self, index: int, seed: int) -> Any:
        return jax.tree_util.tree_map(lambda x: x[: self.batch_size], self.source.batch(index, seed))

    def spec(self) -> Any:
        return jax.tree_util.tree_map(
            lambda s: jax.ShapeDtypeStruct((self.batch_size, *s.shape[1:]), s.dtype), self.source.spec()
        )


@dataclasses.dataclass(frozen=True)
class ReducedBatchSize(TaskWrapper):
    """`task` with batches cut to a `fraction` of their size (0 < fraction <= 1)."""

    fraction: float = 0.5

    def __post_init__(self):
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"ReducedBatchSize: fraction must be in (0, 1], got {self.fraction}.")

    @property
    def name(self) -> str:
        return f"{self.task.name}+batch{self.fraction:g}"

    @property
    def datasets(self):
        return {
            split: FirstRows(source, reduced_size(source.batch_size, self.fraction))
            for split, source in self.task.datasets.items()
        }


@dataclasses.dataclass(frozen=True)
class ReducedBatchSizeAugmentation(Augmentation):
    """`ReducedBatchSize` with the fraction log-uniform on `fraction_range`, rounded to 2 digits.

    The fraction is static: it changes the batch shapes.
    """

    fraction_range: tuple[float, float] = (0.1, 1.0)

    @property
    def name(self) -> str:
        return "batch_size"

    def sample_static(self, rng):
        return float(np.round(log_uniform(rng, *self.fraction_range), 2))

    def wrap(self, task, static, values):
        return ReducedBatchSize(task, fraction=static)
