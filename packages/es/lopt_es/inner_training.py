"""One inner training run: its initialisation and its step, the only ones in lopt.

Meta-training (`lopt_es.unroll`), evaluation (`lopt_eval.runner`) and the
overhead study (`lopt_eval.overhead`) all train a task with an optimizer
through these functions, so a learned optimizer is evaluated — and timed —
with exactly the step it was meta-trained with:

- `init_run(task, optimizer, keys, num_steps)`: the task's initial
  parameters and model state, and the optimizer's state for a run of
  `num_steps` steps;
- `train_step(task, optimizer, state, batch, keys)`: the task's loss and
  gradient (`lopt_tasks.training.loss_and_grad`, the model state threaded
  through), then the optimizer's update with that loss;
- `heldout_loss(task, optimizer, state, batch, key)`: the loss of the
  state's parameters on a held-out batch, the model state left as it was.

`task` is anything with `init_with_state(key)` and `loss_with_state(params,
model_state, key, batch)`; `optimizer` is a `lopt_architectures.Optimizer`.
All are pure, so callers `jax.vmap` and `lax.scan` them as they need.

Randomness is explicit: a run has one key, and a `KeyScheme` derives from
it the keys of the initialisation (`RunKeys`) and of each step
(`StepKeys`, a function of the run key and the step index, so a run
replays exactly). There are two schemes, and they differ on purpose:

- `META_TRAINING_KEYS` (every estimator of `lopt_es`): the run key is split
  into an initialisation key and a steps key; the initialisation key is
  split again for the parameters and the optimizer, and step t's key,
  fold_in(steps key, t), is split three ways (loss, held-out loss, update).
- `EVALUATION_KEYS` (`lopt_eval.runner`, and the overhead study, which
  times the step evaluation runs): the run key is PRNGKey(seed) and is used
  as it is for both the parameters and the optimizer; step t uses
  fold_in(seed key, t) for both the loss and the update, and
  fold_in(seed key, 2³⁰ + t) for a held-out loss.

They were not merged because either merge changes numbers that must stay
put: evaluation's scheme is what the stored tuned baselines
(`packages/eval/stored_baselines`, hours of compute) were trained with, so
changing it would silently invalidate them, and meta-training's is what
every meta-training checkpoint resumes with. The schemes differ only in the
random numbers a run draws (its initial parameters, dropout, an optimizer's
key); the step itself is the same computation.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import lopt_architectures as la
import lopt_tasks as lt
from lopt_tasks.training import loss_and_grad


class RunKeys(NamedTuple):
    """The keys of a run's initialisation."""

    params: jax.Array  # task.init_with_state
    optimizer: jax.Array  # optimizer.init


class StepKeys(NamedTuple):
    """The keys of one step."""

    loss: jax.Array  # task.loss_with_state on the training batch
    update: jax.Array  # optimizer.update
    heldout: jax.Array  # task.loss_with_state on a held-out batch, where one is evaluated


class KeyScheme(NamedTuple):
    """How a run's key becomes the keys of its initialisation and of its step `step` (see the module docstring)."""

    name: str
    run: Callable[[jax.Array], RunKeys]
    step: Callable[[jax.Array, jax.Array], StepKeys]


def _meta_training_run(run_key: jax.Array) -> RunKeys:
    init_key, _ = jax.random.split(run_key)
    return RunKeys(*jax.random.split(init_key))


def _meta_training_step(run_key: jax.Array, step: jax.Array) -> StepKeys:
    _, steps_key = jax.random.split(run_key)
    loss, heldout, update = jax.random.split(jax.random.fold_in(steps_key, step), 3)
    return StepKeys(loss=loss, update=update, heldout=heldout)


#: Offset of the held-out evaluations' keys from the steps' keys in `EVALUATION_KEYS`.
HELDOUT_KEY_OFFSET = 2**30


def _evaluation_run(seed_key: jax.Array) -> RunKeys:
    return RunKeys(params=seed_key, optimizer=seed_key)


def _evaluation_step(seed_key: jax.Array, step: jax.Array) -> StepKeys:
    key = jax.random.fold_in(seed_key, step)
    return StepKeys(loss=key, update=key, heldout=jax.random.fold_in(seed_key, HELDOUT_KEY_OFFSET + step))


META_TRAINING_KEYS = KeyScheme("meta_training", _meta_training_run, _meta_training_step)
EVALUATION_KEYS = KeyScheme("evaluation", _evaluation_run, _evaluation_step)


def init_run(task: lt.Task, optimizer: la.Optimizer, keys: RunKeys, *, num_steps: Any) -> Any:
    """The optimizer state that starts a run of `num_steps` steps (may be traced) on `task`."""
    params, model_state = task.init_with_state(keys.params)
    return optimizer.init(params, num_steps=num_steps, key=keys.optimizer, model_state=model_state)


def train_step(
    task: lt.Task, optimizer: la.Optimizer, state: Any, batch: lt.Batch, keys: StepKeys
) -> tuple[Any, jax.Array]:
    """(next optimizer state, training loss before the step): one step of `optimizer` on `task`'s `batch`."""
    params, model_state = optimizer.get_params(state), la.get_model_state(state)
    loss, model_state, grads = loss_and_grad(task, params, model_state, keys.loss, batch)
    return optimizer.update(state, grads, loss=loss, key=keys.update, model_state=model_state), loss


def heldout_loss(task: lt.Task, optimizer: la.Optimizer, state: Any, batch: lt.Batch, key: jax.Array) -> jax.Array:
    """The loss of `state`'s parameters on a held-out `batch`; the model state it would produce is dropped."""
    loss, _ = task.loss_with_state(optimizer.get_params(state), la.get_model_state(state), key, batch)
    return loss
