"""Inner training runs: a task trained by an optimizer over several seeds (and configurations).

`train(task, make_optimizer, num_steps, seeds, hyperparameters=...)` trains
one run per (configuration, seed) in a single compiled, vmapped computation
(`lax.scan` over `steps_per_call` steps at a time):

- seed s initialises the parameters with PRNGKey(s) and reads the task's
  training stream shuffled by seed s (the same data for every configuration,
  so configurations are compared on equal terms);
- each step is `lopt_es.train_step`, the step meta-training runs, with
  evaluation's keys (`lopt_es.EVALUATION_KEYS`: PRNGKey(s) initialises both
  the parameters and the optimizer, step t's loss and update use
  fold_in(PRNGKey(s), t)). Meta-training derives its keys differently
  (`lopt_es.META_TRAINING_KEYS`); the two are kept apart because the stored
  tuned baselines were trained with these keys and stay valid only while
  `train` gives the same losses bit for bit;
- `make_optimizer(h)` builds the optimizer of configuration h (a pytree
  slice of `hyperparameters`, whose leaves lead with the configuration axis;
  `hyperparameters=None` means one configuration and `make_optimizer(None)`).

`scan_unroll` unrolls that scan (`lax.scan(..., unroll=k)`). Same numbers,
longer compilation; it exists because XLA on CPU runs a convolution inside a
rolled loop many times slower than the same step compiled straight (the
digits conv net with Adam: 63 ms per step in a rolled scan, 5.3 ms
unrolled, 6.3 ms as one jitted step).

It records the loss at the start of every step, optionally the held-out loss
every `valid_every` steps (on the task's "valid" split, or "test" where the
data has none: `lopt_tasks.split_source`), the wall time per step and run,
and the tradeoffs paper's meta-loss (`meta_loss_at`: mean training loss
clipped at the task's normalizer by `lopt_es.MetaLoss`).
`progress(done, num_steps)` is called after each chunk of steps, once its
losses are on the host (so it costs no synchronisation):
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
from lopt_es import EVALUATION_KEYS

META_LOSS = lopt_es.MetaLoss()


@dataclasses.dataclass
class Curves:
    """Results of `train`, arrays lead with [configurations, seeds]."""

    train_loss: np.ndarray  # [K, S, steps]
    meta_loss: np.ndarray  # [K, S]
    step_seconds: float  # wall time of one step of one run (batch time / runs)
    valid_steps: list[int] | None = None
    valid_loss: np.ndarray | None = None  # [K, S, len(valid_steps)]


def meta_loss_at(train_loss: np.ndarray, normalizer: float, steps: int | None = None) -> np.ndarray:
    """[..., steps] training losses → [...]: the mean over the first `steps` steps (all if None) of
    `META_LOSS`'s per-step value, the loss clipped at the task's normalizer (diverged: NaN)."""
    losses = train_loss if steps is None else train_loss[..., :steps]
    clipped = META_LOSS.per_step(jnp.asarray(losses), jnp.asarray(normalizer, jnp.float32))
    return np.mean(np.asarray(clipped), axis=-1)


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
        try:
            valid_source = lt.split_source(task, "valid")
        except KeyError as e:
            raise ValueError(f"train: valid_every={valid_every} needs a held-out split; {e.args[0]}") from None

    def optimizer(h):
        return make_optimizer(h if batched else None)

    def init_one(h, seed_key):
        return lopt_es.init_run(task, optimizer(h), EVALUATION_KEYS.run(seed_key), num_steps=num_steps)

    def step_one(h, state, batch, seed_key, step):
        return lopt_es.train_step(task, optimizer(h), state, batch, EVALUATION_KEYS.step(seed_key, step))

    # vmap over seeds (state, batch, seed key) inside, configurations (h, state) outside; data and step are shared.
    over_seeds = jax.vmap(step_one, in_axes=(None, 0, 0, 0, None))
    over_configs = jax.vmap(over_seeds, in_axes=(0, 0, None, None, None))

    @jax.jit
    def init(hp, seed_keys):
        return jax.vmap(jax.vmap(init_one, in_axes=(None, 0)), in_axes=(0, None))(hp, seed_keys)

    @jax.jit
    def run(hp, states, batches, seed_keys, steps):
        def body(states, inputs):
            batch, step = inputs
            return over_configs(hp, states, batch, seed_keys, step)

        return jax.lax.scan(body, states, (batches, steps), unroll=scan_unroll)

    @jax.jit
    def evaluate(hp, states, batch, seed_keys, step):
        def one(h, state, batch, seed_key):
            key = EVALUATION_KEYS.step(seed_key, step).heldout
            return lopt_es.heldout_loss(task, optimizer(h), state, batch, key)

        over_seeds = jax.vmap(one, in_axes=(None, 0, 0, 0))
        return jax.vmap(over_seeds, in_axes=(0, 0, None, None))(hp, states, batch, seed_keys)

    seed_keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    states = init(hp, seed_keys)
    losses, valid_losses, valid_steps = [], [], []
    elapsed, timed_steps, done = 0.0, 0, 0
    while done < num_steps:
        if valid_source is not None and done % valid_every == 0:
            batch = _stack([valid_source.batch(done // valid_every, s) for s in seeds])
            valid_losses.append(np.asarray(evaluate(hp, states, batch, seed_keys, jnp.asarray(done, jnp.int32))))
            valid_steps.append(done)
        steps = min(steps_per_call, num_steps - done)
        if valid_source is not None:
            steps = min(steps, valid_every - done % valid_every)
        batches = _stack([_stack([train_source.batch(done + t, s) for s in seeds]) for t in range(steps)])
        step_indices = jnp.arange(done, done + steps, dtype=jnp.int32)
        started = time.perf_counter()
        states, step_losses = run(hp, states, batches, seed_keys, step_indices)
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
        np.asarray(run(hp, states, batches, seed_keys, step_indices)[1])
        elapsed, timed_steps = time.perf_counter() - started, steps
    train_loss = np.concatenate(losses, axis=-1)
    return Curves(
        train_loss=train_loss,
        meta_loss=meta_loss_at(train_loss, task.normalizer),
        step_seconds=elapsed / timed_steps / (num_configs * len(seeds)),
        valid_steps=valid_steps or None,
        valid_loss=np.stack(valid_losses, axis=-1) if valid_losses else None,
    )
