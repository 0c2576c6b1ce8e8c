"""Optimizer wrappers: gradient accumulation and weight decay.

They wrap any `Optimizer`, as the reference implementation wraps its released
VeLO (`research/general_lopt/prefab.py`): a learned optimizer meta-trained for
runs of at most N steps handles a longer run by averaging gradients over
several steps, and weight decay adds wd·φ to the gradients (and wd·Σφ² to the
loss the optimizer sees).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from lopt_architectures.base import Optimizer


class AccumulationState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    inner: Any  # the inner optimizer's state, its params held only in `params` above
    grad_sum: Any
    loss_sum: jax.Array


def gradient_accumulation(opt: Optimizer, num_average: int) -> Optimizer:
    """Applies `opt` once every `num_average` steps, to the mean gradient and loss.

    The inner optimizer is told it will run num_steps // num_average steps.
    Between applications the parameters do not change.
    """
    if num_average < 1:
        raise ValueError(f"gradient_accumulation: num_average must be at least 1, got {num_average}.")

    def init(params, *, num_steps=None, key=None, model_state=None):
        inner_steps = None if num_steps is None else jnp.asarray(num_steps) // num_average
        inner = opt.init(params, num_steps=inner_steps, key=key, model_state=model_state)
        return AccumulationState(
            params=params, model_state=model_state, step=jnp.asarray(0, jnp.int32),
            num_steps=jnp.asarray(num_steps, jnp.int32), inner=inner._replace(params=None),
            grad_sum=jax.tree_util.tree_map(jnp.zeros_like, params), loss_sum=jnp.asarray(0.0, jnp.float32),
        )

    def update(state, grads, *, loss=None, key=None, model_state=None):
        grad_sum = jax.tree_util.tree_map(lambda a, g: a + g, state.grad_sum, grads)
        loss_sum = state.loss_sum + (0.0 if loss is None else loss)
        step = state.step + 1

        def apply(args):
            inner, grad_sum, loss_sum = args
            mean_grads = jax.tree_util.tree_map(lambda x: x / num_average, grad_sum)
            mean_loss = None if loss is None else loss_sum / num_average
            inner = opt.update(inner, mean_grads, loss=mean_loss, key=key, model_state=model_state)
            return inner, jax.tree_util.tree_map(jnp.zeros_like, grad_sum), jnp.zeros_like(loss_sum)

        inner = state.inner._replace(params=state.params)
        inner, grad_sum, loss_sum = jax.lax.cond(
            step % num_average == 0, apply, lambda args: args, (inner, grad_sum, loss_sum)
        )
        return AccumulationState(opt.get_params(inner), model_state, step, state.num_steps,
                                 inner._replace(params=None), grad_sum, loss_sum)

    return Optimizer(init, update, lambda state: state.params)


def weight_decay(opt: Optimizer, decay: float, *, add_to_loss: bool = True) -> Optimizer:
    """Adds decay·φ to the gradients (and decay·Σφ² to the loss the optimizer reads).

    With `add_to_loss` the optimizer sees the loss of the regularised
    objective, as the reference's `WeightDecayWrapper` does.
    """

    def update(state, grads, *, loss=None, key=None, model_state=None):
        params = opt.get_params(state)
        if add_to_loss and loss is not None:
            loss = loss + sum(decay * jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))
        grads = jax.tree_util.tree_map(lambda g, p: g + decay * p, grads, params)
        return opt.update(state, grads, loss=loss, key=key, model_state=model_state)

    return Optimizer(opt.init, update, opt.get_params)
