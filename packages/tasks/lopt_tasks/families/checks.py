"""Running a batch of sampled tasks the way meta-training does, and measuring their size.

`run_batch(family, key, n)` draws n configs of one structure
(`sample_batch`), stacks n training batches from the task's own data
(batch i of the stream seeded i), and runs init and `value_and_grad` of
every task in one `jax.jit(jax.vmap(...))` call: what an ES meta-training
step does with a meta-batch of tasks. Every family's tests use it, and it
is a quick check for a new family.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.base import TaskConfig, TaskFamily, stack_batches


def first_task(family: TaskFamily, cfgs: TaskConfig):
    """The task of the first of stacked configs `cfgs`."""
    return family.task(jax.tree_util.tree_map(lambda x: x[0], cfgs))


def run_batch(family: TaskFamily, key: jax.Array, n: int = 4) -> tuple[TaskConfig, jax.Array, Any]:
    """(configs, losses [n], gradients with a leading axis n) at the initial parameters of n sampled tasks.

    With k1, k2 = split(key): configs are `family.sample_batch(k1, n)`, task i
    is initialised and its loss keyed with `split(k2, n)[i]`, on batch 0 of
    its training stream with seed i.
    """
    cfg_key, init_key = jax.random.split(key)
    cfgs = family.sample_batch(cfg_key, n)
    source = first_task(family, cfgs).datasets["train"]
    batches = stack_batches([source.batch(0, seed) for seed in range(n)])

    @jax.jit
    @jax.vmap
    def init_and_grad(cfg, key, batch):
        task = family.task(cfg)
        params, state = task.init_with_state(key)
        (loss, _), grads = jax.value_and_grad(task.loss_with_state, has_aux=True)(params, state, key, batch)
        return loss, grads

    losses, grads = init_and_grad(cfgs, jax.random.split(init_key, n), batches)
    return cfgs, losses, grads


def num_params(family: TaskFamily, cfg: TaskConfig) -> int:
    """Number of parameters of the task `cfg` describes (from shapes only; nothing is computed)."""
    task = family.task(cfg)
    shapes = jax.eval_shape(lambda k: task.init_with_state(k)[0], jax.random.PRNGKey(0))
    return int(sum(np.prod(s.shape) for s in jax.tree_util.tree_leaves(shapes)))


def all_finite(tree) -> bool:
    return all(bool(jnp.all(jnp.isfinite(x.astype(jnp.float32)))) for x in jax.tree_util.tree_leaves(tree))
