"""The per-parameter input features of fc_lopt (Metz et al. 2019; "LOLv2").

For every parameter, in this order (19 with the default six momenta):
g, p, m_0 … m_5 (momenta at decays 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999),
normalised to unit second moment over the tensor, then the 11 un-normalised
time features tanh(t/τ − 1). This is the order and arithmetic of the
reference implementation's `MLPLOpt`, so its meta-parameters load into ours.
"""

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from lopt_features import tree_checks
from lopt_features.momentum import MomentumState
from lopt_features.normalize import second_moment_normalize
from lopt_features.time_features import TIMESCALES, tanh_time_features

#: The fixed (not meta-learned) momentum decays of fc_lopt.
FC_LOPT_MOMENTUM_DECAYS = (0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)


def fc_lopt_feature_names(
    num_momentum: int = len(FC_LOPT_MOMENTUM_DECAYS), timescales: tuple[float, ...] = TIMESCALES
) -> tuple[str, ...]:
    """Names of fc_lopt's feature channels, in order."""
    return ("g", "p", *(f"m_{i}" for i in range(num_momentum)), *(f"time_{t:g}" for t in timescales))


#: The 19 feature names of the default fc_lopt.
FC_LOPT_FEATURE_NAMES = fc_lopt_feature_names()


def fc_lopt_features(params: Any, grads: Any, momentum: MomentumState, step: ArrayLike) -> Any:
    """The input features of fc_lopt for every parameter.

    Args:
      params: the parameters before this update.
      grads: this step's gradients.
      momentum: the momentum state *after* folding in `grads`.
      step: updates applied so far (0 on the first update); may be traced.

    Returns:
      A tree like `params` with leaves `(*leaf.shape, 2 + num_momenta + 11)`
      in the parameters' dtype.
    """
    what = "fc_lopt_features"
    tree_checks.check_float(params, what=what, tree_name="parameter")
    tree_checks.check_matches(params, grads, what=what, tree_name="gradient", expected_name="parameters")
    tree_checks.check_matches(
        momentum.m, params, what=what, tree_name="parameter", expected_name="momentum state",
        expected_shape=lambda m: m.shape[:-1],
    )
    time = tanh_time_features(step)

    def one(p, g, m):
        dtype = tree_checks.compute_dtype(jnp.result_type(p))
        channels = jnp.concatenate([g.astype(dtype)[..., None], p.astype(dtype)[..., None], m.astype(dtype)], -1)
        normalized = second_moment_normalize(channels)
        tiled_time = jnp.broadcast_to(time, jnp.shape(p) + time.shape).astype(dtype)
        return jnp.concatenate([normalized, tiled_time], axis=-1).astype(jnp.result_type(p))

    return jax.tree_util.tree_map(one, params, grads, momentum.m)
