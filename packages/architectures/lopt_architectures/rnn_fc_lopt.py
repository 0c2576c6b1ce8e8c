"""rnn_fc_lopt: a per-tensor LSTM conditioning a per-parameter MLP (Metz et al. 2020; tradeoffs §2).

Every training step, in order:

1. Loss features: the loss is folded into an EMA normaliser (decay 0.9) and
   expressed in its standard deviations; the same is done for the
   bias-corrected mean of the validation losses (`record_validation_loss`).
2. Dynamic gradient clipping: gradients are clipped elementwise at 10× a
   bias-corrected EMA (decay 0.99) of the gradients' RMS, which then absorbs
   this step's clipped gradients.
3. Momentum and second moments at 5 decays (0.5 … 0.9999) of the clipped
   gradients.
4. A 64-unit LSTM over the tensors reads 52 features per tensor: statistics of
   the momenta, second moments, parameters and gradient on the
   log|x| → clip[−5, 5] scale, the tensor's shape, the two loss features, a
   16-vector the MLP sent back last step and an 18-vector shared by all
   tensors (the mean of a projection of last step's LSTM outputs).
5. A per-parameter MLP 54 → 32 → 32 → 18 reads 23 normalised per-parameter
   features (g, φ, log|φ|, m, v, m/√v, 1/√v), 11 sin time features,
   log(#tensors) − 1, log‖φ‖, log(#elements) and 17 numbers from the LSTM:
   Δφ = 0.001·d·exp(0.001·s) from its first two outputs, and the mean of the
   other 16 over the tensor goes back to the LSTM.

θ (35,799 entries with the defaults):

    {"ff_mlp": {"w0": (54, 32), "b0", "w1": (32, 32), "b1", "w2": (32, 18), "b2"},
     "initial_from_lstm": (18,), "initial_from_mlp": (16,),
     "lstm": {"w": (116, 256), "b": (256,)}, "lstm_init_state": {"cell": (1, 64), "hidden": (1, 64)},
     "lstm_to_ff": {"w": (64, 17), "b"}, "lstm_to_lstm": {"w": (64, 18), "b"}}

It computes the same function as the reference implementation's
`RNNMLPLOpt` (and, unlike it, stays finite under `jax.jit`: see
`lopt_features.loss_features`). Work the reference does per parameter is
done per tensor where the algebra allows: the 31 MLP inputs that are
constant over a tensor go into the first layer's bias, the normalisation of
the other 23 into its weights, and the 16 outputs that are only averaged
over the tensor are computed once from the mean hidden activation.
"""

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import lopt_features as lf
import numpy as np

from lopt_architectures.base import (
    LearnedOptimizer,
    Optimizer,
    check_sizes,
    get_params,
    keep_unless,
    require_loss,
    require_num_steps,
    skip_non_finite,
)
from lopt_architectures.lstm import LSTMState, init_linear, init_lstm, linear, lstm_step, tile_state
from lopt_architectures.mlp import init_mlp

TRAIN_LOSS_DECAY = 0.9
VALID_LOSS_DECAY = 0.95
CLIP_DECAY = 0.99
CLIP_MULT = 10.0
NUM_TENSOR_FEATURES = 18  # besides the from_lstm and from_mlp vectors
NUM_PARAM_FEATURES = 23 + 11 + 3  # besides the LSTM's inputs to the MLP


class DynamicClipState(NamedTuple):
    iteration: jax.Array  # float32, starts at 1
    value: jax.Array


class RnnFcLOptState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    momentum: lf.MomentumState
    second_moment: lf.SecondMomentState
    lstm_state: LSTMState
    from_mlp: Any  # per tensor, (from_mlp_size,)
    from_lstm: jax.Array
    train_loss: lf.LossNormalizerState
    valid_loss: lf.LossNormalizerState
    clip: DynamicClipState
    skipped_steps: jax.Array | None = None  # steps skipped for non-finite input; set by skip_non_finite


@dataclasses.dataclass(frozen=True)
class RnnFcLOpt(LearnedOptimizer):
    """Configuration of rnn_fc_lopt; the defaults are the reference's."""

    step_multiplier: float = 0.001
    magnitude_rate: float = 0.001
    hidden_size: int = 32
    hidden_layers: int = 2
    from_mlp_size: int = 16
    from_lstm_size: int = 18
    lstm_to_ff: int = 17
    lstm_hidden_size: int = 64
    decays: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999, 0.9999)

    name: ClassVar[str] = "rnn_fc_lopt"

    def __post_init__(self):
        check_sizes(self, {"hidden_size": 1, "hidden_layers": 0, "from_mlp_size": 1, "from_lstm_size": 1,
                           "lstm_to_ff": 1, "lstm_hidden_size": 1})

    def init_meta_params(self, key: jax.Array) -> dict:
        keys = jax.random.split(key, 6)
        h = self.lstm_hidden_size
        lstm_inputs = NUM_TENSOR_FEATURES + self.from_lstm_size + self.from_mlp_size
        mlp_sizes = (NUM_PARAM_FEATURES + self.lstm_to_ff,) + (self.hidden_size,) * self.hidden_layers
        return {
            "ff_mlp": init_mlp(keys[0], mlp_sizes + (2 + self.from_mlp_size,)),
            # Variance scaling (fan-in = size) as the reference initialises these vectors.
            "initial_from_lstm": jax.random.truncated_normal(keys[1], -2, 2, (self.from_lstm_size,))
            / jnp.sqrt(self.from_lstm_size) / 0.87962566,
            "initial_from_mlp": jax.random.truncated_normal(keys[2], -2, 2, (self.from_mlp_size,))
            / jnp.sqrt(self.from_mlp_size) / 0.87962566,
            "lstm": init_lstm(keys[3], lstm_inputs, h),
            "lstm_init_state": {"cell": jnp.zeros((1, h), jnp.float32), "hidden": jnp.zeros((1, h), jnp.float32)},
            "lstm_to_ff": init_linear(keys[4], h, self.lstm_to_ff),
            "lstm_to_lstm": init_linear(keys[5], h, self.from_lstm_size),
        }

    def optimizer(self, theta: dict) -> Optimizer:
        config = self
        momentum = lf.momentum(config.decays)
        second_moment = lf.second_moment(config.decays)

        def init(params, *, num_steps=None, key=None, model_state=None):
            num_steps = require_num_steps(num_steps, config.name)
            lf.check_float(params, what=f"{config.name}.init", tree_name="parameter")
            for name, leaf in lf.named_leaves(params):
                if jnp.ndim(leaf) > 4:
                    raise ValueError(f"{config.name}.init: parameter {name} has rank {jnp.ndim(leaf)}; "
                                     "its shape features cover tensors of rank at most 4.")
            rows = len(jax.tree_util.tree_leaves(params))
            return RnnFcLOptState(
                params=params, model_state=model_state, step=jnp.asarray(0, jnp.int32), num_steps=num_steps,
                momentum=momentum.init(params), second_moment=second_moment.init(params),
                lstm_state=tile_state(theta["lstm_init_state"], rows),
                from_mlp=jax.tree_util.tree_map(lambda _: theta["initial_from_mlp"], params),
                from_lstm=theta["initial_from_lstm"],
                train_loss=lf.loss_normalizer_init(), valid_loss=lf.loss_normalizer_init(),
                clip=DynamicClipState(jnp.asarray(1.0, jnp.float32), jnp.asarray(1.0 - CLIP_DECAY, jnp.float32)),
            )

        def update(state, grads, *, loss=None, key=None, model_state=None):
            what = f"{config.name}.update"
            loss = require_loss(loss, config.name)
            lf.check_float(grads, what=what, tree_name="gradient")
            lf.check_matches(state.params, grads, what=what, tree_name="gradient", expected_name="parameters")
            train_loss = lf.loss_normalizer_update(state.train_loss, loss, TRAIN_LOSS_DECAY)
            train_feature = lf.normalized_loss(train_loss, loss, TRAIN_LOSS_DECAY)
            valid_mean = lf.loss_normalizer_corrected_mean(state.valid_loss, VALID_LOSS_DECAY)
            valid_feature = lf.normalized_loss(train_loss, valid_mean, TRAIN_LOSS_DECAY)
            clip, grads = _clip_gradients(state.clip, grads)
            new_momentum = momentum.update(state.momentum, grads)
            new_second_moment = second_moment.update(state.second_moment, grads)

            treedef = jax.tree_util.tree_structure(state.params)
            leaves = treedef.flatten_up_to
            ps, gs = leaves(state.params), leaves(grads)
            ms, vs = leaves(new_momentum.m), leaves(new_second_moment.v)
            tensor_inputs = jnp.stack([
                _tensor_features(p, g, m, v, from_mlp, state.from_lstm, train_feature, valid_feature)
                for p, g, m, v, from_mlp in zip(ps, gs, ms, vs, leaves(state.from_mlp))
            ])
            out, lstm_state = lstm_step(theta["lstm"], tensor_inputs, state.lstm_state)
            from_lstm = jnp.mean(linear(theta["lstm_to_lstm"], out), axis=0)
            to_ff = linear(theta["lstm_to_ff"], out)
            time = lf.sin_time_features(state.step)
            new_params, from_mlp = [], []
            for i, (p, g, m, v) in enumerate(zip(ps, gs, ms, vs)):
                new_p, to_lstm = _mlp_step(config, theta["ff_mlp"], p, g, m, v, time, len(ps), to_ff[i])
                new_params.append(new_p)
                from_mlp.append(to_lstm)
            return RnnFcLOptState(
                params=treedef.unflatten(new_params), model_state=model_state, step=state.step + 1,
                num_steps=state.num_steps, momentum=new_momentum, second_moment=new_second_moment,
                lstm_state=lstm_state, from_mlp=treedef.unflatten(from_mlp), from_lstm=from_lstm,
                train_loss=train_loss, valid_loss=state.valid_loss, clip=clip,
            )

        return skip_non_finite(Optimizer(init, update, get_params), config.name)


def record_validation_loss(state: RnnFcLOptState, loss: jax.Array) -> RnnFcLOptState:
    """Folds a validation loss into the state (its feature appears from the next update).

    The reference's `update(..., is_valid=True)`: only the validation-loss
    normaliser changes, and the step counter advances. A non-finite loss is
    skipped like a non-finite training step (`skip_non_finite`): the state is
    unchanged but for `skipped_steps`.
    """
    loss = require_loss(loss, "rnn_fc_lopt")
    valid_loss = lf.loss_normalizer_update(state.valid_loss, loss, VALID_LOSS_DECAY)
    return keep_unless(jnp.isfinite(loss), state._replace(valid_loss=valid_loss, step=state.step + 1), state)


def _clip_gradients(state: DynamicClipState, grads: Any) -> tuple[DynamicClipState, Any]:
    amount = (state.value / (1 - CLIP_DECAY**state.iteration)) * CLIP_MULT
    clipped = jax.tree_util.tree_map(lambda g: jnp.clip(g, -amount, amount), grads)
    leaves = jax.tree_util.tree_leaves(clipped)
    mean_square = sum(jnp.mean(jnp.square(g)) for g in leaves) / len(leaves)
    value = state.value * CLIP_DECAY + jnp.sqrt(1e-8 + mean_square) * (1.0 - CLIP_DECAY)
    return DynamicClipState(state.iteration + 1, value), clipped


def _log_magnitude(x):
    return lf.clipped_log_abs(x, scale=1.0)


def _tensor_features(p, g, m, v, from_mlp, from_lstm, train_feature, valid_feature):
    """The 52 LSTM inputs of one tensor, in the reference's (alphabetical) order."""
    features = {"from_lstm": from_lstm, "from_mlp": from_mlp}
    mean_m, mean_v, mean_p = jnp.mean(m), jnp.mean(v), jnp.mean(p)
    features["g_norm"] = _log_magnitude(jnp.sqrt(jnp.sum(jnp.square(g))))
    features["is_scalar"] = jnp.asarray(1.0 if p.ndim == 0 else -1.0)
    features["mean_ms_mag"] = _log_magnitude(mean_m)
    features["mean_ms_sign"] = jnp.sign(mean_m)
    features["mean_rms"] = _log_magnitude(mean_v)
    features["mean_sign"] = jnp.sign(mean_v)
    features["mean_v_mag"] = _log_magnitude(mean_p)
    features["mean_v_sign"] = jnp.sign(mean_p)
    features["norm_weight"] = _log_magnitude(jnp.sqrt(jnp.sum(jnp.square(p))))
    shape = np.asarray(list(p.shape) + [1] * (4 - p.ndim), np.float32)
    for j in range(4):
        features[f"shape_{j}"] = jnp.log(jnp.asarray(shape))[j] - 1.0
    features["train_loss_feat"] = train_feature
    features["valid_loss_feat"] = valid_feature
    features["var_ms"] = _log_magnitude(jnp.mean(jnp.square(m - mean_m)))
    features["var_rms"] = _log_magnitude(jnp.mean(jnp.square(v - mean_v)))
    features["var_v"] = _log_magnitude(jnp.mean(jnp.square(p - mean_p)))
    return jnp.concatenate([jnp.reshape(features[k], (-1,)).astype(jnp.float32) for k in sorted(features)])


def _mlp_step(config, mlp, p, g, m, v, time, num_tensors, to_ff):
    """The per-parameter MLP on one tensor: (new parameters, the 16 numbers sent to the LSTM)."""
    f32 = jnp.float32
    flat_p = jnp.reshape(p, (-1, 1)).astype(f32)
    flat_m = jnp.reshape(m, (-1, m.shape[-1])).astype(f32)
    flat_v = jnp.reshape(v, (-1, v.shape[-1])).astype(f32)
    rsqrt = jax.lax.rsqrt(flat_v + 1e-6)
    # The 23 per-parameter columns, in the reference's order (flat_g, flat_v,
    # log_abs_v, m, rms, rms_scaled_g, rsqrt); each normalised over the tensor.
    columns = jnp.concatenate([
        jnp.reshape(g, (-1, 1)).astype(f32), flat_p, jnp.log(jnp.abs(flat_p) + 1e-8),
        flat_m, flat_v, flat_m * rsqrt, rsqrt,
    ], axis=1)
    scale = jax.lax.rsqrt(1e-5 + jnp.mean(jnp.square(columns), axis=0))
    w0, n = mlp["w0"], columns.shape[1]
    constant = jnp.concatenate([
        time, jnp.reshape(jnp.log(float(num_tensors)) - 1.0, (1,)),
        jnp.reshape(jnp.log(jnp.sqrt(jnp.sum(jnp.square(flat_p))) + 1e-8), (1,)),
        jnp.reshape(jnp.log(float(flat_p.shape[0])), (1,)), to_ff,
    ])
    x = columns @ (w0[:n] * scale[:, None]) + (constant @ w0[n:] + mlp["b0"])
    layers = len([k for k in mlp if k.startswith("w")])
    for i in range(1, layers - 1):
        x = jax.nn.relu(x) @ mlp[f"w{i}"] + mlp[f"b{i}"]
    hidden = jax.nn.relu(x)
    w_last, b_last = mlp[f"w{layers - 1}"], mlp[f"b{layers - 1}"]
    # Only the first two outputs are needed per parameter; the other 16 are
    # averaged over the tensor, and the mean of a linear map is the map of the mean.
    out = hidden @ w_last[:, :2] + b_last[:2]
    to_lstm = jnp.mean(hidden, axis=0) @ w_last[:, 2:] + b_last[2:]
    direction, magnitude = out[:, 0:1], out[:, 1:2]
    step = (direction * jnp.exp(magnitude * config.magnitude_rate) * config.step_multiplier).reshape(p.shape)
    return (p.astype(f32) - step).astype(p.dtype), to_lstm


def rnn_fc_lopt(**config) -> RnnFcLOpt:
    """rnn_fc_lopt with the reference's configuration, or overrides (see `RnnFcLOpt`)."""
    return RnnFcLOpt(**config)
