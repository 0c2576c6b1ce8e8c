"""Celo and Celo-Adam: a learned update rule under a learned, task-agnostic scheduler.

Moudgil, Knyazev, Lajoie, Belilovsky, "Celo: Training Versatile Learned
Optimizers on a Compute Diet" (TMLR 2025), released code `amoudgl/celo`
(`celo/optimizers/celo.py`, `celo_adam.py`). Two parts, separately
addressable in θ so that either can be meta-trained alone (the paper trains
the update rule first, then the scheduler):

- θ["scheduler"]: a 64-unit LSTM that sees only 18 task-agnostic inputs
  (`lopt_features.celo_scheduler_features`: the fraction of training done and
  the loss-buffer features), behind a mixing layer whose max over tensors is a
  global context, and outputs the step multiplier λ = 0.1·exp(w·h + b).
  The reference runs it once per tensor, but every tensor gets the same
  inputs from the same initial state, so every row is the same: we run one
  row. `controls` and `unused_mix` are layers the released network builds
  but whose outputs never reach the step (one mixing coefficient, softmaxed
  to 1; a layer that is overwritten); they keep θ one-to-one with the
  released weights.
- θ["update_rule"] (Celo only): VeLO's per-parameter MLP 30 → 4 → 4 → 3 on
  VeLO's 30 normalised channels (`lopt_features.velo_channel_groups`), with
  its own weights instead of a mixed bank: Δφ = λ·d·rms(φ)·exp(0.001·s)·0.001.

Celo-Adam replaces the update rule by Adam with bias correction and the
learned rate: Δφ = λ·0.001·m̂/(ε + √(v̂ + 1e-10)).

`adam_1d_step_mult` > 0 (not in the released configuration) puts Celo2's
hand-designed floor under Celo's rule: vectors and scalars (biases, norm
scales and offsets) take the Adam step λ·adam_1d_step_mult·m̂/(ε + √(v̂ + 1e-10))
on Celo's first momentum and second moment, and only rank ≥ 2 tensors take
the learned step. The learned step is proportional to rms(φ), so a tensor
initialised at zero (every bias) barely moves under it: the output bias of a
language model cannot learn the byte frequencies.

Per step, as in the reference: the loss enters the buffer, gradients are
clipped to ±1000, the scheduler reads t/T (before the step count advances)
and the loss features, then the accumulators take the gradients and the rule
reads the updated accumulators. `use_scheduler=False` is Celo's first
training phase: the same rule with λ = 1.
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
from lopt_architectures.lstm import LSTMState, init_linear, init_lstm, linear, lstm_step
from lopt_architectures.mlp import init_grouped_mlp
from lopt_architectures.velo import GROUPS, mlp_step

NUM_SCHEDULER_FEATURES = sum(width for _, width in lf.CELO_SCHEDULER_FEATURES)


class CeloState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    momentum: lf.MomentumState
    second_moment: lf.SecondMomentState
    factored: lf.FactoredState | None
    lstm_state: LSTMState
    loss_buffer: lf.LossBufferState
    skipped_steps: jax.Array | None = None  # steps skipped for non-finite input; set by skip_non_finite


def init_scheduler(key: jax.Array, hidden: int, *, with_controls: bool) -> dict:
    """θ of the learned scheduler (LSTM with `hidden` units on the 18 task-agnostic inputs)."""
    keys = iter(jax.random.split(key, 6))
    net = {
        "lstm_init_state": {"cell": jnp.zeros((1, hidden), jnp.float32),
                            "hidden": jnp.zeros((1, hidden), jnp.float32)},
        "unused_mix": init_linear(next(keys), NUM_SCHEDULER_FEATURES, hidden),
        "mix": init_linear(next(keys), NUM_SCHEDULER_FEATURES, hidden),
        "input": init_linear(next(keys), NUM_SCHEDULER_FEATURES, hidden),
        "lstm": init_lstm(next(keys), hidden, hidden),
        "step_size": init_linear(next(keys), hidden, 1),
    }
    if with_controls:
        net["controls"] = init_linear(next(keys), hidden, 1)
    return net


def initial_scheduler_state(scheduler: dict) -> LSTMState:
    return LSTMState(scheduler["lstm_init_state"]["hidden"], scheduler["lstm_init_state"]["cell"])


def scheduler_step(scheduler: dict, features: jax.Array, state: LSTMState) -> tuple[jax.Array, LSTMState]:
    """λ = 0.1·exp(step_size(h)) and the next LSTM state, from the 18 scheduler inputs."""
    x = features[None, :]
    context = jnp.max(jax.nn.relu(linear(scheduler["mix"], x)), axis=0, keepdims=True)
    out, state = lstm_step(scheduler["lstm"], linear(scheduler["input"], x) + context, state)
    return 0.1 * jnp.exp(linear(scheduler["step_size"], out)[0, 0]), state


def adam_step(p, m, v, step, lr, *, b1: float, b2: float, epsilon: float):
    """φ − lr·m̂/(ε + √(v̂ + 1e-10)): Adam with bias correction, on the first momentum and second moment
    channels (m[..., 0], v[..., 0]) after `step + 1` updates with decays b1 and b2."""
    dtype = lf.tree_checks.compute_dtype(p.dtype)
    t = (step + 1).astype(dtype)
    m_hat = m[..., 0].astype(dtype) / (1 - b1 ** t)
    v_hat = v[..., 0].astype(dtype) / (1 - b2 ** t)
    update = m_hat * (lr / (epsilon + jnp.sqrt(v_hat + 1e-10)))
    return (p.astype(dtype) - update).astype(p.dtype)


@dataclasses.dataclass(frozen=True)
class _CeloBase(LearnedOptimizer):
    """What Celo and Celo-Adam share: the loss buffer, the scheduler, the accumulators."""

    lstm_hidden_size: int = 64
    momentum_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    second_moment_decays: tuple[float, ...] = (0.999,)
    step_mult: float = 0.001

    uses_factored: ClassVar[bool] = True

    def __post_init__(self):
        check_sizes(self, {"lstm_hidden_size": 1})

    def _factored_decays(self) -> tuple[float, ...]:
        return ()

    def _rule(self, theta, lr_mult, step, p, g, m, v, v_row, v_col, v_diag):
        raise NotImplementedError

    def _lr_mult(self, lr_mult):
        return lr_mult

    def optimizer(self, theta: dict) -> Optimizer:
        config = self
        momentum = lf.momentum(config.momentum_decays)
        second_moment = lf.second_moment(config.second_moment_decays)
        factored = lf.factored_second_moment(config._factored_decays()) if config.uses_factored else None

        def init(params, *, num_steps=None, key=None, model_state=None):
            num_steps = require_num_steps(num_steps, config.name)
            lf.check_float(params, what=f"{config.name}.init", tree_name="parameter")
            return CeloState(
                params=params, model_state=model_state, step=jnp.asarray(0, jnp.int32), num_steps=num_steps,
                momentum=momentum.init(params), second_moment=second_moment.init(params),
                factored=factored.init(params) if factored else None,
                lstm_state=initial_scheduler_state(theta["scheduler"]), loss_buffer=lf.loss_buffer_init(num_steps),
            )

        def update(state, grads, *, loss=None, key=None, model_state=None):
            what = f"{config.name}.update"
            loss = require_loss(loss, config.name)
            lf.check_float(grads, what=what, tree_name="gradient")
            lf.check_matches(state.params, grads, what=what, tree_name="gradient", expected_name="parameters")
            loss_buffer = lf.loss_buffer_update(state.loss_buffer, loss)
            features = lf.celo_scheduler_features(
                lf.fraction_trained_features(state.step / jnp.asarray(state.num_steps, jnp.float32)),
                lf.loss_buffer_features(loss_buffer),
            )
            lr_mult, lstm_state = scheduler_step(theta["scheduler"], features, state.lstm_state)
            lr_mult = config._lr_mult(lr_mult)
            grads = jax.tree_util.tree_map(lambda g: jnp.clip(g, -1000.0, 1000.0), grads)
            new_momentum = momentum.update(state.momentum, grads)
            new_second_moment = second_moment.update(state.second_moment, grads)
            new_factored = factored.update(state.factored, grads) if factored else None

            treedef = jax.tree_util.tree_structure(state.params)
            leaves = treedef.flatten_up_to
            empty = [None] * treedef.num_leaves
            fac = [leaves(t) for t in new_factored] if new_factored else [empty, empty, empty]
            new_params = [
                config._rule(theta, lr_mult, state.step, *column)
                for column in zip(leaves(state.params), leaves(grads), leaves(new_momentum.m),
                                  leaves(new_second_moment.v), *fac)
            ]
            return CeloState(
                params=treedef.unflatten(new_params), model_state=model_state, step=state.step + 1,
                num_steps=state.num_steps, momentum=new_momentum, second_moment=new_second_moment,
                factored=new_factored, lstm_state=lstm_state, loss_buffer=loss_buffer,
            )

        return skip_non_finite(Optimizer(init, update, get_params), config.name)


@dataclasses.dataclass(frozen=True)
class Celo(_CeloBase):
    """Celo; the defaults are the released configuration (`get_optimizer("celo")`, 37,089 meta-parameters)."""

    hidden_size: int = 4
    factored_decays: tuple[float, ...] = (0.9, 0.99, 0.999)
    exp_mult: float = 0.001
    use_scheduler: bool = True
    #: > 0: vectors and scalars take Adam at rate λ·adam_1d_step_mult instead of the learned rule (0: the released
    #: Celo, every tensor learned).
    adam_1d_step_mult: float = 0.0
    epsilon: float = 1e-8

    name: ClassVar[str] = "celo"
    #: The update rule's input groups (names and widths), in order.
    channel_groups: ClassVar[tuple[tuple[str, int], ...]] = lf.VELO_CHANNEL_GROUPS

    def __post_init__(self):
        super().__post_init__()
        counts = (len(self.momentum_decays), len(self.second_moment_decays), len(self.factored_decays))
        if counts != (3, 1, 3):
            raise ValueError(f"celo: the feature layout needs 3 momentum, 1 second-moment and 3 AdaFactor "
                             f"decays, got {counts}.")
        check_sizes(self, {"hidden_size": 1})
        if not self.adam_1d_step_mult >= 0:
            raise ValueError(f"celo: adam_1d_step_mult must be >= 0 (0: off), got {self.adam_1d_step_mult}.")

    def _factored_decays(self):
        return self.factored_decays

    def init_meta_params(self, key: jax.Array) -> dict:
        k_rule, k_sched = jax.random.split(key)
        return {
            "scheduler": init_scheduler(k_sched, self.lstm_hidden_size, with_controls=True),
            "update_rule": init_grouped_mlp(k_rule, GROUPS, self.hidden_size),
        }

    def _lr_mult(self, lr_mult):
        return lr_mult if self.use_scheduler else jnp.ones_like(lr_mult)

    def _rule(self, theta, lr_mult, step, p, g, m, v, v_row, v_col, v_diag):
        if self.adam_1d_step_mult > 0 and p.ndim <= 1:
            return adam_step(p, m, v, step, lr_mult * self.adam_1d_step_mult, b1=self.momentum_decays[0],
                             b2=self.second_moment_decays[0], epsilon=self.epsilon)
        return mlp_step(theta["update_rule"], lr_mult, p, g, m, v, v_row, v_col, v_diag,
                        exp_mult=self.exp_mult, step_mult=self.step_mult)


@dataclasses.dataclass(frozen=True)
class CeloAdam(_CeloBase):
    """Celo-Adam; the defaults are the released configuration (`get_optimizer("celo_adam")`, 36,865 meta-parameters)."""

    momentum_decays: tuple[float, ...] = (0.9,)
    epsilon: float = 1e-8

    name: ClassVar[str] = "celo_adam"
    uses_factored: ClassVar[bool] = False

    def __post_init__(self):
        super().__post_init__()
        if (len(self.momentum_decays), len(self.second_moment_decays)) != (1, 1):
            raise ValueError(f"celo_adam: Adam needs one momentum and one second-moment decay, got "
                             f"{self.momentum_decays} and {self.second_moment_decays}.")

    def init_meta_params(self, key: jax.Array) -> dict:
        return {"scheduler": init_scheduler(key, self.lstm_hidden_size, with_controls=False)}

    def _rule(self, theta, lr_mult, step, p, g, m, v, v_row, v_col, v_diag):
        return adam_step(p, m, v, step, lr_mult * self.step_mult, b1=self.momentum_decays[0],
                         b2=self.second_moment_decays[0], epsilon=self.epsilon)


def celo(**config) -> Celo:
    """Celo with the released configuration, or overrides (see `Celo`)."""
    return Celo(**config)


def celo_adam(**config) -> CeloAdam:
    """Celo-Adam with the released configuration, or overrides (see `CeloAdam`)."""
    return CeloAdam(**config)
