"""Checks on parameter, gradient and state pytrees, with errors that name the leaf.

These run while a function is traced (shapes and dtypes are static), so they
cost nothing inside `jax.jit`.
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp


def leaf_name(path: Sequence[Any]) -> str:
    """A readable name for a leaf's key path, e.g. `['layer']['w']`."""
    return jax.tree_util.keystr(tuple(path)) or "<root>"


def named_leaves(tree: Any) -> list[tuple[str, Any]]:
    """The leaves of `tree` with their names, in JAX's flattening order."""
    return [(leaf_name(p), x) for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]]


def check_float(tree: Any, *, what: str, tree_name: str) -> None:
    """Raises TypeError unless every leaf of `tree` has a floating dtype."""
    for name, leaf in named_leaves(tree):
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{what}: {tree_name} leaf {name} has dtype {dtype}; "
                "expected a floating dtype (float32, bfloat16, float16, float64)."
            )


def check_matches(
    expected: Any,
    tree: Any,
    *,
    what: str,
    tree_name: str,
    expected_name: str,
    expected_shape: Callable[[Any], tuple[int, ...]] | None = jnp.shape,
) -> None:
    """Raises ValueError unless `tree` has the structure of `expected` and matching shapes.

    Args:
      expected: the reference tree (usually an accumulator state).
      tree: the tree being checked (usually gradients).
      what: the operation, for the message (e.g. "momentum.update").
      tree_name: what `tree` is (e.g. "gradient").
      expected_name: what `expected` is (e.g. "momentum state").
      expected_shape: maps a leaf of `expected` to the shape the matching leaf
        of `tree` must have (e.g. drop the trailing decay axis); None checks
        only the structure.
    """
    expected_leaves, expected_def = jax.tree_util.tree_flatten_with_path(expected)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    if expected_def != treedef:
        want = [leaf_name(p) for p, _ in expected_leaves]
        got = [leaf_name(p) for p, _ in leaves]
        missing = [n for n in want if n not in got]
        extra = [n for n in got if n not in want]
        detail = []
        if missing:
            detail.append("missing leaves " + ", ".join(missing))
        if extra:
            detail.append("unexpected leaves " + ", ".join(extra))
        if not detail:
            detail.append(f"structure {treedef} instead of {expected_def}")
        raise ValueError(
            f"{what}: the {tree_name} tree does not match the {expected_name}: " + "; ".join(detail) + "."
        )
    if expected_shape is None:
        return
    for (path, ref), (_, leaf) in zip(expected_leaves, leaves):
        want_shape = tuple(expected_shape(ref))
        if tuple(jnp.shape(leaf)) != want_shape:
            raise ValueError(
                f"{what}: {tree_name} leaf {leaf_name(path)} has shape {tuple(jnp.shape(leaf))}; "
                f"expected {want_shape} to match the {expected_name}."
            )


def as_decays(decays: Any, *, what: str) -> jax.Array:
    """Decay rates as a float32 vector; they may be traced (meta-learned)."""
    decays = jnp.asarray(decays, dtype=jnp.float32)
    if decays.ndim != 1 or decays.shape[0] == 0:
        raise ValueError(f"{what}: decays must be a non-empty vector, got shape {decays.shape}.")
    return decays


def compute_dtype(dtype: Any) -> jnp.dtype:
    """The dtype arithmetic is done in: at least float32, so bfloat16 rounds only once."""
    return jnp.promote_types(dtype, jnp.float32)


def check_decay_axis(state: Any, num_decays: int, *, what: str, state_name: str) -> None:
    """Raises ValueError unless every leaf of `state` has `num_decays` entries on its last axis."""
    for name, leaf in named_leaves(state):
        if jnp.ndim(leaf) == 0 or jnp.shape(leaf)[-1] != num_decays:
            raise ValueError(
                f"{what}: {state_name} leaf {name} has shape {jnp.shape(leaf)}, but the accumulator "
                f"has {num_decays} decays; the state was made by an accumulator with other decays."
            )
