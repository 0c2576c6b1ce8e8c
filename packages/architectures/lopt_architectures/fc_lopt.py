"""fc_lopt: the per-parameter MLP learned optimizer of Metz et al. 2019 ("LOLv2").

Features per parameter (`lopt_features.fc_lopt_features`): g, p and momenta
at 6 fixed decays, normalised over the tensor, plus 11 time features — 19
inputs to an MLP 19 → 32 → 32 → 2 (ReLU). The step is
Δφ = 0.001 · d · exp(0.001 · m) as in small_fc_lopt. θ has 1762 entries:

    {"mlp": {"w0": (19, 32), "b0": (32,), "w1": (32, 32), "b1": (32,), "w2": (32, 2), "b2": (2,)}}

Given the same θ it computes the same function as the reference
implementation's `MLPLOpt` (its default configuration); the tradeoffs paper
uses it as a baseline learned optimizer.
"""

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import lopt_features as lf

from lopt_architectures.base import (
    LearnedOptimizer,
    Optimizer,
    check_sizes,
    get_params,
    require_num_steps,
    skip_non_finite,
)
from lopt_architectures.mlp import apply_mlp, init_mlp


class FcLOptState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    momentum: lf.MomentumState
    skipped_steps: jax.Array | None = None  # steps skipped for non-finite input; set by skip_non_finite


@dataclasses.dataclass(frozen=True)
class FcLOpt(LearnedOptimizer):
    """Configuration of fc_lopt; the defaults are the reference's."""

    hidden_size: int = 32
    hidden_layers: int = 2
    momentum_decays: tuple[float, ...] = lf.FC_LOPT_MOMENTUM_DECAYS
    step_mult: float = 0.001
    exp_mult: float = 0.001

    name: ClassVar[str] = "fc_lopt"

    def __post_init__(self):
        check_sizes(self, {"hidden_size": 1, "hidden_layers": 0})

    @property
    def feature_names(self) -> tuple[str, ...]:
        return lf.fc_lopt_feature_names(len(self.momentum_decays))

    def init_meta_params(self, key: jax.Array) -> dict:
        sizes = (len(self.feature_names),) + (self.hidden_size,) * self.hidden_layers + (2,)
        return {"mlp": init_mlp(key, sizes)}

    def optimizer(self, theta: dict) -> Optimizer:
        config = self
        expected_w0 = (len(self.feature_names), self.hidden_size if self.hidden_layers else 2)
        if tuple(jnp.shape(theta["mlp"]["w0"])) != expected_w0:
            raise ValueError(
                f"fc_lopt: meta-parameter ['mlp']['w0'] has shape {jnp.shape(theta['mlp']['w0'])}; "
                f"this configuration expects {expected_w0}."
            )
        accumulator = lf.momentum(config.momentum_decays)

        def init(params, *, num_steps=None, key=None, model_state=None):
            return FcLOptState(
                params=params, model_state=model_state, step=jnp.asarray(0, jnp.int32),
                num_steps=require_num_steps(num_steps, config.name), momentum=accumulator.init(params),
            )

        def update(state, grads, *, loss=None, key=None, model_state=None):
            lf.check_matches(state.params, grads, what=f"{config.name}.update", tree_name="gradient",
                             expected_name="parameters")
            momentum = accumulator.update(state.momentum, grads)
            features = lf.fc_lopt_features(state.params, grads, momentum, state.step)

            def one(p, x):
                out = apply_mlp(theta["mlp"], x.astype(jnp.float32))
                step = out[..., 0] * jnp.exp(out[..., 1] * config.exp_mult) * config.step_mult
                return (p.astype(step.dtype) - step).astype(p.dtype)

            return FcLOptState(
                params=jax.tree_util.tree_map(one, state.params, features), model_state=model_state,
                step=state.step + 1, num_steps=state.num_steps, momentum=momentum,
            )

        return skip_non_finite(Optimizer(init, update, get_params), config.name)


def fc_lopt(**config) -> FcLOpt:
    """fc_lopt with the reference's configuration, or overrides (see `FcLOpt`)."""
    return FcLOpt(**config)
