"""An evaluation: a candidate optimizer against tuned baselines on several tasks.

For every task: the candidate trains for T steps on every seed; each
baseline is tuned on the same seeds and data — hand-designed optimizers by
`lr_sweep`, NAdamW by `nadamw_search` — with the configuration selected for
horizon T, and the learning-rate sweeps run `baseline_multiple`·T steps so
speedups up to that multiple can be measured. The summary holds the final
training loss (mean over seeds of the loss averaged over the last 5% of the
T steps) of the candidate and of each selected baseline, and the candidate's
speedup over the *first* baseline (VeLO §4.1: how many times longer the
baseline, with the best learning rate for reaching the candidate's final
loss, trains to reach it; beyond the multiple it is a lower bound).
"""

import dataclasses
from collections.abc import Callable

import jax
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np

from lopt_eval import baseline_cache, baselines, overhead, runner, speedup
from lopt_eval.progress import Progress
from lopt_eval.schema import Results, Run, Summary, package_versions


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    num_steps: int
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    baselines: tuple[str, ...] = ("adam",)
    baseline_multiple: int = 4
    nadamw_trials: int = 1000
    valid_every: int = 0
    scan_unroll: int = 1  # runner.train's: unroll the step loop (conv nets on CPU run far faster unrolled)
    task_scan_unroll: tuple[tuple[str, int], ...] = ()  # (task name, unroll) pairs overriding scan_unroll

    def unroll(self, task_name: str) -> int:
        """The step-loop unroll for `task_name` (the same numbers at any unroll; only speed differs)."""
        return dict(self.task_scan_unroll).get(task_name, self.scan_unroll)


def state_bytes(task: lt.Task, make_optimizer: Callable[[], la.Optimizer], num_steps: int) -> float:
    """Optimizer-state bytes per parameter on `task`, measured from an initialised state."""
    params = task.init(jax.random.PRNGKey(0))
    state = make_optimizer().init(params, num_steps=num_steps, key=jax.random.PRNGKey(0))
    return overhead.state_bytes_per_param(state, params)


def final_losses(train_loss: np.ndarray, steps: int) -> np.ndarray:
    """Per seed, the loss averaged over the last 5% of the first `steps` steps."""
    window = max(1, steps // 20)
    return np.mean(train_loss[..., steps - window:steps], axis=-1)


def final_loss(train_loss: np.ndarray, steps: int) -> tuple[float, float]:
    """(mean, std) over seeds of `final_losses`."""
    per_seed = final_losses(train_loss, steps)
    return float(np.mean(per_seed)), float(np.std(per_seed))


def evaluate(
    candidate_name: str,
    make_candidate: Callable[[], la.Optimizer],
    tasks: dict[str, lt.Task],
    config: EvaluationConfig,
    *,
    log: Callable[[str], None] = lambda message: None,
    baseline_cache_dir: str | None = None,
    stored_baselines_only: bool = False,
    progress_every: float = 10.0,
) -> Results:
    """Runs the evaluation; `tasks` maps the names to report to tasks.

    `log` receives a line as each phase (the candidate's training on a task,
    a baseline's tuning) starts, then progress lines with an ETA at most every
    `progress_every` seconds while it runs (`lopt_eval.progress`).

    With `baseline_cache_dir`, each tuned baseline is read from that
    directory if it was computed before for the same task name, horizon,
    seeds, search and package versions (`baseline_cache`), and stored there
    otherwise: the task names must then identify the tasks (task specs such
    as "family:mlp:1" do). With `stored_baselines_only`, a task missing any
    of its baselines from that directory is skipped rather than tuned (a
    suite's costliest sweeps need not block evaluating a candidate on the
    rest); the skipped tasks are logged and listed in the results' config
    under "skipped_tasks", so a summary never silently covers fewer tasks.
    """
    if stored_baselines_only and not baseline_cache_dir:
        raise ValueError("stored_baselines_only needs baseline_cache_dir (where the baselines are stored).")
    runs, summary, skipped = [], [], {}
    seeds = list(config.seeds)
    steps = config.num_steps
    for name, task in tasks.items():
        if stored_baselines_only:
            missing = [b for b in config.baselines
                       if baseline_cache.stored_path(baseline_cache_dir, _baseline_key(name, b, config)) is None]
            if missing:
                skipped[name] = f"no stored {', '.join(missing)} baseline in {baseline_cache_dir}"
                log(f"{name}: skipped ({skipped[name]})")
                continue
        log(f"{name}: {candidate_name}, {len(seeds)} seeds x {steps} steps")
        unroll = config.unroll(name)
        curves = runner.train(task, lambda h: make_candidate(), steps, seeds, valid_every=config.valid_every,
                              scan_unroll=unroll,
                              progress=Progress(log, f"{name}: {candidate_name}", every=progress_every))
        candidate = Run(candidate_name, name, "candidate", {}, steps, seeds, curves.train_loss[0], curves.step_seconds,
                        curves.meta_loss[0], curves.valid_steps,
                        None if curves.valid_loss is None else curves.valid_loss[0])
        runs.append(candidate)
        mean, std = final_loss(candidate.train_loss, steps)
        first_baseline_trials = None
        entries = []
        for baseline in config.baselines:
            nadamw = baseline == "nadamw"
            length = steps if nadamw else steps * config.baseline_multiple
            key = _baseline_key(name, baseline, config)
            cached = baseline_cache.load_baseline(baseline_cache_dir, key) if baseline_cache_dir else None
            if cached is not None:
                log(f"{name}: {baseline} baseline from {baseline_cache.stored_path(baseline_cache_dir, key)}")
                best, trials = cached
            elif nadamw:
                log(f"{name}: nadamw random search, {config.nadamw_trials} trials x {steps} steps")
                best, trials = baselines.nadamw_search(
                    task, steps, seeds, num_trials=config.nadamw_trials, valid_every=config.valid_every,
                    scan_unroll=unroll, progress=Progress(log, f"{name}: nadamw random search", every=progress_every))
            else:
                log(f"{name}: {baseline} learning-rate sweep, {len(baselines.LEARNING_RATES)} rates x {length} steps")
                best, trials = baselines.lr_sweep(
                    task, baseline, length, seeds, valid_every=config.valid_every, selection_steps=steps,
                    scan_unroll=unroll,
                    progress=Progress(log, f"{name}: {baseline} learning-rate sweep", every=progress_every))
            if cached is None and baseline_cache_dir:
                baseline_cache.store_baseline(baseline_cache_dir, key, best, trials)
            for trial in trials:
                trial.task = name
            runs.extend(trials)
            b_mean, b_std = final_loss(best.train_loss, steps)
            hp = best.hyperparameters
            make_baseline = (lambda hp=hp: la.nadamw(**hp)) if baseline == "nadamw" else (
                lambda b=baseline, hp=hp: la.make_optimizer(b, **hp))
            entries.append(Summary(baseline, name, b_mean, b_std, None, best.step_seconds,
                                   state_bytes(task, make_baseline, steps)))
            if first_baseline_trials is None:
                first_baseline_trials = (baseline, trials)
        result = None
        if first_baseline_trials is not None:
            baseline, trials = first_baseline_trials
            stacked = np.stack([t.train_loss for t in trials])  # [trials, seeds, steps]
            result = speedup.speedup(candidate.train_loss, stacked).to_json(baseline)
        summary.append(Summary(candidate_name, name, mean, std, result, candidate.step_seconds,
                               state_bytes(task, make_candidate, steps)))
        summary.extend(entries)
    extra = {"skipped_tasks": skipped} if skipped else {}
    return Results(config=dataclasses.asdict(config) | {"candidate": candidate_name, "tasks": list(tasks)} | extra,
                   runs=runs, summary=summary, versions=package_versions())


def _baseline_key(name: str, baseline: str, config: EvaluationConfig) -> dict:
    """The baseline cache key of `baseline` tuned on task `name` under `config`."""
    nadamw = baseline == "nadamw"
    return baseline_cache.baseline_key(
        name, baseline, config.num_steps, list(config.seeds),
        length=None if nadamw else config.num_steps * config.baseline_multiple,
        trials=config.nadamw_trials if nadamw else None, valid_every=config.valid_every)
