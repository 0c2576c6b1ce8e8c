"""What the sampled families share: activations, initialisers, losses, data, a haiku task base.

Activations and initialisers are the reference's sampled choices
(tasks/parametric/parametric_utils.py `SampleActivation`,
`SampleInitializer`), including its repeated entries, which make some
choices more likely: relu 2/12 and silu ("swish" is silu) 2/12 of the
activations, and the normal variance-scaling initialiser 2/5 of the
initialisers. Here the names are static (in a config's structure) and the
initialiser's scale, U(0.5, 2), is a value, so configs that differ only in
scale stack and vmap.
"""

import abc
import functools
import math
from collections.abc import Callable
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks import datasets as lopt_datasets
from lopt_tasks.base import Batch, Datasets, Task
from lopt_tasks.families import random_pool

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


# --------------------------------------------------------------------------- data


@functools.lru_cache(maxsize=64)
def image_splits(name: str, batch_size: int, image_size: int | None, data_dir: str | None) -> Datasets:
    """`datasets.image_dataset` for a square `image_size` (None: stored size), loaded once per argument set."""
    size = None if image_size is None else (image_size, image_size)
    return lopt_datasets.image_dataset(name, batch_size, data_dir=data_dir, image_size=size)


@functools.lru_cache(maxsize=64)
def text_splits(name: str, batch_size: int, sequence_length: int, data_dir: str | None) -> Datasets:
    """`datasets.byte_text_dataset`, loaded once per argument set."""
    return lopt_datasets.byte_text_dataset(name, batch_size, sequence_length, data_dir=data_dir)


def image_input_shape(name: str, batch_size: int, image_size: int | None) -> tuple[int, int, int, int]:
    height, width, channels = lopt_datasets.image_shape(name)
    if image_size is not None:
        height = width = image_size
    return (batch_size, height, width, channels)


def fold_tokens(tokens: jax.Array, vocab_size: int) -> jax.Array:
    """Bytes mapped into a vocabulary of `vocab_size` <= 256: t ≥ vocab ↦ 1 + t mod (vocab − 1).

    The reference's mapping for a sampled vocabulary smaller than the data's
    (tasks/parametric/lm_rnn.py); it keeps token 0 for byte 0 only.
    """
    if vocab_size >= lopt_datasets.VOCAB_SIZE:
        return tokens
    return jnp.where(tokens >= vocab_size, 1 + tokens % (vocab_size - 1), tokens)


# --------------------------------------------------------------------------- haiku tasks


class HaikuTask(Task):
    """A task whose model is one haiku function `forward(batch, is_training)` → scalar loss.

    Subclasses (frozen dataclasses) implement `forward` and `example_batch`
    (a batch of the right shapes, for init). Model state (batch-norm
    statistics) is handled with `hk.transform_with_state`: stateless models
    report None as their state. Random numbers (initialisers, dropout,
    sampling) come from `random_pool`: one draw per call. `loss` on a
    stateful model uses the initial
    state (all zeros for haiku's batch norm) — exact for models whose
    training-mode loss does not read it (batch norm with batch statistics).
    """

    @abc.abstractmethod
    def forward(self, batch: Batch) -> jax.Array:
        """The scalar training loss, inside haiku; random numbers from `random_pool`."""

    @abc.abstractmethod
    def example_batch(self) -> Batch:
        """Arrays shaped like a training batch (values do not matter)."""

    @property
    def _transformed(self) -> hk.TransformedWithState:
        return hk.transform_with_state(self.forward)

    def init_with_state(self, key):
        params, state = random_pool.pooled(self._transformed.init, key, self.example_batch())
        return params, (state or None)

    def init(self, key):
        return self.init_with_state(key)[0]

    def loss_with_state(self, params, model_state, key, batch):
        apply = lambda k, p, s, b: self._transformed.apply(p, s, k, b)  # noqa: E731
        loss, state = random_pool.pooled(apply, key, params, model_state or {}, batch)
        return loss, (state or None)

    def loss(self, params, key, batch):
        shapes = jax.eval_shape(lambda k: self._transformed.init(k, self.example_batch())[1], jax.random.PRNGKey(0))
        # Haiku's initial batch-norm state (moving-average counters and values) is all zeros.
        state = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        return self.loss_with_state(params, state or None, key, batch)[0]
