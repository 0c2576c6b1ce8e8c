"""Inner training runs: a task trained by an optimizer over several seeds (and configurations).

`train(task, make_optimizer, num_steps, seeds, hyperparameters=...)` trains
one run per (configuration, seed) in a single compiled, vmapped computation
(`lax.scan` over `steps_per_call` steps at a time):

- seed s initialises the parameters with PRNGKey(s) and reads the task's
  training stream shuffled by seed s (the same data for every configuration,
  so configurations are compared on equal terms);
- `make_optimizer(h)` builds the optimizer of configuration h (a pytree
  slice of `hyperparameters`, whose leaves lead with the configuration axis;
  `hyperparameters=None` means one configuration and `make_optimizer(None)`).

`scan_unroll` unrolls that scan (`lax.scan(..., unroll=k)`). Same numbers,
longer compilation; it exists because XLA on CPU runs a convolution inside a
rolled loop many times slower than the same step compiled straight (the
digits conv net with Adam: 63 ms per step in a rolled scan, 5.3 ms
unrolled, 6.3 ms as one jitted step).

It records the loss at the start of every step, optionally the held-out loss
every `valid_every` steps, the wall time per step and run, and the tradeoffs
paper's meta-loss (mean training loss clipped at the task's normalizer,
`lopt_es.MetaLoss`). `progress(done, num_steps)` is called after each chunk
of steps, once its losses are on the host (so it costs no synchronisation):
`lopt_eval.progress.Progress` makes log lines with an ETA of it.
"""

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_es
import lopt_tasks as lt
import numpy as np

META_LOSS = lopt_es.MetaLoss()


@dataclasses.dataclass
class Curves:
    """Results of `train`, arrays lead with [configurations, seeds]."""

    train_loss: np.ndarray  # [K, S, steps]
    meta_loss: np.ndarray  # [K, S]
    step_seconds: float  # wall time of one step of one run (batch time / runs)
    valid_steps: list[int] | None = None
    valid_loss: np.ndarray | None = None  # [K, S, len(valid_steps)]


@jax.jit
def _fold(seed_keys, steps):
    return jax.vmap(lambda t: jax.vmap(lambda k: jax.random.fold_in(k, t))(seed_keys))(steps)


def _step_keys(seed_keys: jax.Array, first: int, count: int) -> jax.Array:
    """[count, seeds] keys, fold_in(seed key, step) for steps first … first + count − 1."""
    return _fold(seed_keys, jnp.arange(first, first + count))


def _stack(batches: list) -> Any:
    return jax.tree_util.tree_map(lambda *x: np.stack(x), *batches)


def train(
    task: lt.Task,
    make_optimizer: Callable[[Any], la.Optimizer],
    num_steps: int,
    seeds: list[int],
    *,
    hyperparameters: Any = None,
    valid_every: int = 0,
    steps_per_call: int = 100,
    scan_unroll: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Curves:
    """Trains every (configuration, seed) pair for `num_steps` steps; see the module docstring."""
    if scan_unroll < 1:
        raise ValueError(f"train: scan_unroll must be ≥ 1, got {scan_unroll}.")
    if num_steps < 1 or not seeds:
        raise ValueError(f"train: need num_steps ≥ 1 and at least one seed, got {num_steps} and {seeds}.")
    batched = hyperparameters is not None
    num_configs = jax.tree_util.tree_leaves(hyperparameters)[0].shape[0] if batched else 1
    hp = hyperparameters if batched else jnp.zeros((1,))
    train_source = task.datasets["train"]
    valid_source = None
    if valid_every:
        valid_source = task.datasets.get("valid") or task.datasets.get("test")
        if valid_source is None:
            raise ValueError(f"train: task {task.name!r} has no held-out split for valid_every.")
    normalizer = jnp.asarray(task.normalizer, jnp.float32)

    def optimizer(h):
        return make_optimizer(h if batched else None)

    def init_one(h, seed_key):
        params, model_state = task.init_with_state(seed_key)
        return optimizer(h).init(params, num_steps=num_steps, key=seed_key, model_state=model_state)

    def step_one(h, state, batch, key):
        opt = optimizer(h)
        params, model_state = opt.get_params(state), la.get_model_state(state)
        (loss, model_state), grads = jax.value_and_grad(
            lambda p: task.loss_with_state(p, model_state, key, batch), has_aux=True)(params)
        return opt.update(state, grads, loss=loss, key=key, model_state=model_state), loss

    # vmap over seeds (state, batch, key) inside, configurations (h, state) outside; data is shared.
    over_seeds = jax.vmap(step_one, in_axes=(None, 0, 0, 0))
    over_configs = jax.vmap(over_seeds, in_axes=(0, 0, None, None))

    @jax.jit
    def init(hp, keys):
        return jax.vmap(jax.vmap(init_one, in_axes=(None, 0)), in_axes=(0, None))(hp, keys)

    @jax.jit
    def run(hp, states, batches, keys):
        def body(states, inputs):
            batch, key = inputs
            return over_configs(hp, states, batch, key)

        return jax.lax.scan(body, states, (batches, keys), unroll=scan_unroll)

    @jax.jit
    def evaluate(hp, states, batch, keys):
        def one(h, state, batch, key):
            opt = optimizer(h)
            loss, _ = task.loss_with_state(opt.get_params(state), la.get_model_state(state), key, batch)
            return loss

        return jax.vmap(jax.vmap(one, in_axes=(None, 0, 0, 0)), in_axes=(0, 0, None, None))(hp, states, batch, keys)

    seed_keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    states = init(hp, seed_keys)
    losses, valid_losses, valid_steps = [], [], []
    elapsed, timed_steps, done = 0.0, 0, 0
    while done < num_steps:
        if valid_source is not None and done % valid_every == 0:
            batch = _stack([valid_source.batch(done // valid_every, s) for s in seeds])
            keys = jax.vmap(lambda k: jax.random.fold_in(k, 2**30 + done))(seed_keys)
            valid_losses.append(np.asarray(evaluate(hp, states, batch, keys)))
            valid_steps.append(done)
        steps = min(steps_per_call, num_steps - done)
        if valid_source is not None:
            steps = min(steps, valid_every - done % valid_every)
        batches = _stack([_stack([train_source.batch(done + t, s) for s in seeds]) for t in range(steps)])
        keys = _step_keys(seed_keys, done, steps)
        started = time.perf_counter()
        states, step_losses = run(hp, states, batches, keys)
        step_losses = np.asarray(step_losses)  # waits for the computation
        if done > 0:  # the first call compiles
            elapsed += time.perf_counter() - started
            timed_steps += steps
        losses.append(np.moveaxis(step_losses, 0, -1))  # [K, S, steps]
        done += steps
        if progress is not None:
            progress(done, num_steps)
    if timed_steps == 0:  # a run of one call: time a repeat of it
        started = time.perf_counter()
        np.asarray(run(hp, states, batches, keys)[1])
        elapsed, timed_steps = time.perf_counter() - started, steps
    train_loss = np.concatenate(losses, axis=-1)
    clipped = np.asarray(META_LOSS.per_step(jnp.asarray(train_loss), normalizer))
    return Curves(
        train_loss=train_loss,
        meta_loss=np.mean(clipped, axis=-1),
        step_seconds=elapsed / timed_steps / (num_configs * len(seeds)),
        valid_steps=valid_steps or None,
        valid_loss=np.stack(valid_losses, axis=-1) if valid_losses else None,
    )
