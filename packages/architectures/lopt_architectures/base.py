"""The interfaces every optimizer in lopt implements.

An `Optimizer` is a triple of pure functions, like an optax
`GradientTransformation`, but it owns the parameters: its state holds them,
and `update` returns the next state given this step's gradients (and, for
optimizers that read them, the loss and a PRNG key). Hand-designed and
learned optimizers share it, so the same training loop, ES estimator or
benchmark runs either.

A `LearnedOptimizer` makes an `Optimizer` from meta-parameters θ, a pytree.

Non-finite input (the contract of every learned optimizer): a step whose loss
or any gradient element is NaN or ±inf is skipped. The parameters and the
optimizer's own state (LSTM states, loss normalisers and buffers,
accumulators, per-tensor statistics, `step`, the model state) stay as they
were, and only the state's `skipped_steps` counter grows by one; the next
finite step proceeds as if the skipped one had never been given. Without
this, one NaN element spreads through a learned optimizer's per-tensor
normalisation or its LSTM into every parameter, permanently. Each learned
optimizer gets it from `skip_non_finite`, applied in its `optimizer(θ)`; the
check is one reduction over the gradients and a select over the state, with
no host synchronisation, so it jits and vmaps. Hand-designed optimizers keep
optax's behaviour (a NaN gradient element makes that parameter NaN).
"""

import abc
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import lopt_features as lf

Params = Any
MetaParams = Any
OptState = Any


class InitFn(Protocol):
    def __call__(
        self, params: Params, *, num_steps: int, key: jax.Array | None = None, model_state: Any = None
    ) -> OptState: ...


class UpdateFn(Protocol):
    def __call__(
        self,
        state: OptState,
        grads: Params,
        *,
        loss: jax.Array | None = None,
        key: jax.Array | None = None,
        model_state: Any = None,
    ) -> OptState: ...


class Optimizer(NamedTuple):
    """An optimizer as pure functions over an explicit state.

    - `init(params, *, num_steps, key=None, model_state=None) -> state`:
      `num_steps` is the planned length of training (schedules and learned
      optimizers' time features use it); it may be a traced integer.
    - `update(state, grads, *, loss=None, key=None, model_state=None) -> state`:
      one step. `model_state` (e.g. batch-norm statistics) is stored as given.
    - `get_params(state) -> params`.

    Every state is a NamedTuple with at least the fields `params`,
    `model_state`, `step` (updates applied so far) and `num_steps`; a learned
    optimizer's state also has `skipped_steps`, the number of updates skipped
    for a non-finite loss or gradient (see `skip_non_finite`).
    """

    init: InitFn
    update: UpdateFn
    get_params: Callable[[OptState], Params]


def get_params(state: OptState) -> Params:
    """The parameters held by any lopt optimizer state."""
    return state.params


def get_model_state(state: OptState) -> Any:
    """The model state (e.g. batch-norm statistics) held by any lopt optimizer state."""
    return state.model_state


def require_num_steps(num_steps: Any, name: str) -> jax.Array:
    """`num_steps` as an int32 array, or a clear error if it was not given."""
    if num_steps is None:
        raise ValueError(
            f"{name}.init: num_steps is required (the planned number of training steps, "
            "which schedules and learned optimizers' features depend on)."
        )
    return jnp.asarray(num_steps, jnp.int32)


def require_loss(loss: Any, name: str) -> jax.Array:
    """The loss as a float32 scalar, or a clear error if the optimizer needs it and got none."""
    if loss is None:
        raise ValueError(f"{name}.update: this optimizer reads the training loss; pass loss=<scalar>.")
    loss = jnp.asarray(loss, jnp.float32)
    if loss.shape != ():
        raise ValueError(f"{name}.update: loss must be a scalar, got shape {loss.shape}.")
    return loss


def all_finite(grads: Params, loss: Any = None) -> jax.Array:
    """A bool scalar: whether every element of `grads` (and `loss`, if given) is finite.

    One `isfinite` reduction per leaf, combined on the device: a traced
    value, never a host synchronisation.
    """
    checks = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(grads)]
    if loss is not None:
        checks.append(jnp.all(jnp.isfinite(loss)))
    return jnp.all(jnp.stack(checks)) if checks else jnp.asarray(True)


def keep_unless(apply: jax.Array, new_state: OptState, state: OptState) -> OptState:
    """`new_state` where `apply` is True, else `state` with `skipped_steps` one higher.

    A select over every leaf (jnp.where), so a traced or vmapped `apply`
    works. A model state whose structure changed in this step (e.g. None at
    `init`, batch statistics from the first update) has nothing to fall back
    to and is taken from `new_state`.
    """
    skipped = state.skipped_steps + jnp.where(apply, 0, 1).astype(state.skipped_steps.dtype)
    old = state._replace(skipped_steps=skipped)
    new = new_state._replace(skipped_steps=skipped)
    same_model_state = (jax.tree_util.tree_structure(new.model_state)
                        == jax.tree_util.tree_structure(old.model_state))
    if not same_model_state:
        old = old._replace(model_state=new.model_state)
    return jax.tree_util.tree_map(lambda n, o: jnp.where(apply, n, o).astype(jnp.result_type(n)), new, old)


def skip_non_finite(opt: Optimizer, name: str) -> Optimizer:
    """`opt` that skips a step whose loss or any gradient element is not finite (the module's contract).

    `opt`'s state must be a NamedTuple with a `skipped_steps` field, which
    this sets to 0 at `init` and counts skipped steps in. On an empty
    parameter tree `update` is a no-op that only advances `step`, as Adam's is:
    there is nothing to optimize, and per-tensor networks have no tensors.

    Args:
      opt: the optimizer, whose `update` may assume finite input.
      name: used in error messages.
    """

    def init(params, *, num_steps=None, key=None, model_state=None):
        state = opt.init(params, num_steps=num_steps, key=key, model_state=model_state)
        return state._replace(skipped_steps=jnp.zeros((), jnp.int32))

    def update(state, grads, *, loss=None, key=None, model_state=None):
        if not jax.tree_util.tree_leaves(state.params):
            lf.check_matches(state.params, grads, what=f"{name}.update", tree_name="gradient",
                             expected_name="parameters")
            new_state = state._replace(step=state.step + 1, model_state=model_state)
        else:
            new_state = opt.update(state, grads, loss=loss, key=key, model_state=model_state)
        return keep_unless(all_finite(grads, loss), new_state, state)

    return Optimizer(init, update, opt.get_params)


class LearnedOptimizer(abc.ABC):
    """An optimizer family parameterised by meta-parameters θ.

    Subclasses are frozen dataclasses holding the architecture's
    configuration, so they are hashable (usable as static arguments to
    `jax.jit`) and compare by value.
    """

    #: Short identifier, e.g. "small_fc_lopt".
    name: str

    @abc.abstractmethod
    def init_meta_params(self, key: jax.Array) -> MetaParams:
        """Fresh meta-parameters θ (a pytree of float32 arrays)."""

    @abc.abstractmethod
    def optimizer(self, theta: MetaParams) -> Optimizer:
        """The optimizer that θ defines, wrapped in `skip_non_finite`."""


def check_sizes(lopt: "LearnedOptimizer", minimums: dict[str, int]) -> None:
    """Raises a ValueError naming the first configuration field of `lopt` below its minimum.

    Called where an architecture is configured (its `__post_init__`): a layer
    of width 0 builds a network that computes nothing, and a negative width is
    a JAX shape error far from the flag or file that set it.
    """
    for field, minimum in minimums.items():
        value = getattr(lopt, field)
        if value < minimum:
            raise ValueError(f"{lopt.name}: {field} must be >= {minimum}, got {value}.")


def num_meta_params(theta: MetaParams) -> int:
    """Total number of scalars in a meta-parameter tree."""
    return sum(int(jnp.size(x)) for x in jax.tree_util.tree_leaves(theta))
