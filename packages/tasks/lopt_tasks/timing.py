"""How long one training step of a task takes (VeLO §3.2: run-time estimates for rejection sampling).

`measure_step_time(task)` compiles one training step — the task's loss and
gradient (`lopt_tasks.training.loss_and_grad`, the first half of every lopt
training step) and a plain SGD update, the reference's default timing
optimizer (time_filter/timings.py) — runs it once to compile and warm up,
then `num_runs` more times, each timed to `block_until_ready`, and returns
the median in seconds. The median rather than the reference's mean: on a
shared CPU a few runs are delayed by other processes, and the median
ignores them. Each run starts from the same parameters and batch, so only
the compute is measured; the batch is loaded once, before timing. The
optimizer's half is SGD's, not that of `lopt_es.train_step` (the step
meta-training and evaluation run): this package depends on no optimizer
package, and what a sampler needs is the task's cost, to which SGD adds
the least.

`StepTimer` caches these measurements — in memory and, given a path, in a
JSON file — keyed by device, family name, the config's structure and its
values rounded to a few significant digits, so repeated queries (e.g. a
rejection sampler revisiting a structure) never re-measure. Its `measure`
function is injectable, so tests use a fake and nothing is timed.

The reference instead trains a neural network on ~10k measured configs to
predict the time of unseen ones (time_filter/time_model.py); measuring
directly and caching by config is exact, needs no training data, and is
affordable here because the sampled tasks are small.
"""

import dataclasses
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.base import Task, TaskConfig, TaskFamily
from lopt_tasks.training import loss_and_grad

Clock = Callable[[], float]


def _sgd_step(task: Task):
    def step(params, model_state, key, batch, learning_rate):
        loss, model_state, grads = loss_and_grad(task, params, model_state, key, batch)
        params = jax.tree_util.tree_map(lambda p, g: (p - learning_rate * g).astype(p.dtype), params, grads)
        return params, model_state, loss

    return jax.jit(step)


def measure_step_time(
    task: Task,
    *,
    num_runs: int = 10,
    key: jax.Array | None = None,
    split: str = "train",
    clock: Clock = time.perf_counter,
) -> float:
    """Median seconds of one jitted training step (value_and_grad + SGD) of `task`.

    Args:
      task: the task; its `split` batch 0 (seed 0) is the step's batch.
      num_runs: timed runs after one compile-and-warm-up run.
      key: for init and the loss; `PRNGKey(0)` if None.
      split: which of `task.datasets` to draw the batch from.
      clock: returns the current time in seconds (injectable for tests).
    """
    if num_runs < 1:
        raise ValueError(f"measure_step_time: num_runs must be >= 1, got {num_runs}.")
    datasets = task.datasets
    if split not in datasets:
        raise ValueError(f"measure_step_time: task {task.name!r} has no split {split!r}; it has {sorted(datasets)}.")
    key = jax.random.PRNGKey(0) if key is None else key
    init_key, loss_key = jax.random.split(key)
    params, model_state = jax.jit(task.init_with_state)(init_key)
    batch = jax.device_put(datasets[split].batch(0, 0))
    step = _sgd_step(task)
    # A traced learning rate, so the compiler cannot fold the update away.
    learning_rate = jnp.asarray(1e-4, jnp.float32)
    jax.block_until_ready(step(params, model_state, loss_key, batch, learning_rate))
    times = []
    for _ in range(num_runs):
        start = clock()
        jax.block_until_ready(step(params, model_state, loss_key, batch, learning_rate))
        times.append(clock() - start)
    return float(statistics.median(times))


def default_device() -> str:
    """The kind of the first JAX device, e.g. "cpu" (measured times are only comparable on one kind)."""
    device = jax.devices()[0]
    return f"{device.platform}:{device.device_kind}"


def config_key(family: TaskFamily, cfg: TaskConfig, *, digits: int = 3, device: str = "") -> str:
    """A readable, stable string for (device, family, structure, values rounded to `digits` significant digits)."""
    values = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(cfg.values)[0]:
        array = np.asarray(leaf)
        if np.issubdtype(array.dtype, np.floating):
            numbers = ",".join(f"{x:.{digits}g}" for x in array.astype(np.float64).ravel())
        else:
            numbers = ",".join(str(x) for x in array.ravel())
        values.append(f"{jax.tree_util.keystr(path)}{list(array.shape)}=[{numbers}]")
    return f"{device}|{family.name}|{cfg.structure!r}|{';'.join(values)}"


@dataclasses.dataclass(eq=False)
class StepTimer:
    """Step times of a family's configs, measured once per config key and cached.

    Compared and hashed by identity (it holds a mutable cache), so a
    frozen family that holds it stays hashable.

    Attributes:
      measure: task → seconds; `measure_step_time` by default (a fake in tests).
      path: a JSON file to keep measurements across processes (read on first
        use, rewritten after each new measurement); None keeps them in memory.
      digits: significant digits of the values in the cache key.
      device: part of the key; the current device kind by default.
    """

    measure: Callable[[Task], float] = measure_step_time
    path: str | None = None
    digits: int = 3
    device: str | None = None
    _cache: dict[str, float] | None = dataclasses.field(default=None, init=False, repr=False)
    measurements: int = dataclasses.field(default=0, init=False)

    def _load(self) -> dict[str, float]:
        if self._cache is None:
            self._cache = {}
            if self.path and os.path.exists(self.path):
                with open(self.path) as f:
                    self._cache.update(json.load(f))
        return self._cache

    def _save(self, cache: dict[str, float]) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        # Keep entries another process wrote meanwhile; replace atomically so readers never see half a file.
        if os.path.exists(self.path):
            with open(self.path) as f:
                cache = {**json.load(f), **cache}
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(cache, f, indent=0, sort_keys=True)
        os.replace(tmp, self.path)

    def key(self, family: TaskFamily, cfg: TaskConfig) -> str:
        return config_key(family, cfg, digits=self.digits, device=self.device or default_device())

    def __call__(self, family: TaskFamily, cfg: TaskConfig) -> float:
        """Seconds per training step of `family.task(cfg)`, measured on first request."""
        cache = self._load()
        key = self.key(family, cfg)
        if key not in cache:
            cache[key] = float(self.measure(family.task(cfg)))
            self.measurements += 1
            if self.path:
                self._save(cache)
        return cache[key]
