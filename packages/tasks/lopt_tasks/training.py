"""The task's half of a training step: its loss and gradient, with the model state threaded through.

Every training step in lopt starts the same way: differentiate
`task.loss_with_state` with respect to the parameters only, carrying the
model state (batch-norm statistics, stale-gradient buffers) out as
auxiliary data, never differentiated. `loss_and_grad` is that one
computation. The optimizer's half — reading the parameters from its state,
then `update` — is `lopt_es.inner_training.train_step`, which meta-training,
evaluation and the overhead study call; `lopt_tasks.timing` pairs this half
with a bare SGD update (this package depends on no optimizer package).
"""

from typing import Any

import jax

from lopt_tasks.base import Batch, ModelState, Params, Task


def loss_and_grad(
    task: Task, params: Params, model_state: ModelState, key: jax.Array, batch: Batch
) -> tuple[jax.Array, ModelState, Any]:
    """(loss, next model state, gradient of the loss with respect to `params`) of `task` on `batch`.

    `task` needs only `loss_with_state(params, model_state, key, batch) ->
    (loss, model_state)`. The model state enters as a constant: no gradient
    flows into it.
    """
    (loss, model_state), grads = jax.value_and_grad(task.loss_with_state, has_aux=True)(
        params, model_state, key, batch)
    return loss, model_state, grads
