"""VeLO: a per-tensor LSTM that writes the weights of a per-parameter MLP (Metz et al. 2022b, §3.1).

Every step, in order:

1. the loss goes into a buffer of 10 moving averages whose 9 features say
   whether training is still improving at each timescale
   (`lopt_features.loss_buffer_*`); gradients are clipped to ±1000;
2. per tensor, 30 features (`lopt_features.velo_tensor_features`: fraction
   of training done, loss features, statistics of the momenta and second
   moment relative to the parameters' scale, rank) go through a mixing layer
   whose max over all tensors is a global context, then a 512-unit LSTM
   (state carried across steps), which outputs 256 mixing coefficients c and
   a step-size multiplier λ per tensor;
3. the accumulators (3 momenta, 1 second moment, 3 AdaFactor decays) take the
   clipped gradients;
4. each tensor's MLP 30 → 4 → 4 → 3 has weights W = 100·mean_k(c_k·W_k), a
   mixture of a bank of 256 MLPs; on each parameter's 30 channels
   (`lopt_features.velo_channel_groups`, normalised per channel over the
   tensor) it outputs a direction d and magnitude s, and
   Δφ = λ·d·rms(φ)·exp(0.001·s)·0.001, with rms(φ) = √(mean φ² + 1e-9).

θ for the released configuration (LSTM 512, bank of 256) has 2,320,385
entries:

    {"lstm_init_state": {"cell": (1, 512), "hidden": (1, 512)},
     "per_param_bank": {"w0": {<14 channel groups>: (256, width, 4)}, "b0": (256, 4),
                        "w1": (256, 4, 4), "b1": (256, 4), "w2": (256, 4, 3), "b2": (256, 3)},
     "per_tensor": {"unused_mix": {"w": (30, 512), "b"}, "mix": ..., "input": ...,
                    "lstm": {"w": (1024, 2048), "b": (2048,)},
                    "controls": {"w": (512, 256), "b"}, "step_size": {"w": (512, 1), "b"}}}

`unused_mix` exists only because the reference's network builds a layer it
then overwrites; it keeps the tree one-to-one with the reference's, whose
published weights `lopt_pretrained.load_reference_checkpoint` loads. Given
the same θ this computes the same function as the reference's
`HyperV2(lstm_hidden_size=512, param_inits=256, use_bugged_loss_features=False)`.
The per-parameter MLP runs fused and elementwise, like small_fc_lopt's.
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
    require_loss,
    require_num_steps,
    skip_non_finite,
)
from lopt_architectures.lstm import LSTMState, init_linear, init_lstm, linear, lstm_step, tile_state
from lopt_architectures.mlp import apply_mlp_to_channels

NUM_TENSOR_FEATURES = sum(width for _, width in lf.VELO_TENSOR_FEATURES)
GROUPS = lf.VELO_CHANNEL_GROUPS


class VeLOState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    momentum: lf.MomentumState
    second_moment: lf.SecondMomentState
    factored: lf.FactoredState
    lstm_state: LSTMState
    loss_buffer: lf.LossBufferState
    skipped_steps: jax.Array | None = None  # steps skipped for non-finite input; set by skip_non_finite


@dataclasses.dataclass(frozen=True)
class VeLO(LearnedOptimizer):
    """Configuration of VeLO; the defaults are the released optimizer's."""

    lstm_hidden_size: int = 512
    bank_size: int = 256
    hidden_size: int = 4
    momentum_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    second_moment_decays: tuple[float, ...] = (0.999,)
    factored_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    exp_mult: float = 0.001
    step_mult: float = 0.001

    name: ClassVar[str] = "velo"

    #: The per-parameter MLP's input groups (names and widths), in order.
    channel_groups: ClassVar[tuple[tuple[str, int], ...]] = lf.VELO_CHANNEL_GROUPS

    def __post_init__(self):
        counts = (len(self.momentum_decays), len(self.second_moment_decays), len(self.factored_decays))
        if counts != (3, 1, 3):
            raise ValueError(f"velo: the feature layout needs 3 momentum, 1 second-moment and 3 AdaFactor "
                             f"decays, got {counts}.")
        check_sizes(self, {"lstm_hidden_size": 1, "bank_size": 1, "hidden_size": 1})

    def init_meta_params(self, key: jax.Array) -> dict:
        h, k = self.lstm_hidden_size, self.bank_size
        keys = iter(jax.random.split(key, 8 + len(GROUPS) + 2))

        def bank(n_in, n_out):
            w = jax.random.truncated_normal(next(keys), -2, 2, (k, n_in, n_out), jnp.float32)
            return w / jnp.sqrt(jnp.float32(30 if n_in <= 3 else n_in))

        return {
            "lstm_init_state": {"cell": jnp.zeros((1, h), jnp.float32), "hidden": jnp.zeros((1, h), jnp.float32)},
            "per_param_bank": {
                # Haiku initialised every first-layer group with fan-in 30 (all channels).
                "w0": {name: bank(width, self.hidden_size) for name, width in GROUPS},
                "b0": jnp.zeros((k, self.hidden_size), jnp.float32),
                "w1": bank(self.hidden_size, self.hidden_size),
                "b1": jnp.zeros((k, self.hidden_size), jnp.float32),
                "w2": bank(self.hidden_size, 3),
                "b2": jnp.zeros((k, 3), jnp.float32),
            },
            "per_tensor": {
                "controls": init_linear(next(keys), h, k),
                "input": init_linear(next(keys), NUM_TENSOR_FEATURES, h),
                "lstm": init_lstm(next(keys), h, h),
                "mix": init_linear(next(keys), NUM_TENSOR_FEATURES, h),
                "step_size": init_linear(next(keys), h, 1),
                "unused_mix": init_linear(next(keys), NUM_TENSOR_FEATURES, h),
            },
        }

    def optimizer(self, theta: dict) -> Optimizer:
        config = self
        momentum = lf.momentum(config.momentum_decays)
        second_moment = lf.second_moment(config.second_moment_decays)
        factored = lf.factored_second_moment(config.factored_decays)

        def init(params, *, num_steps=None, key=None, model_state=None):
            num_steps = require_num_steps(num_steps, config.name)
            lf.check_float(params, what=f"{config.name}.init", tree_name="parameter")
            rows = len(jax.tree_util.tree_leaves(params))
            return VeLOState(
                params=params, model_state=model_state, step=jnp.asarray(0, jnp.int32), num_steps=num_steps,
                momentum=momentum.init(params), second_moment=second_moment.init(params),
                factored=factored.init(params), lstm_state=tile_state(theta["lstm_init_state"], rows),
                loss_buffer=lf.loss_buffer_init(num_steps),
            )

        def update(state, grads, *, loss=None, key=None, model_state=None):
            what = f"{config.name}.update"
            loss = require_loss(loss, config.name)
            lf.check_float(grads, what=what, tree_name="gradient")
            lf.check_matches(state.params, grads, what=what, tree_name="gradient", expected_name="parameters")
            loss_buffer = lf.loss_buffer_update(state.loss_buffer, loss)
            loss_features = lf.loss_buffer_features(loss_buffer)
            grads = jax.tree_util.tree_map(lambda g: jnp.clip(g, -1000.0, 1000.0), grads)
            fraction = lf.fraction_trained_features(state.step / jnp.asarray(state.num_steps, jnp.float32))

            treedef = jax.tree_util.tree_structure(state.params)
            leaves = treedef.flatten_up_to
            tensor_inputs = jnp.stack([
                lf.velo_tensor_features(p, m, v, fraction, loss_features).astype(jnp.float32)
                for p, m, v in zip(leaves(state.params), leaves(state.momentum.m), leaves(state.second_moment.v))
            ])
            controls, lr_mult, lstm_state = _per_tensor_network(theta["per_tensor"], tensor_inputs, state.lstm_state)

            new_momentum = momentum.update(state.momentum, grads)
            new_second_moment = second_moment.update(state.second_moment, grads)
            new_factored = factored.update(state.factored, grads)
            columns = zip(
                leaves(state.params), leaves(grads), leaves(new_momentum.m), leaves(new_second_moment.v),
                leaves(new_factored.v_row), leaves(new_factored.v_col), leaves(new_factored.v_diag),
            )
            new_params = [
                _per_param_step(config, theta["per_param_bank"], controls[i], lr_mult[i], *leaf_args)
                for i, leaf_args in enumerate(columns)
            ]
            return VeLOState(
                params=treedef.unflatten(new_params), model_state=model_state, step=state.step + 1,
                num_steps=state.num_steps, momentum=new_momentum, second_moment=new_second_moment,
                factored=new_factored, lstm_state=lstm_state, loss_buffer=loss_buffer,
            )

        return skip_non_finite(Optimizer(init, update, get_params), config.name)


def _per_tensor_network(net: dict, x: jax.Array, state: LSTMState):
    """Mixing layer with a global max-pooled context, LSTM, and the two heads."""
    context = jnp.max(jax.nn.relu(linear(net["mix"], x)), axis=0, keepdims=True)
    out, state = lstm_step(net["lstm"], linear(net["input"], x) + context, state)
    return linear(net["controls"], out), jnp.squeeze(linear(net["step_size"], out), -1), state


def _mix_bank(bank: dict, coefficients: jax.Array) -> dict:
    """W = 100·mean_k(c_k·W_k) for every weight of the bank."""

    def mix(weights):
        c = jnp.reshape(coefficients, (weights.shape[0],) + (1,) * (weights.ndim - 1))
        return 100.0 * jnp.mean(weights * c, axis=0)

    return jax.tree_util.tree_map(mix, bank)


def _per_param_step(config, bank, coefficients, lr_mult, p, g, m, v, v_row, v_col, v_diag):
    """New values of one tensor: the bank mixed by this tensor's coefficients, then `mlp_step`."""
    return mlp_step(_mix_bank(bank, coefficients), lr_mult, p, g, m, v, v_row, v_col, v_diag,
                    exp_mult=config.exp_mult, step_mult=config.step_mult)


def mlp_step(mlp, lr_mult, p, g, m, v, v_row, v_col, v_diag, *, exp_mult, step_mult):
    """New values of one tensor under VeLO's per-parameter MLP `mlp` (also Celo's update rule).

    `mlp` = {"w0": {group: (width, H)}, "b0", "w1", "b1", "w2", "b2"}; the
    network runs fused and elementwise over the 30 channels, each normalised
    to unit second moment over the tensor, and
    Δφ = lr_mult·d·rms(φ)·exp(exp_mult·s)·step_mult.
    """
    groups = lf.velo_channel_groups(p, g, m, v, v_row, v_col, v_diag)
    channels = [group[..., k] for group in groups for k in range(group.shape[-1])]
    inv_rms = jnp.stack([jax.lax.rsqrt(1e-5 + jnp.mean(jnp.square(c))) for c in channels])
    w0 = jnp.concatenate([mlp["w0"][name] for name, _ in GROUPS], axis=0) * inv_rms[:, None]
    outputs = apply_mlp_to_channels({**mlp, "w0": w0}, channels)
    direction, magnitude = outputs[0], outputs[1]
    p32 = p.astype(channels[0].dtype)
    param_scale = jnp.sqrt(jnp.mean(jnp.square(p32)) + 1e-9)
    step = lr_mult * (direction * (param_scale * jnp.exp(magnitude * exp_mult)) * step_mult)
    return (p32 - step).astype(p.dtype)


def velo(**config) -> VeLO:
    """VeLO with the released configuration, or overrides (see `VeLO`)."""
    return VeLO(**config)
