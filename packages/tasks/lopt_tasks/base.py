"""The Task and TaskFamily interfaces.

A `Task` is a training problem: parameter initialisation, a differentiable
loss on a batch, and batch sources per split. A `TaskFamily` is a
distribution over tasks: `sample(key)` draws a `TaskConfig` and `task(cfg)`
builds the task it describes.

A config has two parts. `structure` is static and hashable (dataset, widths,
depth, activation, batch size: anything that changes array shapes or the
program); `values` is a dict of arrays (anything continuous: initialisation
scales, loss scales, ...). Configs that share a structure stack into one
config whose values have a leading axis, and `jax.vmap` runs a whole batch of
such tasks' init, loss and gradient in one compiled call. Families batch by
structure: `sample_batch(key, n)` draws one structure and n value draws.
"""

import abc
import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

Params = Any
ModelState = Any
Batch = Any


class BatchSource(Protocol):
    """A deterministic, random-access stream of batches of one split.

    `batch(index, seed)` is the `index`-th batch of the stream that `seed`
    shuffles: a pure function of its arguments, so a training run that
    records how many batches it has drawn resumes exactly, and so does a
    meta-training run.
    """

    batch_size: int

    def batch(self, index: int, seed: int) -> Batch: ...

    def spec(self) -> Any:
        """A batch's structure as a pytree of `jax.ShapeDtypeStruct`."""


Datasets = Mapping[str, BatchSource]


class Task(abc.ABC):
    """A training problem. Subclasses are frozen dataclasses (hashable values)."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """A short identifier, e.g. "digits_mlp"."""

    @abc.abstractmethod
    def init(self, key: jax.Array) -> Params:
        """Initial parameters (a pytree of float arrays)."""

    def init_with_state(self, key: jax.Array) -> tuple[Params, ModelState]:
        """Initial parameters and model state (e.g. batch-norm statistics); None if stateless."""
        return self.init(key), None

    @abc.abstractmethod
    def loss(self, params: Params, key: jax.Array, batch: Batch) -> jax.Array:
        """The scalar training loss of `params` on `batch`; pure and differentiable."""

    def loss_with_state(
        self, params: Params, model_state: ModelState, key: jax.Array, batch: Batch
    ) -> tuple[jax.Array, ModelState]:
        """The loss and the next model state. Stateless tasks return the state unchanged."""
        if model_state is not None:
            raise ValueError(f"task {self.name!r} has no model state, but one was passed to loss_with_state.")
        return self.loss(params, key, batch), model_state

    @property
    @abc.abstractmethod
    def datasets(self) -> Datasets:
        """Batch sources by split ("train", and "valid"/"test" where the data has them)."""

    @property
    @abc.abstractmethod
    def normalizer(self) -> float:
        """The loss a meta-loss is clipped at and normalised by: the loss of an
        untrained model, e.g. ln(number of classes) for classification."""

    @property
    def log_loss_scale(self) -> Any:
        """None if the loss is an ordinary (positive) loss; c if the loss is
        already a logarithm, c · log(q) of a positive quantity q (e.g. an
        auto-encoder's log MSE, c = 1). Such a loss can be negative, so a
        meta-loss that takes logarithms must use loss / c instead of log(loss).
        Whether it is None must not depend on traced values."""
        return None


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """A sampled task: static `structure` (hashable) and array `values`.

    A pytree whose only children are the values; the structure is auxiliary
    data, so configs with different structures have different tree
    structures and never stack by accident.
    """

    structure: Hashable
    values: Mapping[str, jax.Array] = dataclasses.field(default_factory=dict)

    def tree_flatten(self):
        keys = tuple(sorted(self.values))
        return tuple(self.values[k] for k in keys), (self.structure, keys)

    @classmethod
    def tree_unflatten(cls, aux, children):
        structure, keys = aux
        return cls(structure, dict(zip(keys, children)))


class TaskFamily(abc.ABC):
    """A distribution over tasks. Subclasses are frozen dataclasses."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """A short identifier, e.g. "mlp_family"."""

    @abc.abstractmethod
    def sample_structure(self, key: jax.Array) -> Hashable:
        """Draws the static part of a config (runs in Python, not under jit)."""

    @abc.abstractmethod
    def sample_values(self, key: jax.Array, structure: Hashable) -> dict[str, jax.Array]:
        """Draws the array part of a config for `structure` (jit- and vmap-able)."""

    @abc.abstractmethod
    def task(self, cfg: TaskConfig) -> Task:
        """The task `cfg` describes; works with traced (and vmapped) `cfg.values`."""

    def sample(self, key: jax.Array) -> TaskConfig:
        structure_key, values_key = jax.random.split(key)
        structure = self.sample_structure(structure_key)
        return TaskConfig(structure, self.sample_values(values_key, structure))

    def sample_batch(self, key: jax.Array, n: int) -> TaskConfig:
        """n configs sharing one structure, stacked (values have a leading axis n)."""
        structure_key, values_key = jax.random.split(key)
        structure = self.sample_structure(structure_key)
        keys = jax.random.split(values_key, n)
        return TaskConfig(structure, jax.vmap(lambda k: self.sample_values(k, structure))(keys))


def stack_configs(configs: Sequence[TaskConfig]) -> TaskConfig:
    """Stacks configs of one structure; a clear error if their structures differ."""
    structures = {c.structure for c in configs}
    if len(structures) != 1:
        raise ValueError(
            f"stack_configs: configs have {len(structures)} different structures; "
            "stack only configs of one structure (see group_by_structure)."
        )
    return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *configs)


def group_by_structure(configs: Sequence[TaskConfig]) -> dict[Hashable, TaskConfig]:
    """Configs grouped by structure, each group stacked."""
    groups: dict[Hashable, list[TaskConfig]] = {}
    for c in configs:
        groups.setdefault(c.structure, []).append(c)
    return {s: stack_configs(cs) for s, cs in groups.items()}


def stack_batches(batches: Sequence[Batch]) -> Batch:
    """Stacks batches of several tasks (numpy) along a new leading axis, for vmapped tasks."""
    return jax.tree_util.tree_map(lambda *x: np.stack(x), *batches)


@dataclasses.dataclass(frozen=True)
class SingleTaskFamily(TaskFamily):
    """The family whose only member is one fixed task (so fixed tasks meta-train like families)."""

    fixed_task: Task

    @property
    def name(self) -> str:
        return self.fixed_task.name

    def sample_structure(self, key: jax.Array) -> Hashable:
        return self.fixed_task.name

    def sample_values(self, key: jax.Array, structure: Hashable) -> dict[str, jax.Array]:
        return {}

    def task(self, cfg: TaskConfig) -> Task:
        return self.fixed_task
