"""Drawing a task's static choices from a key.

A family's `sample_structure(key)` runs in Python and makes many small
discrete choices (widths, depth, dataset, activation). Doing each with
`jax.random` costs a device dispatch per draw; instead `numpy_rng(key)` turns
the key into a seeded numpy generator once, so a structure is a pure function
of the key and cheap to draw (rejection sampling draws hundreds).

`log_int` and `log_uniform` are the reference's log-uniform draws
(tasks/parametric/parametric_utils.py `log_int`, `log_float`): a value
exp(U(log low, log high)), truncated to an int for `log_int`, so `high`
itself is (almost surely) never drawn.
"""

from collections.abc import Sequence
from typing import TypeVar

import jax
import numpy as np

T = TypeVar("T")


def key_data(key: jax.Array) -> jax.Array:
    """The raw uint32 data of `key`, for both new-style typed keys and legacy uint32[2] keys.

    Task configs store keys this way so that they stack, vmap and print like
    any other array.
    """
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


def numpy_rng(key: jax.Array) -> np.random.Generator:
    """A numpy generator seeded by the bits of `key` (not under jit: `key` must be concrete)."""
    return np.random.default_rng(np.asarray(key_data(key), dtype=np.uint32).ravel())


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """exp(U(log low, log high))."""
    if not 0 < low <= high:
        raise ValueError(f"log_uniform: need 0 < low <= high, got low={low}, high={high}.")
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def log_int(rng: np.random.Generator, low: int, high: int) -> int:
    """int(exp(U(log low, log high))): an integer in [low, high), log-uniformly (low if low == high)."""
    return max(int(low), int(log_uniform(rng, low, high)))


def choice(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One of `options`, uniformly (repeated options are proportionally more likely)."""
    if len(options) == 0:
        raise ValueError("choice: no options to choose from.")
    return options[int(rng.integers(len(options)))]
