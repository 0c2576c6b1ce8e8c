"""The inputs of the Celo family (Moudgil et al., TMLR 2025; Celo2, ICLR 2026).

Celo's learned scheduler sees only task-agnostic inputs, 18 numbers shared by
every tensor (in this order; the released code stacks a dictionary sorted by
name):

- fraction_left (9): `fraction_trained_features(t / T)`;
- loss_features (9): `loss_buffer_features` of the loss history.

Celo's per-parameter update rule reads VeLO's 30 channels
(`velo_channel_groups`). Celo2's rule reads the same channels with two
differences: 1/√(v + 1e-8) instead of 1/√(v + 1e-6), and for vectors and
scalars only the first 9 groups (15 channels) — no AdaFactor row/column
stand-ins. Celo2 also normalises each channel over the *last two* axes of the
tensor (per matrix of a stacked or convolutional kernel) rather than over all
of it: `normalize_last_two_axes`.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from lopt_features.velo import velo_channel_groups

#: The scheduler's inputs, in order, with their widths.
CELO_SCHEDULER_FEATURES = (("fraction_left", 9), ("loss_features", 9))

#: Celo2's per-parameter channel groups with their widths for 3 momenta, 1
#: second moment and 3 AdaFactor decays; tensors of rank < 2 use the first 9.
CELO2_CHANNEL_GROUPS = (
    ("g", 1), ("clipped_g", 1), ("p", 1), ("m", 3), ("rms", 1), ("m_rsqrt_rms", 3), ("rsqrt_rms", 1),
    ("fac_g", 3), ("g_rsqrt_rms", 1), ("fac_row", 3), ("fac_col", 3), ("rsqrt_fac_row", 3),
    ("rsqrt_fac_col", 3), ("fac_m", 3),
)

#: How many of `CELO2_CHANNEL_GROUPS` a vector or scalar has.
CELO2_UNFACTORED_GROUPS = 9


def celo_scheduler_features(
    fraction_features: Float[Array, " 9"], loss_features: Float[Array, " 9"]
) -> Float[Array, " 18"]:
    """The scheduler's 18 inputs: where training is (t/T) and whether the loss still falls."""
    return jnp.concatenate([fraction_features.astype(jnp.float32), loss_features.astype(jnp.float32)])


def celo2_channel_groups(
    param: Float[Array, "*shape"],
    grad: Float[Array, "*shape"],
    m: Float[Array, "*shape M"],
    v: Float[Array, "*shape R"],
    v_row: Array,
    v_col: Array,
    v_diag: Array,
) -> list[Float[Array, "*shape _"]]:
    """Celo2's un-normalised channel groups of one tensor (14 if rank ≥ 2, else 9), in compute precision.

    VeLO's groups (`velo_channel_groups`) with 1/√(v + 1e-8) and no
    stand-ins for the AdaFactor groups on vectors and scalars. `m`, `v` and
    the factored statistics are this step's updated accumulators; `grad` is
    the (clipped) gradient.
    """
    return velo_channel_groups(param, grad, m, v, v_row, v_col, v_diag, rsqrt_epsilon=1e-8, vector_stand_ins=False)


def normalize_last_two_axes(x: Array, *, param_ndim: int, epsilon: float = 1e-9) -> Array:
    """x / √(ε + mean x²), the mean over the last two (of `param_ndim`) parameter axes.

    `x` has the parameter's shape, possibly followed by one channel axis
    (`x.ndim == param_ndim + 1`). A vector is normalised over its one axis, a
    matrix over both, a stack of matrices (a conv kernel) per matrix; Celo2
    treats a scalar as a vector of one, so reshape it to (1,) first.
    """
    if param_ndim < 1:
        raise ValueError(
            f"normalize_last_two_axes: param_ndim must be >= 1 (reshape scalars to (1,)), got {param_ndim}.")
    axes = tuple(range(param_ndim))[-2:]
    mean_square = jnp.mean(jnp.square(x), axis=axes, keepdims=True)
    return x * jax.lax.rsqrt(epsilon + mean_square)
