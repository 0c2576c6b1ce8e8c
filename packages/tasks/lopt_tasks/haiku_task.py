"""The base of every task whose model is written in haiku: fixed tasks and sampled families alike.

A subclass writes one haiku function, `forward(batch)` → scalar loss, and
`example_batch()`; this base turns it into the `Task` interface with
`hk.transform_with_state`, so no task re-does the wrapping. Model state
(batch-norm statistics) is the haiku state: stateless models report None.
Random numbers inside the model (initialisers, dropout, sampling) come from
`random_pool`, one draw per call; haiku's own initialisers draw from the
call's key as usual, so a model that asks `random_pool` for nothing is
initialised exactly as `hk.transform(...).init(key, ...)` would.
"""

import abc

import haiku as hk
import jax
import jax.numpy as jnp

from lopt_tasks import random_pool
from lopt_tasks.base import Batch, Task


class HaikuTask(Task):
    """A task whose model is one haiku function `forward(batch)` → scalar loss.

    Subclasses implement `forward` and `example_batch` (a batch of the right
    shapes, for init). `loss` on a stateful model uses the initial state (all
    zeros for haiku's batch norm) — exact for models whose training-mode
    loss does not read it (batch norm with batch statistics).
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
