"""What the sampled families share: activations, initialisers and their scale, dropout, the task fields.

Activations and initialisers are the reference's sampled choices
(tasks/parametric/parametric_utils.py `SampleActivation`,
`SampleInitializer`), including its repeated entries, which make some
choices more likely: relu 2/12 and silu ("swish" is silu) 2/12 of the
activations, and the normal variance-scaling initialiser 2/5 of the
initialisers. Here the names are static (in a config's structure) and the
initialiser's scale, U(0.5, 2), is a value, so configs that differ only in
scale stack and vmap.

Most families sample nothing but that scale as a value, and their tasks
hold their config's structure, that scale and the data directory:
`SampledTask` (with `SampledImageTask` and `SampledLanguageModelTask`,
which read their data from the structure) and `InitScaleFamily` are those
shared parts.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks import random_pool
from lopt_tasks.base import TaskConfig, TaskFamily
from lopt_tasks.image_task import ImageData
from lopt_tasks.text_task import TextData

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "selu": jax.nn.selu,
    "tanh": jnp.tanh,
    "cos": jnp.cos,
    "sin": jnp.sin,
    "sigmoid": jax.nn.sigmoid,
    "silu": jax.nn.silu,
    "gelu": jax.nn.gelu,
    # The reference's leaky_relu(negative_slope=-0.5): negative inputs are reflected, x ↦ −x/2.
    "leaky_relu_-0.5": lambda x: jax.nn.leaky_relu(x, negative_slope=-0.5),
}

#: The reference's list, with its repeats: the sampling weights of the activations.
ACTIVATION_CHOICES = (
    "relu", "relu", "relu6", "selu", "tanh", "cos", "sin", "sigmoid", "silu", "silu", "gelu", "leaky_relu_-0.5",
)  # fmt: skip

#: The reference's initialisers, with its repeat (its two "variance_scale" entries are both normal).
INITIALIZER_CHOICES = ("orthogonal", "uniform_scaled", "variance_normal", "variance_normal", "variance_uniform")

#: Range of the sampled initialiser scale (a value).
INIT_SCALE_RANGE = (0.5, 2.0)


def _fan_in(shape) -> int:
    # Dense [in, out] and conv [h, w, in, out] kernels: every axis but the last is an input axis.
    return max(1, int(np.prod(shape[:-1]))) if len(shape) > 1 else max(1, int(shape[0]) if shape else 1)


def _orthogonal(shape, dtype, scale):
    if len(shape) < 2:
        raise ValueError(f"orthogonal initialiser: needs a tensor of rank >= 2, got shape {shape}.")
    rows, cols = shape[-1], int(np.prod(shape[:-1]))
    q, r = jnp.linalg.qr(random_pool.standard_normal((max(rows, cols), min(rows, cols))))
    q = q * jnp.sign(jnp.diagonal(r))
    if rows < cols:
        q = q.T  # [rows, cols]
    # q's rows are orthonormal over the input axes; move the output axis last.
    return (scale * jnp.reshape(q.T, shape)).astype(dtype)


def initializer(name: str, scale: Any) -> hk.initializers.Initializer:
    """The haiku initialiser `name` with multiplier `scale` (a float or traced scalar).

    - "orthogonal": a random orthogonal matrix (over input × output axes) times scale.
    - "uniform_scaled": U(±sqrt(3 / fan_in)) times scale (unit variance per fan-in, then scaled).
    - "variance_normal": N(0, scale / fan_in) — scale multiplies the variance, as in the reference.
    - "variance_uniform": U(±sqrt(3 · scale / fan_in)), the same variance.
    - "normal": N(0, scale²), independent of the shape.

    Random numbers come from `random_pool` (one draw per model call).
    """

    def init(shape, dtype):
        shape = tuple(shape)
        fan_in = _fan_in(shape)
        if name == "orthogonal":
            return _orthogonal(shape, dtype, scale)
        if name == "uniform_scaled":
            return (scale * random_pool.uniform(shape, -1.0, 1.0) * math.sqrt(3.0 / fan_in)).astype(dtype)
        if name == "variance_normal":
            return (jnp.sqrt(scale / fan_in) * random_pool.standard_normal(shape)).astype(dtype)
        if name == "variance_uniform":
            return (jnp.sqrt(3.0 * scale / fan_in) * random_pool.uniform(shape, -1.0, 1.0)).astype(dtype)
        if name == "normal":  # N(0, scale²): fixed-width embeddings and the like
            return (scale * random_pool.standard_normal(shape)).astype(dtype)
        raise ValueError(f"unknown initialiser {name!r}; known: {sorted(set(INITIALIZER_CHOICES) | {'normal'})}.")

    return init


def sample_init_scale(key: jax.Array) -> jax.Array:
    low, high = INIT_SCALE_RANGE
    return jax.random.uniform(key, (), jnp.float32, low, high)


def dropout(rate: Any, x: jax.Array) -> jax.Array:
    """Inverted dropout (inside a `random_pool.pooled` call); `rate` may be traced, unlike haiku's."""
    keep = 1.0 - rate
    mask = random_pool.bernoulli(x.shape, keep)
    return jnp.where(mask, x / keep, 0).astype(x.dtype)


# --------------------------------------------------------------------------- sampled tasks and families


@dataclasses.dataclass(frozen=True)
class SampledTask:
    """The fields of a sampled task (a mixin listed before its task base class).

    Attributes:
      structure: its config's structure (a family's frozen dataclass).
      init_scale: the sampled initialiser scale (a float or traced scalar).
      data_dir: the tfds data directory; offline datasets ignore it.
    """

    structure: Any
    init_scale: Any = 1.0
    data_dir: str | None = None


class SampledImageTask(SampledTask):
    """A sampled task whose structure holds its `image_data`."""

    @property
    def image_data(self) -> ImageData:
        return self.structure.image_data


class SampledLanguageModelTask(SampledTask):
    """A sampled language model whose structure holds its `text_data` and `vocab_size`."""

    @property
    def text_data(self) -> TextData:
        return self.structure.text_data

    @property
    def vocab_size(self) -> int:
        return self.structure.vocab_size


class InitScaleFamily(TaskFamily):
    """A family whose only value is the initialiser scale, U(0.5, 2), and whose tasks are
    `task_type(structure, init_scale, data_dir)`; subclasses are frozen dataclasses with a `data_dir` field."""

    task_type: ClassVar[type[SampledTask]]

    def sample_values(self, key, structure):
        return {"init_scale": sample_init_scale(key)}

    def task(self, cfg: TaskConfig) -> SampledTask:
        return self.task_type(cfg.structure, cfg.values["init_scale"], self.data_dir)
