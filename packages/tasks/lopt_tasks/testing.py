"""Helpers for testing tasks: train a task briefly with optax and record its losses.

Used by the tests of fixed tasks and families. Needs optax (the package's
`test` extra), which is imported only when these helpers run.
"""

import jax
import numpy as np

from lopt_tasks.base import Task


def param_count(task: Task) -> int:
    """The number of scalars in `task.init`'s parameters, found without running it."""
    shapes = jax.eval_shape(task.init, jax.random.PRNGKey(0))
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(shapes))


def adam_losses(task: Task, num_steps: int, *, learning_rate: float = 1e-3, seed: int = 0) -> np.ndarray:
    """Training losses of `num_steps` steps of Adam on `task`'s train split, batches 0, 1, ... of `seed`.

    Element i is the loss of the parameters before step i on batch i.
    """
    import optax

    optimizer = optax.adam(learning_rate)
    key = jax.random.PRNGKey(seed)
    params = task.init(key)

    @jax.jit
    def step(params, opt_state, key, batch):
        loss, grads = jax.value_and_grad(task.loss)(params, key, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state = optimizer.init(params)
    train = task.datasets["train"]
    losses = []
    for i in range(num_steps):
        params, opt_state, loss = step(params, opt_state, jax.random.fold_in(key, i), train.batch(i, seed))
        losses.append(loss)
    return np.asarray(jax.device_get(losses))
