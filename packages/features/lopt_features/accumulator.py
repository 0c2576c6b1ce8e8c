"""The `Accumulator` pair and the exponential moving average it is built on."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from lopt_features.tree_checks import compute_dtype


class Accumulator(NamedTuple):
    """A pair of pure functions, like an optax `GradientTransformation`.

    `init(params) -> state` builds zeroed statistics shaped like `params`;
    `update(state, grads) -> state` folds in one step's gradients. States are
    pytrees (NamedTuples of trees), so they jit, vmap and checkpoint as is.
    """

    init: Callable[[Any], Any]
    update: Callable[[Any, Any], Any]


def ema(
    accumulator: Float[Array, "*shape n"],
    value: Float[Array, "*shape n"] | Float[Array, "*shape 1"],
    decays: Float[Array, " n"],
) -> Float[Array, "*shape n"]:
    """One step of `n` exponential moving averages at once: a ← d·a + (1 − d)·x.

    No bias correction (the learned optimizers of both papers use none). The
    arithmetic is done in at least float32 and the result is stored in the
    accumulator's dtype, so a bfloat16 state is rounded once per step instead
    of after every operation (a bfloat16 decay of 0.999 would round to 1).
    """
    dtype = compute_dtype(accumulator.dtype)
    d = decays.astype(dtype)
    new = d * accumulator.astype(dtype) + (1 - d) * value.astype(dtype)
    return new.astype(accumulator.dtype)


def zeros_with_decay_axis(params: Any, num_decays: int, dtype: Any = None) -> Any:
    """Zeros shaped `(*leaf.shape, num_decays)` for every leaf of `params`."""

    def zeros(leaf):
        return jnp.zeros(jnp.shape(leaf) + (num_decays,), dtype or jnp.result_type(leaf))

    return jax.tree_util.tree_map(zeros, params)
