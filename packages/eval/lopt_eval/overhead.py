"""The overhead study: per-step time and memory of each optimizer relative to SGD (tradeoffs paper §4.1, §4.3).

`overhead_study(names, widths, batch_sizes)` builds, for every hidden width
w and batch size b, the tradeoffs paper's Fashion-MNIST MLP shape (2 hidden
layers of w ReLU units, App. B.1) — on scikit-learn's offline 8x8 digits by
default, so it runs anywhere — and measures for each optimizer:

- the median wall time of one full jitted training step — `lopt_es.train_step`,
  the step meta-training and evaluation run, with evaluation's keys
  (`lopt_es.EVALUATION_KEYS`): `value_and_grad` of the task's loss on a
  batch, then `optimizer.update` (the paper's Figure 4 quantity: the
  optimizer's share shrinks as the batch grows, and for MLPs grows with the
  width);
- that time relative to SGD's on the same task, measured in the same rounds;
- the optimizer state's bytes per parameter, measured from the state itself
  (the parameters, model state and scalars such as step counters excluded):
  0 for SGD, 8 for Adam's two float32 moments.

Timing follows the practice of `tools/update_benchmark.py`: every step is
compiled and warmed up first, each call is waited for with
`block_until_ready` and starts from the same state and batch (only compute
is measured; the batch is on the device already), and the rounds are
interleaved — each round runs every optimizer once, in a fresh random
order — so drift in a shared machine's speed hits all optimizers alike and
none always follows the same cache-flushing neighbour. Only ratios from one
study are comparable; absolute times vary from run to run by ±50% on a
shared CPU. Learned optimizers run with random-init meta-parameters: their
cost does not depend on the values of θ.

The result is a list of plain dict rows (`ROW_FIELDS`); `save` writes them
with the study's configuration as one JSON document (schema
"lopt-eval-overhead/1"), `load` reads it back.
"""

import datetime
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_es
import lopt_tasks as lt
import numpy as np
from lopt_es import EVALUATION_KEYS
from lopt_tasks.fixed import ImageMLP

from lopt_eval import schema

Clock = Callable[[], float]

SCHEMA = "lopt-eval-overhead/1"
BASELINE = "sgd"
#: The optimizers of the tradeoffs paper's §4.1 comparison, plus VeLO.
DEFAULT_OPTIMIZERS = ("sgd", "adam", "nadamw", "small_fc_lopt", "fc_lopt", "nn_adam", "rnn_fc_lopt", "velo")
ROW_FIELDS = ("optimizer", "width", "batch_size", "num_params", "step_seconds", "ratio_to_sgd",
              "state_bytes_per_param")


def known_optimizers() -> list[str]:
    """Every optimizer name the study accepts: the hand-designed ones, then the learned ones."""
    return sorted(la.HAND_DESIGNED) + sorted(la.LEARNED)


def make_optimizer(name: str, *, learning_rate: float = 1e-3, key: jax.Array | None = None) -> la.Optimizer:
    """The optimizer `name`: hand-designed with `learning_rate`, or learned with meta-parameters drawn from `key`."""
    if name in la.HAND_DESIGNED:
        return la.make_optimizer(name, learning_rate=learning_rate)
    if name in la.LEARNED:
        lopt = la.make_learned_optimizer(name)
        return lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0) if key is None else key))
    raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(known_optimizers())}")


def mlp_task(width: int, batch_size: int, *, dataset: str = "digits", depth: int = 2) -> ImageMLP:
    """The Fashion-MNIST MLP's shape (`depth` ReLU layers of `width` units, App. B.1) on `dataset`."""
    return ImageMLP(name=f"{dataset}_mlp_{depth}x{width}", dataset=dataset, hidden_sizes=(width,) * depth,
                    batch_size=batch_size)


def state_bytes_per_param(state: Any, params: Any) -> float:
    """Bytes of optimizer state per parameter, not counting the parameters, the model state or scalars."""
    num_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
    if hasattr(state, "params"):
        state = state._replace(params=None, model_state=None)
    leaves = [x for x in jax.tree_util.tree_leaves(state) if jnp.ndim(x) > 0]
    return sum(x.nbytes for x in leaves) / num_params


def training_step(task: lt.Task, optimizer: la.Optimizer) -> Callable:
    """The jitted step `(state, batch, keys: lopt_es.StepKeys) -> state` (`lopt_es.train_step`)."""
    return jax.jit(lambda state, batch, keys: lopt_es.train_step(task, optimizer, state, batch, keys)[0])


def _step_call(task: lt.Task, optimizer: la.Optimizer, batch: Any, *, key: jax.Array, num_steps: int):
    """A no-argument call of the first training step of the run `key` starts, its state and parameters."""
    state = lopt_es.init_run(task, optimizer, EVALUATION_KEYS.run(key), num_steps=num_steps)
    step = training_step(task, optimizer)
    keys = EVALUATION_KEYS.step(key, jnp.asarray(0, jnp.int32))
    return (lambda: step(state, batch, keys)), state, optimizer.get_params(state)


def time_interleaved(
    calls: Mapping[str, Callable[[], Any]],
    *,
    repeats: int,
    warmup: int = 2,
    clock: Clock = time.perf_counter,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Seconds of `repeats` calls of every function, timed in interleaved rounds.

    Each function is first called `warmup` times untimed (compiling it).
    Then each of `repeats` rounds calls every function once, in an order
    drawn afresh from `numpy.random.default_rng(seed)`, and times each call
    with `clock` until `jax.block_until_ready` of its result.
    """
    if repeats < 1:
        raise ValueError(f"time_interleaved: repeats must be >= 1, got {repeats}.")
    for call in calls.values():
        for _ in range(warmup):
            jax.block_until_ready(call())
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    order = np.random.default_rng(seed)
    for _ in range(repeats):
        for i in order.permutation(len(names)):
            start = clock()
            jax.block_until_ready(calls[names[i]]())
            times[names[i]].append(clock() - start)
    return times


def step_time(
    task: lt.Task,
    optimizer: la.Optimizer,
    *,
    repeats: int = 15,
    warmup: int = 2,
    num_steps: int = 1000,
    key: jax.Array | None = None,
    clock: Clock = time.perf_counter,
) -> float:
    """Median seconds of one jitted training step of `task` with `optimizer` (see the module docstring).

    Args:
      task: its training batch 0 (seed 0) is the step's batch.
      optimizer: initialised for a run of `num_steps` steps.
      repeats: timed calls, after `warmup` untimed ones.
      key: the run's key (`lopt_es.EVALUATION_KEYS`: for init, the loss and the update); PRNGKey(0) if None.
      clock: returns the current time in seconds (injectable for tests).
    """
    batch = jax.device_put(task.datasets["train"].batch(0, 0))
    call, _, _ = _step_call(task, optimizer, batch, key=jax.random.PRNGKey(0) if key is None else key,
                            num_steps=num_steps)
    times = time_interleaved({"step": call}, repeats=repeats, warmup=warmup, clock=clock)
    return float(statistics.median(times["step"]))


def _check_grid(optimizer_names: Sequence[str], widths: Sequence[int], batch_sizes: Sequence[int]) -> list[str]:
    unknown = [n for n in optimizer_names if n not in la.HAND_DESIGNED and n not in la.LEARNED]
    if unknown:
        raise ValueError(f"overhead_study: unknown optimizers {unknown}; known: {', '.join(known_optimizers())}")
    for what, values in (("widths", widths), ("batch_sizes", batch_sizes)):
        if not values or any(int(v) != v or v < 1 for v in values):
            raise ValueError(f"overhead_study: {what} must be positive integers, got {list(values)}.")
    # SGD is the baseline of every ratio, so it is always measured, and first in each group of rows.
    return list(dict.fromkeys([BASELINE, *optimizer_names]))


def overhead_study(
    optimizer_names: Sequence[str],
    widths: Sequence[int],
    batch_sizes: Sequence[int],
    *,
    repeats: int = 15,
    warmup: int = 2,
    dataset: str = "digits",
    depth: int = 2,
    learning_rate: float = 1e-3,
    num_steps: int = 1000,
    seed: int = 0,
    clock: Clock = time.perf_counter,
    on_rows: Callable[[list[dict]], None] | None = None,
) -> list[dict]:
    """Step time relative to SGD and state memory of each optimizer on MLPs of each width and batch size.

    Args:
      optimizer_names: names of `known_optimizers()`; "sgd" is added (first) if missing.
      widths: hidden widths of the `depth`-layer MLP (`mlp_task`).
      batch_sizes: training batch sizes (at most the dataset's training examples: 1,437 for digits).
      repeats: interleaved timing rounds per (width, batch size), after `warmup` untimed calls.
      dataset: an image dataset of `lopt_tasks.datasets`; "fashion_mnist" is the paper's (needs its tfds files).
      learning_rate: of the hand-designed optimizers (it does not change their cost).
      num_steps: the planned run length optimizers are initialised with.
      seed: of the parameters, the learned optimizers' random meta-parameters and the timing order.
      clock: returns the current time in seconds (injectable for tests).
      on_rows: called with each (width, batch size)'s rows as soon as they are measured.

    Returns:
      One dict per (width, batch size, optimizer), in that nesting order, with the keys
      `ROW_FIELDS`: num_params (of the task), step_seconds (median), ratio_to_sgd
      (step_seconds / SGD's) and state_bytes_per_param.
    """
    names = _check_grid(optimizer_names, widths, batch_sizes)
    key = jax.random.PRNGKey(seed)
    optimizers = {name: make_optimizer(name, learning_rate=learning_rate, key=jax.random.fold_in(key, i))
                  for i, name in enumerate(names)}
    rows = []
    for width in widths:
        for batch_size in batch_sizes:
            task = mlp_task(int(width), int(batch_size), dataset=dataset, depth=depth)
            batch = jax.device_put(task.datasets["train"].batch(0, seed))
            calls, memory = {}, {}
            for name, optimizer in optimizers.items():
                calls[name], state, params = _step_call(task, optimizer, batch, key=key, num_steps=num_steps)
                memory[name] = state_bytes_per_param(state, params)
            num_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
            times = time_interleaved(calls, repeats=repeats, warmup=warmup, clock=clock, seed=seed)
            medians = {name: float(statistics.median(t)) for name, t in times.items()}
            group = [{
                "optimizer": name,
                "width": int(width),
                "batch_size": int(batch_size),
                "num_params": int(num_params),
                "step_seconds": medians[name],
                "ratio_to_sgd": medians[name] / medians[BASELINE],
                "state_bytes_per_param": float(memory[name]),
            } for name in names]
            rows.extend(group)
            if on_rows is not None:
                on_rows(group)
    return rows


def save(path: str, rows: list[dict], config: dict) -> None:
    """Writes the study's rows and configuration to `path` as JSON (atomically)."""
    document = {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": config,
        "versions": schema.package_versions(),
        "rows": rows,
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    with os.fdopen(fd, "w") as f:
        json.dump(document, f, indent=1)
    os.replace(tmp, path)


def load(path: str) -> dict:
    """The document `save` wrote: {"schema", "created", "config", "versions", "rows"}."""
    with open(path) as f:
        try:
            document = json.load(f)
        except json.JSONDecodeError as e:
            raise schema.ResultsError(f"{path}: not JSON ({e}).") from None
    if document.get("schema") != SCHEMA:
        raise schema.ResultsError(f"{path}: schema {document.get('schema')!r}, expected {SCHEMA!r}.")
    rows = document.get("rows")
    if not isinstance(rows, list) or any(not isinstance(r, dict) or set(ROW_FIELDS) - set(r) for r in rows):
        raise schema.ResultsError(f"{path}: 'rows' must be a list of dicts with the fields {', '.join(ROW_FIELDS)}.")
    return document
