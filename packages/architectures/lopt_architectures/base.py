"""The interfaces every optimizer in lopt implements.

An `Optimizer` is a triple of pure functions, like an optax
`GradientTransformation`, but it owns the parameters: its state holds them,
and `update` returns the next state given this step's gradients (and, for
optimizers that read them, the loss and a PRNG key). Hand-designed and
learned optimizers share it, so the same training loop, ES estimator or
benchmark runs either.

A `LearnedOptimizer` makes an `Optimizer` from meta-parameters θ, a pytree.
"""

import abc
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

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
    `model_state`, `step` (updates applied so far) and `num_steps`.
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
        """The optimizer that θ defines."""


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
