"""Task augmentations: `Task -> Task` wrappers and the families that sample them.

VeLO §3.2: "analogous to data-augmentation, we perform a series of
task-augmentations — programmatic modifications to tasks which change the
training dynamics", e.g. re-parameterised weights, gradients in subspaces,
asynchronous gradients, changed floating-point precision.

Two pieces:

- `TaskWrapper`: a frozen dataclass around a `Task` that delegates
  everything, so an augmentation overrides only what it changes.
- `Augmentation`: the recipe a family uses to sample one augmentation —
  its static choices (in the config's structure), its continuous choices
  (in the config's values, so configs stack and vmap) and how to wrap a task
  with them. `AugmentedFamily` applies a tuple of them to any `TaskFamily`,
  each with a given probability (1 = always).
"""

import abc
import dataclasses
from collections.abc import Hashable, Mapping, Sequence

import jax
import numpy as np

from lopt_tasks.base import Batch, Datasets, ModelState, Params, Task, TaskConfig, TaskFamily
from lopt_tasks.sampling import numpy_rng


@dataclasses.dataclass(frozen=True)
class TaskWrapper(Task):
    """A task that behaves like `task` except where a subclass says otherwise.

    Subclasses override `init_with_state` and `loss_with_state` (the general,
    stateful forms); `init` and `loss` are derived from them, so a wrapper
    works for stateless and stateful tasks alike.
    """

    task: Task

    @property
    def datasets(self) -> Datasets:
        return self.task.datasets

    @property
    def normalizer(self) -> float:
        return self.task.normalizer

    @property
    def log_loss_scale(self):
        return self.task.log_loss_scale

    def init_with_state(self, key: jax.Array) -> tuple[Params, ModelState]:
        return self.task.init_with_state(key)

    def init(self, key: jax.Array) -> Params:
        return self.init_with_state(key)[0]

    def loss_with_state(
        self, params: Params, model_state: ModelState, key: jax.Array, batch: Batch
    ) -> tuple[jax.Array, ModelState]:
        return self.task.loss_with_state(params, model_state, key, batch)

    def loss(self, params: Params, key: jax.Array, batch: Batch) -> jax.Array:
        return self.loss_with_state(params, None, key, batch)[0]


class Augmentation(abc.ABC):
    """How a family samples one augmentation. Subclasses are frozen dataclasses.

    `sample_static` draws the choices that change shapes or the program
    (e.g. the number of subspace directions); `sample_values` draws the
    continuous ones as arrays (e.g. a log weight scale); `wrap` builds the
    augmented task from both.
    """

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """A short identifier, unique within one `AugmentedFamily`."""

    def sample_static(self, rng: np.random.Generator) -> Hashable:
        return None

    def sample_values(self, key: jax.Array, static: Hashable) -> dict[str, jax.Array]:
        return {}

    @abc.abstractmethod
    def wrap(self, task: Task, static: Hashable, values: Mapping[str, jax.Array]) -> Task:
        """`task` with this augmentation applied."""


@dataclasses.dataclass(frozen=True)
class AugmentedStructure:
    """The structure of an augmented config: the inner family's structure and
    the applied augmentations as (name, static choices), in application order."""

    inner: Hashable
    augmentations: tuple[tuple[str, Hashable], ...]


@dataclasses.dataclass(frozen=True)
class AugmentedFamily(TaskFamily):
    """`family` with each of `augmentations` applied with probability `probability`.

    Augmentations are applied in the order given (the first wraps the inner
    task, the last is outermost), so e.g. a gradient modification listed
    after a re-parameterisation acts on the re-parameterised gradient. With
    probability 1 every sampled task carries all of them; below 1 each task
    gets a random subset (VeLO §3.2's random task augmentations), drawn in
    `sample_structure` so that a batch of configs shares it.

    Values are {"inner": the inner family's values, <name>: that
    augmentation's values}; keys for an augmentation's values depend only on
    its position in `augmentations`, not on which others were chosen.
    """

    family: TaskFamily
    augmentations: Sequence[Augmentation]
    probability: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "augmentations", tuple(self.augmentations))
        names = [a.name for a in self.augmentations]
        if len(set(names)) != len(names) or "inner" in names:
            raise ValueError(f"AugmentedFamily: augmentation names must be unique and not 'inner', got {names}.")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"AugmentedFamily: probability must be in [0, 1], got {self.probability}.")

    @property
    def name(self) -> str:
        return f"augmented_{self.family.name}"

    def _by_name(self, name: str) -> tuple[int, Augmentation]:
        for i, a in enumerate(self.augmentations):
            if a.name == name:
                return i, a
        raise ValueError(f"{self.name}: config names augmentation {name!r}, not one of {[a.name for a in self.augmentations]}.")

    def sample_structure(self, key: jax.Array) -> AugmentedStructure:
        inner_key, aug_key = jax.random.split(key)
        rng = numpy_rng(aug_key)
        chosen = []
        for a in self.augmentations:
            # Both draws are made for every augmentation so the choices of one do not shift the others'.
            applied = rng.uniform() < self.probability
            static = a.sample_static(rng)
            if applied:
                chosen.append((a.name, static))
        return AugmentedStructure(self.family.sample_structure(inner_key), tuple(chosen))

    def sample_values(self, key: jax.Array, structure: AugmentedStructure) -> dict:
        keys = jax.random.split(key, len(self.augmentations) + 1)
        values = {"inner": self.family.sample_values(keys[0], structure.inner)}
        for name, static in structure.augmentations:
            i, a = self._by_name(name)
            values[name] = a.sample_values(keys[i + 1], static)
        return values

    def task(self, cfg: TaskConfig) -> Task:
        structure = cfg.structure
        task = self.family.task(TaskConfig(structure.inner, cfg.values["inner"]))
        for name, static in structure.augmentations:
            task = self._by_name(name)[1].wrap(task, static, cfg.values[name])
        return task
