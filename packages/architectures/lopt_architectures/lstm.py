"""The small dense layers and LSTM cell of per-tensor learned-optimizer networks.

Written as pure functions over explicit parameter dicts, with haiku's
conventions (so meta-parameters trained with haiku load unchanged):
`Linear` params are {"w": (n_in, n_out), "b": (n_out,)}; the LSTM gate layer
is one Linear over [input, previous hidden] producing gates in the order
input, cell, forget, output, with a forget-gate bias of +1:

    i, g, f, o = split(W·[x, h] + b)
    c' = σ(f + 1)·c + σ(i)·tanh(g),   h' = σ(o)·tanh(c')

(`haiku.LSTM`). Rows of the batch are a learned optimizer's tensors.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


class LSTMState(NamedTuple):
    hidden: Float[Array, "rows hidden"]
    cell: Float[Array, "rows hidden"]


def init_linear(key: jax.Array, n_in: int, n_out: int, *, zero: bool = False) -> dict[str, Array]:
    """Linear params initialised like haiku's default (truncated normal, std 1/√n_in), or zeros."""
    if zero:
        w = jnp.zeros((n_in, n_out), jnp.float32)
    else:
        w = jax.random.truncated_normal(key, -2.0, 2.0, (n_in, n_out), jnp.float32) / jnp.sqrt(n_in)
    return {"w": w, "b": jnp.zeros((n_out,), jnp.float32)}


def linear(params: dict[str, Array], x: Float[Array, "*rows n_in"]) -> Float[Array, "*rows n_out"]:
    return x @ params["w"] + params["b"]


def init_lstm(key: jax.Array, n_in: int, hidden: int) -> dict[str, Array]:
    """Gate-layer params of an LSTM with `n_in` inputs and `hidden` units."""
    return init_linear(key, n_in + hidden, 4 * hidden)


def lstm_step(
    params: dict[str, Array], x: Float[Array, "rows n_in"], state: LSTMState
) -> tuple[Float[Array, "rows hidden"], LSTMState]:
    """One LSTM step for every row; returns the output (= new hidden) and the new state."""
    gates = linear(params, jnp.concatenate([x, state.hidden], axis=-1))
    i, g, f, o = jnp.split(gates, 4, axis=-1)
    cell = jax.nn.sigmoid(f + 1) * state.cell + jax.nn.sigmoid(i) * jnp.tanh(g)
    hidden = jax.nn.sigmoid(o) * jnp.tanh(cell)
    return hidden, LSTMState(hidden, cell)


def tile_state(initial: dict[str, Array], rows: int) -> LSTMState:
    """The initial state {"hidden": (1, H), "cell": (1, H)} repeated for `rows` tensors."""
    return LSTMState(jnp.tile(initial["hidden"], (rows, 1)), jnp.tile(initial["cell"], (rows, 1)))
