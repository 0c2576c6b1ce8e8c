"""AdaFactor factored second moments (Shazeer & Stern, 2018) at several decays.

For a tensor of rank ≥ 2 the second moment is kept as two smaller averages
over its two largest dimensions: a "row" average (the largest dimension d0
averaged out) and a "column" average (the second largest d1 averaged out).
Their outer product, divided by the mean row value, approximates the full
second moment: v ≈ v_row ⊗ v_col / mean(v_row). Vectors and scalars keep the
full ("diagonal") second moment instead. This is the accumulator behind the
AdaFactor features of small_fc_lopt (Metz et al. 2022, App. A) and VeLO.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from lopt_features import tree_checks
from lopt_features.accumulator import Accumulator, ema

#: Added to g² before averaging, as AdaFactor does, so no average is exactly 0.
GRAD_SQUARED_EPSILON = 1e-30
#: Floor below which `safe_rsqrt` does not divide.
RSQRT_FLOOR = 1e-9


class FactoredState(NamedTuple):
    """Factored second moments. Every tree has the parameters' structure.

    For a rank ≥ 2 leaf of shape s with `factored_dims(s) == (d1, d0)`:
    `v_row` has shape `(*delete(s, d0), n)`, `v_col` has `(*delete(s, d1), n)`
    and `v_diag` is empty, `(0, n)`. For a vector or scalar leaf, `v_diag` has
    shape `(*s, n)` and `v_row`, `v_col` are empty. `n` is the number of decays.
    """

    v_row: Any
    v_col: Any
    v_diag: Any


def factored_dims(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """The dimensions (d1, d0) to factor: the second-largest and the largest.

    None for tensors of rank < 2. Ties are broken by position, the later
    dimension counting as larger (a stable sort of the sizes), so a square
    matrix has (d1, d0) = (0, 1), as in the reference implementation.
    """
    if len(shape) < 2:
        return None
    order = np.argsort(np.asarray(shape), kind="stable")
    return int(order[-2]), int(order[-1])


def safe_rsqrt(x: Array) -> Array:
    """1/√max(x, 1e-9): never infinite, even for a zero second moment."""
    return jax.lax.rsqrt(jnp.maximum(x, RSQRT_FLOOR))


def factored_second_moment(
    decays: ArrayLike, *, epsilon: float = GRAD_SQUARED_EPSILON, dtype: Any = None
) -> Accumulator:
    """AdaFactor's factored moving averages of g² + ε, one per decay.

    v_row ← β·v_row + (1 − β)·mean_{d0}(g² + ε) and v_col likewise over d1,
    for tensors of rank ≥ 2; v_diag ← β·v_diag + (1 − β)·(g² + ε) otherwise.
    Decays are clipped to [0, 1] and may be traced arrays.

    Args:
      decays: vector of decay rates β_i.
      epsilon: added to g² (AdaFactor's ε₁).
      dtype: storage dtype; defaults to each parameter's dtype.
    """
    decays = tree_checks.as_decays(decays, what="factored_second_moment")
    n = decays.shape[0]

    def init(params: Any) -> FactoredState:
        tree_checks.check_float(params, what="factored_second_moment.init", tree_name="parameter")

        def one(name, p):
            dt = dtype or jnp.result_type(p)
            return tuple(jnp.zeros(s, dt) for s in _expected_shapes(jnp.shape(p), n))

        return FactoredState(*_per_leaf(one, 3, params))

    def update(state: FactoredState, grads: Any) -> FactoredState:
        what = "factored_second_moment.update"
        tree_checks.check_float(grads, what=what, tree_name="gradient")
        check_factored_state(state, grads, what=what, tree_name="gradient")
        tree_checks.check_decay_axis(state, n, what=what, state_name="factored state")
        clipped = jnp.clip(decays, 0.0, 1.0)

        def one(name, g, row, col, diag):
            g = g.astype(tree_checks.compute_dtype(g.dtype))
            s = (g * g + epsilon)[..., None]
            dims = factored_dims(g.shape)
            if dims is None:
                return row, col, ema(diag, s, clipped)
            d1, d0 = dims
            return ema(row, jnp.mean(s, axis=d0), clipped), ema(col, jnp.mean(s, axis=d1), clipped), diag

        return FactoredState(*_per_leaf(one, 3, grads, state.v_row, state.v_col, state.v_diag))

    return Accumulator(init, update)


def _expected_shapes(shape: tuple[int, ...], n: int) -> tuple[tuple[int, ...], ...]:
    """Shapes of (v_row, v_col, v_diag) for a parameter of shape `shape`."""
    dims = factored_dims(shape)
    if dims is None:
        return (0, n), (0, n), tuple(shape) + (n,)
    d1, d0 = dims
    return tuple(np.delete(shape, d0)) + (n,), tuple(np.delete(shape, d1)) + (n,), (0, n)


def _check_leaf(name: str, shape, row, col, diag, n: int, what: str, tree_name: str) -> None:
    got = (jnp.shape(row), jnp.shape(col), jnp.shape(diag))
    if got != _expected_shapes(tuple(shape), n):
        raise ValueError(
            f"{what}: {tree_name} leaf {name} has shape {tuple(shape)}, but the factored state "
            f"was initialised for another shape (v_row {got[0]}, v_col {got[1]}, v_diag {got[2]})."
        )


def _per_leaf(fn, num_outputs: int, like: Any, *trees: Any) -> tuple[Any, ...]:
    """Calls `fn(name, leaf, *matching leaves of trees)` per leaf of `like`.

    `fn` returns a tuple of `num_outputs` arrays; the result is the tuple of
    trees (shaped like `like`) made from its components.
    """
    treedef = jax.tree_util.tree_structure(like)
    names = [name for name, _ in tree_checks.named_leaves(like)]
    columns = [treedef.flatten_up_to(t) for t in (like, *trees)]
    outs = [fn(name, *args) for name, *args in zip(names, *columns)]
    return tuple(treedef.unflatten([o[i] for o in outs]) for i in range(num_outputs))


def leaf_preconditioner(
    shape: tuple[int, ...], v_row: Array, v_col: Array, v_diag: Array, *, diag_epsilon: float = 1e-9
) -> Array:
    """`factored_preconditioner` for one leaf of shape `shape`, in compute precision."""
    dims = factored_dims(tuple(shape))
    if dims is None:
        diag = v_diag.astype(tree_checks.compute_dtype(v_diag.dtype))
        return safe_rsqrt(diag + diag_epsilon)
    d1, d0 = dims
    row = v_row.astype(tree_checks.compute_dtype(v_row.dtype))
    col = v_col.astype(tree_checks.compute_dtype(v_col.dtype))
    # v_row lost axis d0, so d1 moved one place left if it came after d0.
    reduced_d1 = d1 - 1 if d1 > d0 else d1
    row_mean = jnp.mean(row, axis=reduced_d1, keepdims=True)
    row_factor = safe_rsqrt(row / (row_mean + RSQRT_FLOOR))
    col_factor = safe_rsqrt(col)
    return jnp.expand_dims(row_factor, d0) * jnp.expand_dims(col_factor, d1)


def leaf_tiled(shape: tuple[int, ...], v_row: Array, v_col: Array, v_diag: Array) -> tuple[Array, Array]:
    """`factored_tiled` for one leaf of shape `shape`."""
    dims = factored_dims(tuple(shape))
    if dims is None:
        return v_diag, v_diag
    d1, d0 = dims
    full = tuple(shape) + (v_row.shape[-1],)
    return (
        jnp.broadcast_to(jnp.expand_dims(v_row, d0), full),
        jnp.broadcast_to(jnp.expand_dims(v_col, d1), full),
    )


def factored_preconditioner(
    state: FactoredState, params: Any, *, diag_epsilon: float = 1e-9
) -> Any:
    """Per-element inverse square root of the factored second-moment estimate.

    For a factored leaf: P = rsqrt(v_row / mean(v_row)) ⊗ rsqrt(v_col), each
    factor through `safe_rsqrt` (1e-9 added to the mean row value). For a
    vector or scalar leaf: P = safe_rsqrt(v_diag + diag_epsilon). Multiplying
    a gradient or a momentum by P gives AdaFactor's normalised update
    direction for that decay.

    Args:
      state: the factored accumulators (after this step's update).
      params: a tree with the parameters' shapes (parameters or gradients).
      diag_epsilon: added to v_diag for non-factored leaves.

    Returns:
      A tree like `params` of arrays `(*leaf.shape, n)` in the state's dtype.
    """

    def one(name, p, row, col, diag):
        shape = jnp.shape(p)
        return (leaf_preconditioner(shape, row, col, diag, diag_epsilon=diag_epsilon).astype(diag.dtype),)

    check_factored_state(state, params, what="factored_preconditioner")
    return _per_leaf(one, 1, params, state.v_row, state.v_col, state.v_diag)[0]


def factored_normalized_gradient(state: FactoredState, grads: Any) -> Any:
    """AdaFactor's normalised gradient per decay, g ⊙ P: leaves `(*g.shape, n)`.

    Computed in at least float32 and stored in the state's dtype.
    """

    def one(name, g, row, col, diag):
        shape = jnp.shape(g)
        preconditioner = leaf_preconditioner(shape, row, col, diag)
        g = g.astype(preconditioner.dtype)[..., None]
        return ((g * preconditioner).astype(diag.dtype),)

    check_factored_state(state, grads, what="factored_normalized_gradient", tree_name="gradient")
    return _per_leaf(one, 1, grads, state.v_row, state.v_col, state.v_diag)[0]


def factored_tiled(state: FactoredState, params: Any) -> tuple[Any, Any]:
    """The row and column averages broadcast back to the parameters' shapes.

    Returns (rows, cols), trees like `params` with leaves `(*leaf.shape, n)`:
    v_row repeated along d0 and v_col along d1. A vector or scalar has no
    factors, so both are its v_diag (this is what small_fc_lopt feeds its MLP).
    """

    def one(name, p, row, col, diag):
        shape = jnp.shape(p)
        return leaf_tiled(shape, row, col, diag)

    check_factored_state(state, params, what="factored_tiled")
    rows, cols = _per_leaf(one, 2, params, state.v_row, state.v_col, state.v_diag)
    return rows, cols


def check_factored_state(state: FactoredState, like: Any, *, what: str, tree_name: str = "parameter") -> None:
    """Raises ValueError unless `state` was initialised for parameters shaped like `like`."""
    tree_checks.check_matches(
        state.v_diag, like, what=what, tree_name=tree_name, expected_name="factored state",
        expected_shape=None,
    )
    treedef = jax.tree_util.tree_structure(like)
    rows, cols, diags = (treedef.flatten_up_to(t) for t in state)
    for (name, leaf), row, col, diag in zip(tree_checks.named_leaves(like), rows, cols, diags):
        _check_leaf(name, jnp.shape(leaf), row, col, diag, diag.shape[-1], what, tree_name)
