"""In-memory datasets with deterministic, random-access batches.

`ArrayDataset` holds one split as numpy arrays (images stay uint8 until a
batch is drawn). Batch `index` of the stream for `seed` is: epoch
e = index // batches_per_epoch, a permutation of the examples drawn from
`numpy.random.default_rng([seed, e])`, and the index-th block of
`batch_size` examples of it (the last incomplete block of an epoch is
dropped). Nothing depends on what was drawn before, so runs resume exactly
and several tasks can read one dataset with different seeds.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np


@dataclasses.dataclass(eq=False)
class ArrayDataset:
    """One split of a dataset held in memory.

    Args:
      arrays: name → array, all with the same number of examples (axis 0).
      batch_size: examples per batch (at most the number of examples).
      transform: applied to each batch's dict of arrays (e.g. uint8 → float32
        in [0, 1]); must keep it a dict of arrays.
      name: for error messages, e.g. "digits/train".
    """

    arrays: Mapping[str, np.ndarray]
    batch_size: int
    transform: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None
    name: str = "dataset"

    def __post_init__(self):
        sizes = {k: len(v) for k, v in self.arrays.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"{self.name}: arrays have different numbers of examples: {sizes}.")
        self.num_examples = next(iter(sizes.values()))
        if not 1 <= self.batch_size <= self.num_examples:
            raise ValueError(
                f"{self.name}: batch_size {self.batch_size} must be between 1 and the "
                f"{self.num_examples} examples."
            )
        self.batches_per_epoch = self.num_examples // self.batch_size
        self._permutation_cache: dict[tuple[int, int], np.ndarray] = {}

    def _permutation(self, seed: int, epoch: int) -> np.ndarray:
        key = (seed, epoch)
        if key not in self._permutation_cache:
            if len(self._permutation_cache) > 64:
                self._permutation_cache.clear()
            self._permutation_cache[key] = np.random.default_rng([seed, epoch]).permutation(self.num_examples)
        return self._permutation_cache[key]

    def batch(self, index: int, seed: int) -> dict[str, np.ndarray]:
        """The `index`-th batch (0-based) of the stream shuffled by `seed`."""
        index, seed = int(index), int(seed)
        if index < 0 or seed < 0:
            raise ValueError(f"{self.name}: batch index and seed must be non-negative, got {index} and {seed}.")
        epoch, position = divmod(index, self.batches_per_epoch)
        rows = self._permutation(seed, epoch)[position * self.batch_size : (position + 1) * self.batch_size]
        out = {k: v[rows] for k, v in self.arrays.items()}
        return self.transform(out) if self.transform else out

    def spec(self) -> Any:
        return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), self.batch(0, 0))


def images_to_unit_interval(batch: dict[str, np.ndarray], maximum: float = 255.0) -> dict[str, np.ndarray]:
    """`batch["image"]` as float32 in [0, 1] (the papers' input scaling)."""
    out = dict(batch)
    out["image"] = batch["image"].astype(np.float32) / np.float32(maximum)
    return out
