"""The per-parameter input features of small_fc_lopt (Metz et al. 2022, App. A).

For every parameter the optimizer's MLP sees, in this order (with the
default decays: 3 momenta, 1 second moment, 3 AdaFactor decays; 39 in all):

====  ==========================  =================================================
 #    name                        value
====  ==========================  =================================================
 0    g                           the gradient
 1    p                           the parameter
 2-4  m_i                         momentum at decay i
 5    v_j                         second moment ("rms") at decay j
 6-8  m_rsqrt_v_i                 m_i · (v + 1e-6)^-½
 9    rsqrt_v_j                   (v_j + 1e-6)^-½
10-12 fac_g_k                     AdaFactor-normalised gradient g ⊙ P_k
13-15 fac_row_k                   row average v_row,k tiled over the tensor
16-18 fac_col_k                   column average v_col,k tiled over the tensor
19-21 rsqrt_fac_row_k             (tiled v_row,k + 1e-8)^-½
22-24 rsqrt_fac_col_k             (tiled v_col,k + 1e-8)^-½
25-27 fac_m_k                     AdaFactor-normalised momentum m_k ⊙ P_k
28-38 time_τ                      tanh(t/τ − 1), τ = 1, 3, 10, …, 100k
====  ==========================  =================================================

Channels 0-27 are normalised to unit second moment over the tensor
(`second_moment_normalize`); the 11 time features are not. For vectors and
scalars, which AdaFactor does not factor, the row and column channels both
hold the full second moment v_diag, and fac_m uses (v_diag + 1e-6)^-½. This is
the reference implementation's order and arithmetic (its weights load into
ours), including its epsilons.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from lopt_features import tree_checks
from lopt_features.factored import FactoredState, check_factored_state, leaf_preconditioner, leaf_tiled
from lopt_features.momentum import MomentumState
from lopt_features.normalize import second_moment_normalize
from lopt_features.second_moment import SecondMomentState
from lopt_features.time_features import TIMESCALES, tanh_time_features

#: Epsilon inside (v + ε)^-½ of the second-moment channels.
RMS_EPSILON = 1e-6
#: Epsilon inside (v_row + ε)^-½ and (v_col + ε)^-½.
FACTORED_RSQRT_EPSILON = 1e-8


def _paired(n_a: int, n_b: int, what: str) -> int:
    """Channels of an elementwise product of two decay axes (broadcasting)."""
    if n_a != n_b and 1 not in (n_a, n_b):
        raise ValueError(
            f"small_fc_lopt features: {what} pair decays one to one, so their counts must be "
            f"equal or one of them 1; got {n_a} and {n_b}."
        )
    return max(n_a, n_b)


def small_fc_lopt_feature_names(
    num_momentum: int = 3, num_second_moment: int = 1, num_factored: int = 3,
    timescales: tuple[float, ...] = TIMESCALES,
) -> tuple[str, ...]:
    """Names of the feature channels, in order, for the given numbers of decays."""
    m_v = _paired(num_momentum, num_second_moment, "momenta and second moments")
    m_f = _paired(num_momentum, num_factored, "momenta and AdaFactor accumulators")

    def numbered(prefix, n):
        return [f"{prefix}_{i}" for i in range(n)]

    names = ["g", "p"] + numbered("m", num_momentum) + numbered("v", num_second_moment)
    names += numbered("m_rsqrt_v", m_v) + numbered("rsqrt_v", num_second_moment)
    for prefix in ("fac_g", "fac_row", "fac_col", "rsqrt_fac_row", "rsqrt_fac_col"):
        names += numbered(prefix, num_factored)
    names += numbered("fac_m", m_f)
    names += [f"time_{t:g}" for t in timescales]
    return tuple(names)


#: The 39 feature names of the default small_fc_lopt.
SMALL_FC_LOPT_FEATURE_NAMES = small_fc_lopt_feature_names()


def small_fc_lopt_channel_groups(
    param: Float[Array, "*shape"],
    grad: Float[Array, "*shape"],
    m: Float[Array, "*shape M"],
    v: Float[Array, "*shape R"],
    v_row: Array,
    v_col: Array,
    v_diag: Array,
) -> list[Float[Array, "*shape _"]]:
    """The un-normalised channel groups of one tensor, in compute precision.

    Returns the 12 groups of the table above (g, p, m, v, m_rsqrt_v, rsqrt_v,
    fac_g, fac_row, fac_col, rsqrt_fac_row, rsqrt_fac_col, fac_m), each of
    shape `(*param.shape, k)`. `v_row`, `v_col`, `v_diag` are this leaf's
    factored accumulators (`FactoredState` leaves, after this step's update).
    Concatenated they are the first 28 channels before normalisation; a fused
    optimizer can also consume them group by group.
    """
    shape = jnp.shape(param)
    dtype = tree_checks.compute_dtype(jnp.result_type(param))
    g = grad.astype(dtype)[..., None]
    p = jnp.asarray(param).astype(dtype)[..., None]
    m = m.astype(dtype)
    v = v.astype(dtype)
    rsqrt_v = jax.lax.rsqrt(v + RMS_EPSILON)
    row, col = (x.astype(dtype) for x in leaf_tiled(shape, v_row, v_col, v_diag))
    fac_g = g * leaf_preconditioner(shape, v_row, v_col, v_diag)
    fac_m = m * leaf_preconditioner(shape, v_row, v_col, v_diag, diag_epsilon=RMS_EPSILON)
    return [
        g, p, m, v, m * rsqrt_v, rsqrt_v, fac_g, row, col,
        jax.lax.rsqrt(row + FACTORED_RSQRT_EPSILON), jax.lax.rsqrt(col + FACTORED_RSQRT_EPSILON), fac_m,
    ]


def small_fc_lopt_features(
    params: Any,
    grads: Any,
    momentum: MomentumState,
    second_moment: SecondMomentState,
    factored: FactoredState,
    step: ArrayLike,
) -> Any:
    """The input features of small_fc_lopt for every parameter.

    Args:
      params: the parameters before this update.
      grads: this step's gradients.
      momentum, second_moment, factored: the accumulator states *after*
        folding in `grads` (the reference updates accumulators first).
      step: updates applied so far (0 on the first update); may be traced.

    Returns:
      A tree like `params` with leaves `(*leaf.shape, num_features)` in the
      parameters' dtype; channel order is `small_fc_lopt_feature_names(...)`.
    """
    what = "small_fc_lopt_features"
    tree_checks.check_float(params, what=what, tree_name="parameter")
    tree_checks.check_matches(params, grads, what=what, tree_name="gradient", expected_name="parameters")
    for tree, name in ((momentum.m, "momentum"), (second_moment.v, "second-moment")):
        tree_checks.check_matches(
            tree, params, what=what, tree_name="parameter", expected_name=f"{name} state",
            expected_shape=lambda x: x.shape[:-1],
        )
    check_factored_state(factored, params, what=what)
    leaves = jax.tree_util.tree_leaves
    if leaves(params):
        small_fc_lopt_feature_names(
            leaves(momentum.m)[0].shape[-1], leaves(second_moment.v)[0].shape[-1],
            leaves(factored.v_diag)[0].shape[-1],
        )
    time = tanh_time_features(step)

    def one(p, g, m, v, row, col, diag):
        groups = small_fc_lopt_channel_groups(p, g, m, v, row, col, diag)
        normalized = second_moment_normalize(jnp.concatenate(groups, axis=-1))
        tiled_time = jnp.broadcast_to(time, jnp.shape(p) + time.shape).astype(normalized.dtype)
        return jnp.concatenate([normalized, tiled_time], axis=-1).astype(jnp.result_type(p))

    return jax.tree_util.tree_map(
        one, params, grads, momentum.m, second_moment.v, factored.v_row, factored.v_col, factored.v_diag
    )
