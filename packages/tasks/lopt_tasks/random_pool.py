"""One random draw per model call, shared by all of its initialisers and noise.

Why: XLA's compile time for threefry draws grows steeply with the number of
differently-shaped draws in one program. On this 2-core machine, 20 normal
draws of distinct conv-kernel shapes take 11.4 s to compile, one draw of
their total size cut into 20 slices 0.8 s; a sampled ResNet's vmapped init
(≈25 draws) took 25 s. Sampled families compile a new program for every
structure, so this cost matters as much as run time.

`pooled(fn, key, *args)` runs `fn(key, *args)` twice: an abstract pass
(`jax.eval_shape`) counts the standard normals that calls of
`standard_normal(shape)` inside `fn` ask for, then one
`jax.random.normal(fold_in(key, POOL_SALT), (count,))` is drawn and the real
pass hands out consecutive slices of it in call order. The result is a pure
function of `key`, consistent under `vmap` (it is one threefry draw).
Outside `pooled`, `standard_normal` falls back to `hk.next_rng_key()`.
Uniforms and Bernoulli masks are derived from the same normals through
the normal CDF.
"""

import contextlib

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr, ndtri

#: What the call's key is folded with to key its pool.
POOL_SALT = 0x706F6F6C

_ACTIVE: list["_Pool"] = []


class _Pool:
    def __init__(self, normals: jax.Array | None):
        self.normals = normals  # None while counting
        self.used = 0

    def take(self, shape: tuple[int, ...]) -> jax.Array:
        size = int(np.prod(shape))
        if self.normals is None:
            out = jnp.zeros(shape, jnp.float32)
        else:
            out = jnp.reshape(self.normals[self.used : self.used + size], shape)
        self.used += size
        return out


@contextlib.contextmanager
def _active(pool: _Pool):
    _ACTIVE.append(pool)
    try:
        yield pool
    finally:
        _ACTIVE.pop()


def standard_normal(shape) -> jax.Array:
    """float32 N(0, 1) of `shape`: from the active pool, else from `hk.next_rng_key()`."""
    shape = tuple(int(s) for s in shape)
    if _ACTIVE:
        return _ACTIVE[-1].take(shape)
    return jax.random.normal(hk.next_rng_key(), shape, jnp.float32)


def uniform(shape, low=0.0, high=1.0) -> jax.Array:
    """float32 U(low, high) of `shape`, as Φ(z) of pooled standard normals z."""
    return low + (high - low) * ndtr(standard_normal(shape))


def bernoulli(shape, p) -> jax.Array:
    """Booleans that are True with probability `p` (may be traced): z < Φ⁻¹(p)."""
    return standard_normal(shape) < ndtri(jnp.clip(jnp.asarray(p, jnp.float32), 0.0, 1.0))


def pooled(fn, key: jax.Array | None, *args):
    """`fn(key, *args)` with every `standard_normal` inside it served from one draw keyed by `key`."""
    with _active(_Pool(None)) as counter:
        jax.eval_shape(lambda *a: fn(key, *a), *args)
    if counter.used == 0:
        return fn(key, *args)
    if key is None:
        raise ValueError(f"{getattr(fn, '__qualname__', fn)}: needs {counter.used} random numbers, but the key is None.")
    normals = jax.random.normal(jax.random.fold_in(key, POOL_SALT), (counter.used,), jnp.float32)
    with _active(_Pool(normals)) as pool:
        out = fn(key, *args)
    if pool.used != counter.used:
        raise RuntimeError(
            f"{getattr(fn, '__qualname__', fn)}: drew {pool.used} random numbers, but the counting pass drew "
            f"{counter.used}; the function must ask for the same shapes on every call."
        )
    return out
