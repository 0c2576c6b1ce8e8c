"""Moving between lopt optimizers and optax gradient transformations.

`from_optax` turns any optax transformation into an lopt `Optimizer` (that is
how most hand-designed optimizers here are built); `as_optax` turns any lopt
`Optimizer`, learned ones included, into an optax transformation, so an
existing optax training loop switches optimizer by changing one line.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import lopt_features as lf
import optax

from lopt_architectures.base import Optimizer, get_params, require_num_steps


class OptaxOptimizerState(NamedTuple):
    """State of an optax transformation run as an lopt `Optimizer`."""

    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    inner: Any  # the optax transformation's own state


def from_optax(tx: optax.GradientTransformation, name: str = "optax") -> Optimizer:
    """Runs an optax gradient transformation as an lopt `Optimizer`.

    `update` applies `tx`'s updates to the held parameters with
    `optax.apply_updates` (which keeps each parameter's dtype). The loss and
    key are accepted and ignored; schedules inside `tx` count steps with their
    own state as usual.

    Args:
      tx: any optax transformation (e.g. `optax.adamw(1e-3)`).
      name: used in error messages.
    """

    def init(params, *, num_steps=None, key=None, model_state=None):
        lf.check_float(params, what=f"{name}.init", tree_name="parameter")
        return OptaxOptimizerState(
            params=params,
            model_state=model_state,
            step=jnp.asarray(0, jnp.int32),
            num_steps=require_num_steps(num_steps, name),
            inner=tx.init(params),
        )

    def update(state, grads, *, loss=None, key=None, model_state=None):
        lf.check_float(grads, what=f"{name}.update", tree_name="gradient")
        lf.check_matches(state.params, grads, what=f"{name}.update", tree_name="gradient",
                         expected_name="parameters")
        updates, inner = tx.update(grads, state.inner, state.params)
        return OptaxOptimizerState(
            params=optax.apply_updates(state.params, updates),
            model_state=model_state,
            step=state.step + 1,
            num_steps=state.num_steps,
            inner=inner,
        )

    return Optimizer(init, update, get_params)


class AsOptaxState(NamedTuple):
    """State of an lopt optimizer run through `as_optax`.

    The optimizer's state is kept with `params=None`: the training loop owns
    the parameters, so they are not stored twice.
    """

    opt_state: Any
    key: jax.Array


def as_optax(
    opt: Optimizer, num_steps: int, *, key: jax.Array | None = None
) -> optax.GradientTransformationExtraArgs:
    """An optax transformation that runs `opt`.

    Use it like any optax optimizer, passing the loss (and model state, if
    the model has one) as extra arguments:

        tx = as_optax(lopt.optimizer(theta), num_steps=1000)
        state = tx.init(params)
        updates, state = tx.update(grads, state, params, loss=loss)
        params = optax.apply_updates(params, updates)

    The updates are the optimizer's new parameters minus `params`. A fresh
    PRNG key for each step is split from `key` (default `PRNGKey(0)`).
    Optimizers that need no loss accept `loss=None`. For code written against
    the reference implementation's `opt_to_optax`, the extra arguments may
    also come as `extra_args={"loss": loss}`.
    """
    key = jax.random.PRNGKey(0) if key is None else key

    def init(params):
        state = opt.init(params, num_steps=num_steps, key=key)
        return AsOptaxState(opt_state=state._replace(params=None), key=key)

    def update(updates, state, params=None, *, loss=None, model_state=None, extra_args=None, **others):
        del others  # other transformations' extra arguments, e.g. in a chain
        if extra_args:
            loss = extra_args.get("loss", loss)
            model_state = extra_args.get("model_state", model_state)
        if params is None:
            raise ValueError("as_optax: update needs params (tx.update(grads, state, params, loss=loss)).")
        next_key, step_key = jax.random.split(state.key)
        if model_state is None:
            model_state = state.opt_state.model_state
        opt_state = state.opt_state._replace(params=params)
        new_state = opt.update(opt_state, updates, loss=loss, key=step_key, model_state=model_state)
        new_params = opt.get_params(new_state)
        deltas = jax.tree_util.tree_map(lambda new, old: (new - old).astype(old.dtype), new_params, params)
        return deltas, AsOptaxState(opt_state=new_state._replace(params=None), key=next_key)

    return optax.GradientTransformationExtraArgs(init, update)
