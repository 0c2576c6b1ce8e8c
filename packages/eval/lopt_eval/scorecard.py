"""One summary of a candidate over a suite: wins, the IQM final-loss ratio with a bootstrap interval, speedups.

Per task, from the candidate's and the tuned baseline's per-seed final losses
(mean of the last 5% of T, `evaluation.final_loss`):

- a *win* is a final loss at least 2% lower than the baseline's
  (c ≤ b − 0.02·|b|, on the seed means) *and* outside the seeds' spread
  (c + sd_c < b − sd_b): a difference the seeds cannot explain;
- the *final-loss ratio* is c / b, or exp(c − b) when either mean is ≤ 0 (a
  loss that is a logarithm, such as a log-MSE autoencoder, whose ratio of the
  underlying quantities is that); < 1 is better; a diverged candidate
  (a non-finite mean) is +inf;
- a *diverged run* is a candidate seed whose final loss is not finite or is
  above its loss at the first step: a run that ended worse than it started
  has blown up even when its numbers stayed finite (losses of 1e18 are).

Over tasks: the interquartile mean (IQM: the mean of the middle 50% of the
sorted ratios, robust to a few extreme tasks; Agarwal et al. 2021) with a
percentile bootstrap interval over tasks, and the median VeLO speedup
(`speedup.py`; a lower bound counts as its value).
"""

import dataclasses
import math

import numpy as np

from lopt_eval.evaluation import final_loss, final_losses
from lopt_eval.schema import Results

#: Relative margin a win needs.
WIN_MARGIN = 0.02


@dataclasses.dataclass
class TaskScore:
    task: str
    candidate: float
    candidate_std: float
    baseline: float
    baseline_std: float
    ratio: float
    win: bool
    speedup: float | None
    diverged: int


@dataclasses.dataclass
class Scorecard:
    candidate: str
    baseline: str
    num_steps: int
    tasks: list[TaskScore]
    wins: int
    iqm_ratio: float
    iqm_interval: tuple[float, float]
    median_speedup: float | None
    diverged: int

    def line(self) -> str:
        lo, hi = self.iqm_interval
        speed = "n/a" if self.median_speedup is None else f"{self.median_speedup:.2f}x"
        return (f"{self.candidate} vs tuned {self.baseline} at T={self.num_steps}: wins {self.wins}/{len(self.tasks)}, "
                f"IQM final-loss ratio {self.iqm_ratio:.3f} [{lo:.3f}, {hi:.3f}], median speedup {speed}, "
                f"diverged runs {self.diverged}")


def is_win(c: float, c_std: float, b: float, b_std: float) -> bool:
    if not (math.isfinite(c) and math.isfinite(b)):
        return math.isfinite(c) and not math.isfinite(b)
    return c <= b - WIN_MARGIN * abs(b) and c + c_std < b - b_std


def final_loss_ratio(c: float, b: float) -> float:
    if not math.isfinite(c):
        return math.inf
    if not math.isfinite(b):
        return 0.0
    if c <= 0 or b <= 0:
        return math.exp(c - b)
    return c / b


def interquartile_mean(values) -> float:
    """Mean of the middle 50%: ⌊n/4⌋ values dropped at each end (all kept for n < 4)."""
    v = np.sort(np.asarray(values, np.float64))
    cut = len(v) // 4
    middle = v[cut:len(v) - cut]
    return float(np.mean(middle))


def bootstrap_interval(values, statistic=interquartile_mean, *, samples: int = 2000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `values` resampled with replacement."""
    v = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    stats = np.asarray([statistic(v[rng.integers(0, len(v), len(v))]) for _ in range(samples)])
    tail = (1 - level) / 2
    # No interpolation between order statistics: an infinite ratio (a diverged task) stays infinite.
    return float(np.quantile(stats, tail, method="lower")), float(np.quantile(stats, 1 - tail, method="higher"))


def diverged_seeds(train_loss: np.ndarray, steps: int) -> np.ndarray:
    """[seeds] bool: a seed's final loss (`final_losses`) is not finite or is above its first step's loss."""
    finals = final_losses(train_loss, steps)
    start = np.asarray(train_loss, np.float64)[..., 0]
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(finals) | (finals > start)


def scorecard(results: Results, *, baseline: str | None = None) -> Scorecard:
    """The scorecard of `results`' candidate against `baseline` (default: its first baseline)."""
    candidate = results.config.get("candidate")
    baseline = baseline or results.config.get("baselines", ["adam"])[0]
    steps = int(results.config["num_steps"])
    speedups = {s.task: s.speedup for s in results.summary if s.optimizer == candidate and s.speedup}
    scores = []
    for task in results.config.get("tasks", []):
        runs = {r.role: r for r in results.runs if r.task == task and r.role in ("candidate", "baseline")
                and r.optimizer in (candidate, baseline)}
        if "candidate" not in runs or "baseline" not in runs:
            continue
        per_seed = final_losses(runs["candidate"].train_loss, steps)
        c, c_std = float(np.mean(per_seed)), float(np.std(per_seed))
        b, b_std = final_loss(runs["baseline"].train_loss, steps)
        speed = speedups.get(task)
        scores.append(TaskScore(task, c, c_std, b, b_std, final_loss_ratio(c, b), is_win(c, c_std, b, b_std),
                                None if speed is None else float(speed["value"]),
                                int(np.sum(diverged_seeds(runs["candidate"].train_loss, steps)))))
    ratios = [s.ratio for s in scores]
    finite_speedups = [s.speedup for s in scores if s.speedup is not None]
    return Scorecard(
        candidate=candidate, baseline=baseline, num_steps=steps, tasks=scores, wins=sum(s.win for s in scores),
        iqm_ratio=interquartile_mean(ratios) if ratios else math.nan,
        iqm_interval=bootstrap_interval(ratios) if ratios else (math.nan, math.nan),
        median_speedup=float(np.median(finite_speedups)) if finite_speedups else None,
        diverged=sum(s.diverged for s in scores),
    )
