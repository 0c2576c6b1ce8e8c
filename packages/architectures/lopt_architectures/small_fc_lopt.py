"""small_fc_lopt: the tiny per-parameter MLP optimizer of Metz et al. 2022 (App. A).

Each parameter's 39 features (`lopt_features.small_fc_lopt_features`: the
gradient, the parameter, 3 momenta, a second moment, AdaFactor statistics at
3 decays, 11 time features) go through an MLP 39 → 4 → 4 → 2, whose outputs
(d, m) give the step

    Δφ = λ1 · d · exp(λ2 · m),   λ1 = λ2 = 0.001,   φ ← φ − Δφ.

The 7 accumulator decays are meta-learned too: decay = 1 − (1 − d₀)·exp(10·θ)
for an initial decay d₀ and offset θ (0 at initialisation). With the default
configuration θ has 190 + 7 = 197 entries:

    {"decays": {"momentum": (3,), "second_moment": (1,), "factored": (3,)},
     "mlp": {"w0": (39, 4), "b0": (4,), "w1": (4, 4), "b1": (4,), "w2": (4, 2), "b2": (2,)}}

Given the same θ it computes the same function as the reference
implementation's `AdafacMLPLOpt` (`lopt_pretrained.from_reference` converts
its meta-parameters). The default, fused update never builds the (N, 39)
feature tensor: the normalisation is folded into the first layer's weights
and the MLP runs unit by unit, elementwise, so XLA makes one loop of it (the
memory-bound regime of §4.2); `fused=False` runs the straightforward version,
which a test holds it equal to.
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
from lopt_architectures.mlp import apply_mlp, apply_mlp_elementwise, init_mlp

#: Widths up to this use the elementwise (fused) MLP; wider ones use matmuls.
MAX_FUSED_WIDTH = 8


class SmallFcLOptState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    momentum: lf.MomentumState
    second_moment: lf.SecondMomentState
    factored: lf.FactoredState
    skipped_steps: jax.Array | None = None  # steps skipped for non-finite input; set by skip_non_finite


def learned_decay(initial: tuple[float, ...], offset: jax.Array) -> jax.Array:
    """1 − (1 − d₀)·exp(10·θ), computed as the reference does (log-space offset)."""
    initial = jnp.asarray(initial, jnp.float32)
    return 1 - jnp.exp((jnp.log(1 - initial) / 10.0 + offset) * 10.0)


@dataclasses.dataclass(frozen=True)
class SmallFcLOpt(LearnedOptimizer):
    """Configuration of small_fc_lopt; the defaults are the paper's."""

    hidden_size: int = 4
    hidden_layers: int = 2
    momentum_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    second_moment_decays: tuple[float, ...] = (0.999,)
    factored_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    step_mult: float = 0.001
    exp_mult: float = 0.001
    fused: bool = True

    name: ClassVar[str] = "small_fc_lopt"

    def __post_init__(self):
        check_sizes(self, {"hidden_size": 1, "hidden_layers": 0})

    @property
    def feature_names(self) -> tuple[str, ...]:
        return lf.small_fc_lopt_feature_names(
            len(self.momentum_decays), len(self.second_moment_decays), len(self.factored_decays)
        )

    def init_meta_params(self, key: jax.Array) -> dict:
        sizes = (len(self.feature_names),) + (self.hidden_size,) * self.hidden_layers + (2,)
        return {
            "decays": {
                "factored": jnp.zeros(len(self.factored_decays), jnp.float32),
                "momentum": jnp.zeros(len(self.momentum_decays), jnp.float32),
                "second_moment": jnp.zeros(len(self.second_moment_decays), jnp.float32),
            },
            "mlp": init_mlp(key, sizes),
        }

    def optimizer(self, theta: dict) -> Optimizer:
        config = self
        num_features = len(self.feature_names)
        expected_w0 = (num_features, self.hidden_size if self.hidden_layers else 2)
        if tuple(jnp.shape(theta["mlp"]["w0"])) != expected_w0:
            raise ValueError(
                f"small_fc_lopt: meta-parameter ['mlp']['w0'] has shape {jnp.shape(theta['mlp']['w0'])}; "
                f"this configuration expects {expected_w0}."
            )

        def accumulators():
            d = theta["decays"]
            return (
                lf.momentum(learned_decay(config.momentum_decays, d["momentum"])),
                lf.second_moment(learned_decay(config.second_moment_decays, d["second_moment"])),
                lf.factored_second_moment(learned_decay(config.factored_decays, d["factored"])),
            )

        def init(params, *, num_steps=None, key=None, model_state=None):
            num_steps = require_num_steps(num_steps, config.name)
            mom, rms, fac = accumulators()
            return SmallFcLOptState(
                params=params, model_state=model_state, step=jnp.asarray(0, jnp.int32),
                num_steps=num_steps, momentum=mom.init(params), second_moment=rms.init(params),
                factored=fac.init(params),
            )

        def update(state, grads, *, loss=None, key=None, model_state=None):
            lf.check_matches(state.params, grads, what=f"{config.name}.update", tree_name="gradient",
                             expected_name="parameters")
            mom, rms, fac = accumulators()
            momentum = mom.update(state.momentum, grads)
            second_moment = rms.update(state.second_moment, grads)
            factored = fac.update(state.factored, grads)
            time = lf.tanh_time_features(state.step)
            if config.fused and config.hidden_size <= MAX_FUSED_WIDTH:
                step_fn = lambda *leaves: _fused_leaf_step(config, theta["mlp"], time, *leaves)  # noqa: E731
                steps = jax.tree_util.tree_map(
                    step_fn, state.params, grads, momentum.m, second_moment.v,
                    factored.v_row, factored.v_col, factored.v_diag,
                )
            else:
                features = lf.small_fc_lopt_features(
                    state.params, grads, momentum, second_moment, factored, state.step
                )
                steps = jax.tree_util.tree_map(
                    lambda x: _step_from_outputs(config, apply_mlp(theta["mlp"], x.astype(jnp.float32))),
                    features,
                )
            params = jax.tree_util.tree_map(
                lambda p, s: (p.astype(s.dtype) - s).astype(p.dtype), state.params, steps
            )
            return SmallFcLOptState(
                params=params, model_state=model_state, step=state.step + 1, num_steps=state.num_steps,
                momentum=momentum, second_moment=second_moment, factored=factored,
            )

        return skip_non_finite(Optimizer(init, update, get_params), config.name)


def _step_from_outputs(config: SmallFcLOpt, outputs: jax.Array) -> jax.Array:
    direction, magnitude = outputs[..., 0], outputs[..., 1]
    return direction * jnp.exp(magnitude * config.exp_mult) * config.step_mult


def _fused_leaf_step(config, mlp, time, p, g, m, v, v_row, v_col, v_diag):
    """The step for one tensor without materialising its feature tensor."""
    groups = lf.small_fc_lopt_channel_groups(p, g, m, v, v_row, v_col, v_diag)
    channels = [group[..., k] for group in groups for k in range(group.shape[-1])]
    # Fold each channel's 1/√(mean square + ε) into the first layer's weights.
    inv_rms = jnp.stack([jax.lax.rsqrt(1e-5 + jnp.mean(jnp.square(c))) for c in channels])
    w0 = mlp["w0"]
    n = len(channels)
    w_channels = w0[:n] * inv_rms[:, None].astype(w0.dtype)
    bias = mlp["b0"] + time @ w0[n:]
    first = [bias[j] + sum(channels[c] * w_channels[c, j] for c in range(n)) for j in range(w0.shape[1])]
    outputs = apply_mlp_elementwise(mlp, first)
    return outputs[0] * jnp.exp(outputs[1] * config.exp_mult) * config.step_mult


def small_fc_lopt(**config) -> SmallFcLOpt:
    """small_fc_lopt with the paper's configuration, or overrides (see `SmallFcLOpt`)."""
    return SmallFcLOpt(**config)
