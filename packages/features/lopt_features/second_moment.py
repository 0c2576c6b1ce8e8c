"""Second-moment ("rms") accumulators: moving averages of the squared gradient."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from lopt_features import tree_checks
from lopt_features.accumulator import Accumulator, ema, zeros_with_decay_axis


class SecondMomentState(NamedTuple):
    """Mean squared gradients; leaf shape `(*param.shape, num_decays)`."""

    v: Any


def second_moment(decays: ArrayLike, *, dtype: Any = None) -> Accumulator:
    """Exponential moving averages of g², v_i ← β_i·v_i + (1 − β_i)·g².

    The decays are clipped to [0, 1] first, so a meta-learned decay can never
    make the average grow without bound. Called "rms" in the learned-optimizer
    literature although no square root is taken.

    Args:
      decays: vector of decay rates β_i.
      dtype: storage dtype; defaults to each parameter's dtype.
    """
    decays = tree_checks.as_decays(decays, what="second_moment")

    def init(params: Any) -> SecondMomentState:
        tree_checks.check_float(params, what="second_moment.init", tree_name="parameter")
        return SecondMomentState(v=zeros_with_decay_axis(params, decays.shape[0], dtype))

    def update(state: SecondMomentState, grads: Any) -> SecondMomentState:
        tree_checks.check_float(grads, what="second_moment.update", tree_name="gradient")
        tree_checks.check_matches(
            state.v, grads, what="second_moment.update", tree_name="gradient",
            expected_name="second-moment state", expected_shape=lambda v: v.shape[:-1],
        )
        tree_checks.check_decay_axis(
            state.v, decays.shape[0], what="second_moment.update", state_name="second-moment state"
        )
        clipped = jnp.clip(decays, 0.0, 1.0)

        def one(v, g):
            g = g.astype(tree_checks.compute_dtype(g.dtype))
            return ema(v, (g * g)[..., None], clipped)

        return SecondMomentState(v=jax.tree_util.tree_map(one, state.v, grads))

    return Accumulator(init, update)
