"""The input features of VeLO (Metz et al. 2022b, §3.1 and the released optimizer).

Per tensor, 30 inputs to the LSTM (in this order; the reference stacks a
dictionary sorted by name):

- fraction_left (9): `fraction_trained_features(t / T)`;
- loss_features (9): `loss_buffer_features` of the loss history;
- mean_rms (1), rank (5), var_m (3), var_rms (3): with the tensor's
  parameters, momenta m and second moment v all divided by the parameters'
  RMS (s = 1/√max(1e-9, mean φ²)), L(x) = 0.5·clip(log(1e-8 + |10x|), −5, 5):
  L(mean ṽ), a one-hot of the number of dimensions larger than 1 (0…4), L of
  the per-decay variance of m̃, and L(mean((ṽ − mean m̃)²)) — the reference
  centres ṽ on the momentum's mean; we keep that, since the released weights
  were trained with it.

Per parameter, 30 channels in 14 groups (each normalised to unit second
moment over the tensor), from the accumulators *after* this step's update:
g, clip(g, ±0.1), φ, m (3), v (1), m/√(v + 1e-6) (3), 1/√(v + 1e-6) (1),
AdaFactor-normalised g (3), g/√(v + 1e-6) (1), then for factored tensors
the tiled row and column averages (3 + 3), their 1/√(· + 1e-8) (3 + 3) and
AdaFactor-normalised m (3); for vectors and scalars v_diag twice, 1/√(v_diag
+ 1e-8) twice and m·v_diag^-½ (no epsilon, as the reference).
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from lopt_features import tree_checks
from lopt_features.factored import leaf_preconditioner, leaf_tiled
from lopt_features.per_tensor import clipped_log_abs

#: The per-parameter channel groups, in order, with their widths for 3 momenta,
#: 1 second moment and 3 AdaFactor decays.
VELO_CHANNEL_GROUPS = (
    ("g", 1), ("clipped_g", 1), ("p", 1), ("m", 3), ("rms", 1), ("m_rsqrt_rms", 3), ("rsqrt_rms", 1),
    ("fac_g", 3), ("g_rsqrt_rms", 1), ("fac_row", 3), ("fac_col", 3), ("rsqrt_fac_row", 3),
    ("rsqrt_fac_col", 3), ("fac_m", 3),
)

#: The per-tensor features, in order, with their widths.
VELO_TENSOR_FEATURES = (
    ("fraction_left", 9), ("loss_features", 9), ("mean_rms", 1), ("rank", 5), ("var_m", 3), ("var_rms", 3),
)


def _log_magnitude(x: Array) -> Array:
    return clipped_log_abs(x * 10.0, scale=0.5)


def velo_tensor_features(
    param: Float[Array, "*shape"],
    m: Float[Array, "*shape M"],
    v: Float[Array, "*shape R"],
    fraction_features: Float[Array, " 9"],
    loss_features: Float[Array, " 9"],
) -> Float[Array, " 30"]:
    """The 30 LSTM inputs of one tensor (m and v: the accumulators *before* this step)."""
    dtype = tree_checks.compute_dtype(param.dtype)
    p, m, v = param.astype(dtype), m.astype(dtype), v.astype(dtype)
    scale = jax.lax.rsqrt(jnp.maximum(1e-9, jnp.mean(p**2)))
    m, v = m * scale, v * scale
    axes = tuple(range(p.ndim))
    mean_m = jnp.mean(m, axis=axes, keepdims=True)
    var_m = jnp.mean(jnp.square(m - mean_m), axis=axes)
    mean_v = jnp.mean(v, axis=axes, keepdims=True)
    var_v = jnp.mean(jnp.square(v - mean_m), axis=axes)
    rank = sum(int(d > 1) for d in p.shape)
    return jnp.concatenate([
        fraction_features.astype(dtype), loss_features.astype(dtype),
        _log_magnitude(jnp.reshape(mean_v, (mean_v.shape[-1],))),
        jax.nn.one_hot(rank, 5, dtype=dtype), _log_magnitude(var_m), _log_magnitude(var_v),
    ])


def velo_channel_groups(
    param: Float[Array, "*shape"],
    grad: Float[Array, "*shape"],
    m: Float[Array, "*shape M"],
    v: Float[Array, "*shape R"],
    v_row: Array,
    v_col: Array,
    v_diag: Array,
    *,
    rsqrt_epsilon: float = 1e-6,
    vector_stand_ins: bool = True,
) -> list[Float[Array, "*shape _"]]:
    """The 14 un-normalised per-parameter channel groups of one tensor, in compute precision.

    `m`, `v` and the factored statistics are this step's updated
    accumulators; `grad` is the (clipped) gradient. `rsqrt_epsilon` is the ε
    of 1/√(v + ε); without `vector_stand_ins` a vector or scalar gets only
    the first 9 groups, none standing in for the AdaFactor ones (Celo2).
    """
    shape = jnp.shape(param)
    dtype = tree_checks.compute_dtype(jnp.result_type(param))
    g = grad.astype(dtype)[..., None]
    p = jnp.asarray(param).astype(dtype)[..., None]
    m, v = m.astype(dtype), v.astype(dtype)
    rsqrt_v = jax.lax.rsqrt(v + rsqrt_epsilon)
    fac_g = g * leaf_preconditioner(shape, v_row, v_col, v_diag)
    groups = [g, jnp.clip(g, -0.1, 0.1), p, m, v, m * rsqrt_v, rsqrt_v, fac_g, g * rsqrt_v]
    if len(shape) < 2 and not vector_stand_ins:
        return groups
    row, col = (x.astype(dtype) for x in leaf_tiled(shape, v_row, v_col, v_diag))
    if len(shape) >= 2:
        fac_m = m * leaf_preconditioner(shape, v_row, v_col, v_diag)
    else:
        fac_m = m * v_diag.astype(dtype) ** -0.5
    return groups + [row, col, jax.lax.rsqrt(row + 1e-8), jax.lax.rsqrt(col + 1e-8), fac_m]
