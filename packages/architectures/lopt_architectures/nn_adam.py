"""nn_adam: Adam whose per-tensor hyperparameters an LSTM controls (tradeoffs paper §2.2, App. C).

Each tensor keeps its own learning rate, β1, β2 and ε, stored in a
transformed space (0.1·log α, 0.1·log(1 − β), 0.1·log ε). Every step:

1. gradients are clipped to ±1000;
2. each tensor takes an Adam-like step with its current hyperparameters
   (no bias correction):  m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
   Δφ = α·(1 + ε)/(ε + √(v + 1e-10))·m;
3. a 32-unit LSTM over the tensors reads 19 features per tensor (the App.
   C.1 statistics of parameters, gradient, m and v from
   `lopt_features.tensor_summary`, whether the tensor is a bias or a scalar,
   and its current hyperparameters, 0.2·clip(·, −5, 5)) — with
   `fraction_features`, also VeLO's 9 features of how far through its
   planned length training is, tanh(10·(t/T − c)) — and outputs 4
   numbers per tensor; ×0.01 they are added to the transformed
   hyperparameters, which are then clipped to their valid ranges. The new
   values are used from the next step.

θ (6856 entries with the defaults):

    {"controls": {"w": (32, 4), "b": (4,)},            # zero-initialised: starts as plain Adam
     "initial_hparams": {"beta1", "beta2", "epsilon", "learning_rate"},   # scalars, transformed
     "lstm": {"w": (51, 128), "b": (128,)},
     "lstm_init_state": {"cell": (1, 32), "hidden": (1, 32)},
     "schedule": (K,)}                                   # only with schedule_knots=K

With the defaults it computes the same function as the reference
implementation's `NNAdam`. `fraction_features=True` is our extension: the
reference's LSTM sees no clock, so it can only learn a learning-rate schedule
by counting steps in its state, while a fixed-horizon schedule (the decay
that makes a tuned schedule beat a tuned constant rate at a given T) needs
t/T; VeLO's features give it that, and the LSTM's input grows from 19 to 28
per tensor (θ: "lstm" w (60, 128)).

`schedule_knots=K` (K ≥ 2) is a second extension: a learned fixed-horizon
schedule shared by every tensor, K values s_k at t/T = 0, 1/(K−1), …, 1
(θ["schedule"], zero-initialised), linearly interpolated and added to every
tensor's transformed learning rate for its step, α_t = α·exp(10·s(t/T)).
Through the LSTM a schedule is learned only as a long chain of small
deltas; these K numbers let ES find one directly, and a perturbation of σ in
s moves the rate by a factor e^{10σ} at that point of training.
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
from lopt_architectures.lstm import LSTMState, init_linear, init_lstm, linear, lstm_step, tile_state

NUM_TENSOR_FEATURES = 19
NUM_FRACTION_FEATURES = len(lf.FRACTION_CENTRES)


def _to_log(x):
    return 0.1 * jnp.log(x)


def _to_log_one_minus(x):
    return 0.1 * jnp.log(1 - x)


def _learning_rate(y):
    return jnp.clip(jnp.exp(10.0 * y), 1e-8, 1e3)


def _epsilon(y):
    return jnp.clip(jnp.exp(10.0 * y), 1e-11, 1e4)


def _beta(y):
    return 1 - jnp.exp(jnp.clip(10 * y, -10, 0))


class NNAdamHparams(NamedTuple):
    """Per-tensor hyperparameters in transformed space; each field a tree of scalars."""

    learning_rate: Any
    beta1: Any
    beta2: Any
    epsilon: Any


class NNAdamState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    m: Any
    v: Any
    hparams: NNAdamHparams
    lstm_state: LSTMState
    skipped_steps: jax.Array | None = None  # steps skipped for non-finite input; set by skip_non_finite


@dataclasses.dataclass(frozen=True)
class NNAdam(LearnedOptimizer):
    """Configuration of nn_adam; the defaults are the reference's."""

    output_scale: float = 0.01
    initial_learning_rate: float = 1e-4
    initial_beta1: float = 0.9
    initial_beta2: float = 0.999
    initial_epsilon: float = 1e-8
    decay_strength: float = 0.0
    lstm_hidden_size: int = 32
    fraction_features: bool = False
    schedule_knots: int = 0

    def __post_init__(self):
        check_sizes(self, {"lstm_hidden_size": 1})
        if self.schedule_knots == 1 or self.schedule_knots < 0:
            raise ValueError(f"nn_adam: schedule_knots must be 0 (no schedule) or at least 2, "
                             f"got {self.schedule_knots}.")

    name: ClassVar[str] = "nn_adam"

    def init_meta_params(self, key: jax.Array) -> dict:
        h = self.lstm_hidden_size
        f32 = jnp.float32
        schedule = {"schedule": jnp.zeros((self.schedule_knots,), f32)} if self.schedule_knots else {}
        return schedule | {
            "controls": init_linear(key, h, 4, zero=True),
            "initial_hparams": {
                "beta1": _to_log_one_minus(jnp.asarray(self.initial_beta1, f32)),
                "beta2": _to_log_one_minus(jnp.asarray(self.initial_beta2, f32)),
                "epsilon": _to_log(jnp.asarray(self.initial_epsilon, f32)),
                "learning_rate": _to_log(jnp.asarray(self.initial_learning_rate, f32)),
            },
            "lstm": init_lstm(key, self.num_lstm_inputs, h),
            "lstm_init_state": {"cell": jnp.zeros((1, h), f32), "hidden": jnp.zeros((1, h), f32)},
        }

    @property
    def num_lstm_inputs(self) -> int:
        """Features per tensor that the LSTM reads."""
        return NUM_TENSOR_FEATURES + (NUM_FRACTION_FEATURES if self.fraction_features else 0)

    def optimizer(self, theta: dict) -> Optimizer:
        config = self

        def init(params, *, num_steps=None, key=None, model_state=None):
            num_steps = require_num_steps(num_steps, config.name)
            lf.check_float(params, what=f"{config.name}.init", tree_name="parameter")
            zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
            initial = theta["initial_hparams"]
            per_tensor = lambda value: jax.tree_util.tree_map(lambda _: value, params)  # noqa: E731
            hparams = NNAdamHparams(
                per_tensor(initial["learning_rate"]), per_tensor(initial["beta1"]),
                per_tensor(initial["beta2"]), per_tensor(initial["epsilon"]),
            )
            rows = len(jax.tree_util.tree_leaves(params))
            return NNAdamState(params, model_state, jnp.asarray(0, jnp.int32), num_steps, zeros, zeros,
                               hparams, tile_state(theta["lstm_init_state"], rows))

        def update(state, grads, *, loss=None, key=None, model_state=None):
            what = f"{config.name}.update"
            lf.check_float(grads, what=what, tree_name="gradient")
            lf.check_matches(state.params, grads, what=what, tree_name="gradient", expected_name="parameters")
            treedef = jax.tree_util.tree_structure(state.params)
            leaves = lambda tree: treedef.flatten_up_to(tree)  # noqa: E731
            grads = [jnp.clip(g, -1000.0, 1000.0) for g in leaves(grads)]
            hp = NNAdamHparams(*(leaves(h) for h in state.hparams))

            fraction = state.step / state.num_steps
            schedule = 0.0
            if config.schedule_knots:
                knots = jnp.linspace(0.0, 1.0, config.schedule_knots)
                schedule = jnp.interp(jnp.clip(fraction, 0.0, 1.0), knots, theta["schedule"])

            new_params, ms, vs, features = [], [], [], []
            for i, (p, g, m, v) in enumerate(zip(leaves(state.params), grads, leaves(state.m), leaves(state.v))):
                lr, eps = _learning_rate(hp.learning_rate[i] + schedule), _epsilon(hp.epsilon[i])
                b1, b2 = _beta(hp.beta1[i]), _beta(hp.beta2[i])
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * (g * g)
                step = (lr * (1.0 + eps)) * 1.0 / (eps + jax.lax.sqrt(v + 1e-10)) * m
                new_params.append((p - step).astype(p.dtype))
                ms.append(m.astype(p.dtype))
                vs.append(v.astype(p.dtype))
                hparam_features = [0.2 * jnp.clip(x[i], -5, 5) for x in (hp.beta1, hp.beta2, hp.epsilon)]
                shape_features = [jnp.asarray(1.0 if p.ndim == 1 else -1.0), jnp.asarray(1.0 if p.ndim == 0 else -1.0)]
                features.append(jnp.concatenate([
                    jnp.stack(hparam_features + shape_features + [0.2 * jnp.clip(hp.learning_rate[i], -5, 5)]),
                    lf.tensor_summary(p, g, m, v, log_scale=0.5).astype(jnp.float32),
                ]))

            features = jnp.stack(features)
            if config.fraction_features:
                clock = lf.fraction_trained_features(fraction)
                features = jnp.concatenate([features, jnp.broadcast_to(clock, (len(grads), clock.size))], 1)
            out, lstm_state = lstm_step(theta["lstm"], features, state.lstm_state)
            deltas = linear(theta["controls"], out) * config.output_scale
            initial = theta["initial_hparams"]
            new_hp = []
            for column, field in enumerate(("learning_rate", "beta1", "beta2", "epsilon")):
                values = [x + deltas[i, column] for i, x in enumerate(getattr(hp, field))]
                if config.decay_strength > 0:
                    values = [x - (x - initial[field]) * config.decay_strength for x in values]
                forward, inverse = _TRANSFORMS[field]
                new_hp.append(treedef.unflatten([forward(inverse(x)) for x in values]))

            return NNAdamState(
                params=treedef.unflatten(new_params), model_state=model_state, step=state.step + 1,
                num_steps=state.num_steps, m=treedef.unflatten(ms), v=treedef.unflatten(vs),
                hparams=NNAdamHparams(*new_hp), lstm_state=lstm_state,
            )

        return skip_non_finite(Optimizer(init, update, get_params), config.name)


_TRANSFORMS = {
    "learning_rate": (_to_log, _learning_rate),
    "beta1": (_to_log_one_minus, _beta),
    "beta2": (_to_log_one_minus, _beta),
    "epsilon": (_to_log, _epsilon),
}


def nn_adam(**config) -> NNAdam:
    """nn_adam with the reference's configuration, or overrides (see `NNAdam`)."""
    return NNAdam(**config)
