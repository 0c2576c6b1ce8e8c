"""Tuned hand-designed baselines (tradeoffs paper §3.2, App. F.2; VeLO §4.1).

- `lr_sweep`: a hand-designed optimizer at 15 learning rates, the half powers
  of ten from 1e-7 to 1 (`LEARNING_RATES`), every other hyperparameter at its
  default;
- `nadamw_search`: NAdamW with `num_trials` configurations drawn from App.
  F.2's search space (`lopt_architectures.sample_nadamw_hyperparameters`;
  the paper uses 1000).

Each configuration is trained on the same seeds and data (`runner.train`,
all configurations in one vmapped computation, in chunks of
`configs_per_call`), and the one with the lowest mean meta-loss over seeds
(`runner.meta_loss_at`: mean training loss clipped at the normalizer by
`lopt_es.MetaLoss`; a diverged configuration counts as +∞) is selected. With `selection_steps` the meta-loss is taken
over the first that many steps only: baselines that run longer than the
horizon they are compared at (to measure speedups) are still tuned for
that horizon. Every trial is kept in the results, so the selection can be
audited.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np

from lopt_eval import runner
from lopt_eval.runner import meta_loss_at
from lopt_eval.schema import Run

#: 1e-7, 10^-6.5, …, 10^-0.5, 1: 15 log-spaced learning rates.
LEARNING_RATES = tuple(float(10.0**e) for e in np.arange(-7.0, 0.01, 0.5))


def _select(meta_loss: np.ndarray) -> int:
    """Index of the configuration with the lowest mean meta-loss over seeds (NaN counts as +∞)."""
    scores = np.where(np.isfinite(meta_loss).all(axis=1), meta_loss.mean(axis=1), np.inf)
    if not np.isfinite(scores).any():
        return 0
    return int(np.argmin(scores))


def _runs(name: str, task: lt.Task, curves: runner.Curves, configs: list[dict], seeds: list[int],
          num_steps: int, best: int) -> list[Run]:
    out = []
    for k, config in enumerate(configs):
        out.append(Run(
            optimizer=name, task=task.name, role="baseline" if k == best else "trial", hyperparameters=config,
            num_steps=num_steps, seeds=list(seeds), train_loss=curves.train_loss[k], step_seconds=curves.step_seconds,
            meta_loss=curves.meta_loss[k], valid_steps=curves.valid_steps,
            valid_loss=None if curves.valid_loss is None else curves.valid_loss[k],
        ))
    return out


def _train_configs(task, make: Callable[[Any], la.Optimizer], hyperparameters: dict, num_steps, seeds,
                   valid_every, configs_per_call, scan_unroll=1, progress=None) -> runner.Curves:
    """`runner.train` over chunks of `configs_per_call` configurations; `progress(done, total)` counts
    configuration-steps over all chunks."""
    count = len(next(iter(hyperparameters.values())))
    parts = []
    for start in range(0, count, configs_per_call):
        chunk = {k: jnp.asarray(v[start:start + configs_per_call]) for k, v in hyperparameters.items()}
        size = len(next(iter(chunk.values())))
        report = None if progress is None else (
            lambda done, _, start=start, size=size: progress(start * num_steps + size * done, count * num_steps))
        parts.append(runner.train(task, make, num_steps, seeds, hyperparameters=chunk, valid_every=valid_every,
                                  scan_unroll=scan_unroll, progress=report))
    return runner.Curves(
        train_loss=np.concatenate([p.train_loss for p in parts]),
        meta_loss=np.concatenate([p.meta_loss for p in parts]),
        step_seconds=float(np.mean([p.step_seconds for p in parts])),
        valid_steps=parts[0].valid_steps,
        valid_loss=None if parts[0].valid_loss is None else np.concatenate([p.valid_loss for p in parts]),
    )


def lr_sweep(
    task: lt.Task,
    optimizer: str,
    num_steps: int,
    seeds: list[int],
    *,
    learning_rates: tuple[float, ...] = LEARNING_RATES,
    valid_every: int = 0,
    configs_per_call: int = 15,
    selection_steps: int | None = None,
    scan_unroll: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Run, list[Run]]:
    """Trains `optimizer` at every learning rate; returns (the selected run, all runs).

    `progress(done, total)` is called after each chunk of steps (see `runner.train`).
    """
    if optimizer not in la.HAND_DESIGNED:
        raise KeyError(f"lr_sweep: unknown optimizer {optimizer!r}; known: {', '.join(sorted(la.HAND_DESIGNED))}")
    curves = _train_configs(
        task, lambda h: la.make_optimizer(optimizer, learning_rate=h["learning_rate"]),
        {"learning_rate": np.asarray(learning_rates, np.float32)}, num_steps, seeds, valid_every, configs_per_call,
        scan_unroll, progress,
    )
    best = _select(meta_loss_at(curves.train_loss, float(task.normalizer), selection_steps))
    runs = _runs(optimizer, task, curves, [{"learning_rate": lr} for lr in learning_rates], seeds, num_steps, best)
    return runs[best], runs


def nadamw_search(
    task: lt.Task,
    num_steps: int,
    seeds: list[int],
    *,
    num_trials: int = 1000,
    key: jax.Array | None = None,
    valid_every: int = 0,
    configs_per_call: int = 50,
    selection_steps: int | None = None,
    scan_unroll: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Run, list[Run]]:
    """Random search over App. F.2's NAdamW space; returns (the selected run, all runs).

    `progress(done, total)` is called after each chunk of steps (see `runner.train`).
    """
    key = jax.random.PRNGKey(0) if key is None else key
    draws = jax.vmap(la.sample_nadamw_hyperparameters)(jax.random.split(key, num_trials))
    table = {k: np.asarray(v, np.float32) for k, v in draws._asdict().items()}
    curves = _train_configs(task, lambda h: la.nadamw(**h), table, num_steps, seeds, valid_every, configs_per_call,
                            scan_unroll, progress)
    best = _select(meta_loss_at(curves.train_loss, float(task.normalizer), selection_steps))
    configs = [{k: float(v[i]) for k, v in table.items()} for i in range(num_trials)]
    runs = _runs("nadamw", task, curves, configs, seeds, num_steps, best)
    return runs[best], runs
