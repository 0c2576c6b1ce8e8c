"""Per-tensor summary features for hierarchical learned optimizers.

A per-tensor network (the LSTMs of nn_adam and rnn_fc_lopt, Metz et al.
2022, §2 and App. C.1) sees each tensor through a few statistics of its
momentum, second moment, parameters and gradient. Magnitudes go through
`clipped_log_abs` so that values from 1e-8 to 1e8 become a bounded range.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from lopt_features import tree_checks

#: Column order of `tensor_summary_features` (alphabetical, as the reference
#: stacks its per-tensor feature dictionary).
TENSOR_FEATURE_NAMES = (
    "mean_g_mag",
    "mean_g_sign",
    "mean_gabs_mag",
    "mean_m_mag",
    "mean_m_sign",
    "mean_p_mag",
    "mean_p_sign",
    "mean_rms_mag",
    "mean_rms_sign",
    "var_g",
    "var_m",
    "var_p",
    "var_rms",
)


def clipped_log_abs(
    x: Float[Array, "*shape"], *, scale: float = 0.5, bound: float = 5.0, epsilon: float = 1e-8
) -> Float[Array, "*shape"]:
    """scale · clip(log(|x| + ε), −bound, bound): a magnitude on a bounded log scale.

    The App. C.1 transform ("log of the absolute value, clipping between −5
    and 5, and rescaling by 0.5"). rnn_fc_lopt uses it without the 0.5
    (`scale=1`).
    """
    return scale * jnp.clip(jnp.log(epsilon + jnp.abs(x)), -bound, bound)


def _mean_and_variance(x: Array) -> tuple[Array, Array]:
    x = x.astype(tree_checks.compute_dtype(x.dtype))
    mean = jnp.mean(x)
    return mean, jnp.mean(jnp.square(x - mean))


def tensor_summary(
    param: Float[Array, "*shape"],
    grad: Float[Array, "*shape"],
    momentum: Float[Array, "..."],
    second_moment: Float[Array, "..."],
    *,
    log_scale: float = 0.5,
) -> Float[Array, " 13"]:
    """The App. C.1 statistics of one tensor, in `TENSOR_FEATURE_NAMES` order.

    Means and variances are over every element (and over every decay when an
    accumulator has a decay axis); `*_mag` and `var_*` are `clipped_log_abs`
    of the mean and of the variance, `*_sign` the sign of the mean, and
    `mean_gabs_mag` the transformed mean of |g|.
    """
    features = {}
    for key, x in (("g", grad), ("m", momentum), ("p", param), ("rms", second_moment)):
        mean, var = _mean_and_variance(x)
        features[f"mean_{key}_mag"] = clipped_log_abs(mean, scale=log_scale)
        features[f"mean_{key}_sign"] = jnp.sign(mean)
        features[f"var_{key}"] = clipped_log_abs(var, scale=log_scale)
    g = grad.astype(tree_checks.compute_dtype(grad.dtype))
    features["mean_gabs_mag"] = clipped_log_abs(jnp.mean(jnp.abs(g)), scale=log_scale)
    return jnp.stack([features[name] for name in TENSOR_FEATURE_NAMES]).astype(param.dtype)


def tensor_summary_features(
    params: Any, grads: Any, momentum: Any, second_moment: Any, *, log_scale: float = 0.5
) -> Any:
    """`tensor_summary` of every tensor: a tree like `params` of 13-vectors.

    `momentum` and `second_moment` are trees of accumulators matching
    `params` (e.g. `MomentumState.m`, `SecondMomentState.v`), with or without
    a trailing decay axis. Stack the leaves (`jnp.stack(jax.tree.leaves(...))`)
    to get the rows of a per-tensor network's batch.
    """
    what = "tensor_summary_features"
    tree_checks.check_float(params, what=what, tree_name="parameter")
    tree_checks.check_matches(params, grads, what=what, tree_name="gradient", expected_name="parameters")
    for tree, name in ((momentum, "momentum"), (second_moment, "second-moment")):
        tree_checks.check_matches(
            params, tree, what=what, tree_name=name, expected_name="parameters", expected_shape=None
        )
    return jax.tree_util.tree_map(
        lambda p, g, m, v: tensor_summary(p, g, m, v, log_scale=log_scale),
        params, grads, momentum, second_moment,
    )
