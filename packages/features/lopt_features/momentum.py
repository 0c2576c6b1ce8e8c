"""Momentum (first-moment) accumulators at several decays in one stacked state."""

from typing import Any, NamedTuple

import jax
from jaxtyping import ArrayLike

from lopt_features import tree_checks
from lopt_features.accumulator import Accumulator, ema, zeros_with_decay_axis


class MomentumState(NamedTuple):
    """Momenta; each leaf has the parameter's shape plus a trailing decay axis."""

    m: Any


def momentum(decays: ArrayLike, *, dtype: Any = None) -> Accumulator:
    """Exponential moving averages of the gradient, m_i ← β_i·m_i + (1 − β_i)·g.

    All decays share one state: leaf shape `(*param.shape, len(decays))`, decay
    axis last, as the learned optimizers of Metz et al. (2022, App. A) consume
    them. Decays are not clipped and may be traced arrays (small_fc_lopt learns
    them).

    Args:
      decays: vector of decay rates β_i.
      dtype: storage dtype of the momenta; defaults to each parameter's dtype.
    """
    decays = tree_checks.as_decays(decays, what="momentum")

    def init(params: Any) -> MomentumState:
        tree_checks.check_float(params, what="momentum.init", tree_name="parameter")
        return MomentumState(m=zeros_with_decay_axis(params, decays.shape[0], dtype))

    def update(state: MomentumState, grads: Any) -> MomentumState:
        tree_checks.check_float(grads, what="momentum.update", tree_name="gradient")
        tree_checks.check_matches(
            state.m, grads, what="momentum.update", tree_name="gradient",
            expected_name="momentum state", expected_shape=lambda m: m.shape[:-1],
        )
        tree_checks.check_decay_axis(state.m, decays.shape[0], what="momentum.update", state_name="momentum state")
        m = jax.tree_util.tree_map(lambda m, g: ema(m, g[..., None], decays), state.m, grads)
        return MomentumState(m=m)

    return Accumulator(init, update)
