"""Inner training of a batch of tasks by a learned optimizer: initialisation and unrolls.

A *member* is one inner training run: a task (a config of one structure of a
family), the learned optimizer's state for it, and the meta-parameters θ it
is trained with. ES estimators run members in pairs θ ± ε. Everything here
is `jax.jit`-compiled once per (learned optimizer, family, structure,
meta-loss) and `jax.vmap`-ed over members, so one call advances every member
of a meta-batch by T steps (`lax.scan`).

Each member's initialisation and step are `lopt_es.inner_training`'s — the
ones evaluation and the overhead study run — with meta-training's key scheme
(`META_TRAINING_KEYS`): member m's step t uses keys derived from its run key
and its inner step, so the same run replays exactly — the basis of
bit-identical resumption.
"""

import functools
from collections.abc import Hashable
from typing import Any

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt

from lopt_es import inner_training
from lopt_es.inner_training import META_TRAINING_KEYS
from lopt_es.meta_loss import MetaLoss


def _task(family: lt.TaskFamily, structure: Hashable, values: dict) -> lt.Task:
    return family.task(lt.TaskConfig(structure, values))


@functools.partial(jax.jit, static_argnames=("lopt", "family", "structure", "theta_batched"))
def init_members(
    lopt: la.LearnedOptimizer,
    family: lt.TaskFamily,
    structure: Hashable,
    thetas: Any,
    values: dict,
    run_keys: jax.Array,
    num_steps: jax.Array,
    theta_batched: bool = True,
):
    """Fresh optimizer states for every member: [M]-stacked."""

    def one(theta, values, run_key, num_steps):
        return inner_training.init_run(_task(family, structure, values), lopt.optimizer(theta),
                                       META_TRAINING_KEYS.run(run_key), num_steps=num_steps)

    return jax.vmap(one, in_axes=(0 if theta_batched else None, 0, 0, 0))(thetas, values, run_keys, num_steps)


def _member_step(lopt, family, structure, meta_loss, theta, opt_state, values, run_key, step, batch, valid_batch):
    task = _task(family, structure, values)
    opt = lopt.optimizer(theta)
    keys = META_TRAINING_KEYS.step(run_key, step)
    # A held-out loss is that of the parameters before the step, the ones the training loss is of.
    objective = None if valid_batch is None else inner_training.heldout_loss(
        task, opt, opt_state, valid_batch, keys.heldout)
    opt_state, loss = inner_training.train_step(task, opt, opt_state, batch, keys)
    objective = loss if objective is None else objective
    normalizer = jnp.asarray(task.normalizer, jnp.float32)
    value = meta_loss.per_step(objective, normalizer, task.log_loss_scale)
    if meta_loss.last_fraction < 1:  # by default the compiled step stays as it was
        value = value * meta_loss.step_weight(step, opt_state.num_steps)
    return opt_state, (loss, value)


#: More members than this in one vmapped unroll give wrong results for members
#: 32768 and up with jax/jaxlib 0.10.2 on CPU (a value_and_grad inside a
#: vmapped lax.scan; found by estimators_test's quadrature checks).
MAX_MEMBERS = 32768


def unroll_members(
    lopt: la.LearnedOptimizer,
    family: lt.TaskFamily,
    structure: Hashable,
    meta_loss: MetaLoss,
    thetas: Any,
    opt_states: Any,
    values: dict,
    run_keys: jax.Array,
    first_step: jax.Array,
    batches: Any,
    valid_batches: Any = None,
    theta_batched: bool = True,
):
    """Advances every member by T steps.

    Args:
      thetas: meta-parameters, [M]-stacked if `theta_batched`, else shared.
      opt_states, values, run_keys: [M]-stacked member states.
      first_step: [M] inner step of each member at the start (for keys).
      batches: training batches, leaves [T, M, ...].
      valid_batches: held-out batches like `batches`, when the meta-loss uses them.

    Returns:
      (new opt_states, losses [T, M], meta-loss values [T, M]).
    """
    num_members = jax.tree_util.tree_leaves(run_keys)[0].shape[0]
    if num_members > MAX_MEMBERS:
        raise ValueError(
            f"unroll: {num_members} members in one call; at most {MAX_MEMBERS} are computed correctly by this "
            "jax/XLA version (see MAX_MEMBERS). Use fewer tasks per estimate."
        )
    step_fn = functools.partial(_member_step, lopt, family, structure, meta_loss)
    in_axes = (0 if theta_batched else None, 0, 0, 0, 0, 0, 0 if valid_batches is not None else None)
    members = jax.vmap(step_fn, in_axes=in_axes)

    def body(carry, inputs):
        states, t = carry
        batch, valid_batch = inputs
        states, outputs = members(thetas, states, values, run_keys, first_step + t, batch, valid_batch)
        return (states, t + 1), outputs

    (opt_states, _), (losses, objectives) = jax.lax.scan(
        body, (opt_states, jnp.asarray(0, jnp.int32)), (batches, valid_batches)
    )
    return opt_states, losses, objectives


#: The compiled unroll; static arguments identify the program.
unroll = jax.jit(
    unroll_members, static_argnames=("lopt", "family", "structure", "meta_loss", "theta_batched")
)
