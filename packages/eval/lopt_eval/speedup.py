"""VeLO's normalised metric: speedup over learning-rate-tuned Adam (VeLO §4.1.2, Fig. 1).

The candidate optimizer trains for T steps and ends at loss L. The speedup is
how many times longer the tuned baseline must train to reach L:

    speedup = S / T,   S = the first (interpolated) step at which the baseline reaches L.

A value of 2 means the baseline needs 2T steps for what the candidate does in
T; > 1 is better than the baseline. The precise recipe, applied identically to
both curves so that their noise and lag match:

1. Steps are counted from 1: the loss at index t of a curve (`schema.Run.
   train_loss`, the loss at the start of step t) comes from the (t+1)-th
   gradient evaluation, so it is plotted at step t+1 and a run of T entries
   ends at step T. Speedup is therefore a ratio of gradient evaluations, and
   a baseline run of k·T steps measures speedups up to exactly k.
2. Mean over seeds, step by step. A non-finite loss marks a diverged seed and
   makes the mean non-finite from there on: a loss reached by four seeds out
   of five is not reached by the optimizer.
3. Trailing moving average over the last w steps (fewer at the start, where
   fewer exist) to remove minibatch noise; a window touching a diverged step
   is diverged. Both curves lag by (w−1)/2 steps, so the lag nearly cancels.
4. L = the candidate's last smoothed value (its mean loss over steps T−w+1..T).
5. The baseline's running minimum (diverged steps ignored), so "first reaches
   L" is well defined and a baseline that diverges late keeps what it had
   reached. Given several baseline trials ([trials, seeds, steps]), the
   smoothed trial curves are first reduced by their step-wise minimum: the
   bottom envelope over learning rates, as the reference implementation
   builds its `speedup_over_adam` normaliser (google/learned_optimization,
   baselines/normalizers.py, which uses an EMA where we use a window).
6. S = the first step k+1 at which that running minimum m is ≤ L, linearly
   interpolated between steps k and k+1: S = k + (m[k−1] − L) / (m[k−1] − m[k]).

Outcomes that the baseline's run cannot pin down are reported as bounds:
"lower" when the baseline never reaches L within its B steps (speedup ≥ B/T)
and "upper" when the baseline is ≤ L already at step 1 (speedup ≤ 1/T: the
candidate ended no better than where the baseline starts). A candidate whose
L is not finite (diverged at the end) gets speedup 0 with no bound: it reached
no loss at all, it sorts to the bottom of the curve and counts as not faster,
as the reference maps non-finite speedups to 0.
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

DEFAULT_SMOOTHING_FRACTION = 0.05
BOUNDS = (None, "lower", "upper")


class SpeedupResult(NamedTuple):
    """A speedup and whether it is exact (bound None) or only a "lower" / "upper" bound."""

    value: float
    bound: str | None = None

    def to_json(self, baseline: str) -> dict:
        """The `speedup` field of a `schema.Summary`."""
        return {"value": float(self.value), "bound": self.bound, "baseline": baseline}


def _curves(loss, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(loss, np.float64)
    if x.ndim not in ndim or x.size == 0:
        shapes = " or ".join({2: "[seeds, steps]", 3: "[trials, seeds, steps]"}[n] for n in ndim)
        raise ValueError(f"{name}: shape {x.shape}, expected a non-empty {shapes} array.")
    return np.where(np.isfinite(x), x, np.nan)


def moving_average(curve: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last `window` entries of the last axis (fewer at the start); NaN propagates."""
    if window < 1:
        raise ValueError(f"smoothing window {window}, expected an integer >= 1.")
    # Summed window by window, not as a difference of prefix sums: a curve that reached 1e30 and came back would
    # leave nothing of its later values in prefix sums of that size (the difference cancels to 0, which made an
    # exploded run look like one that reached zero loss). NaNs are counted apart so they mark only their windows.
    num_steps = curve.shape[-1]
    total = np.zeros(curve.shape)
    count = np.zeros(num_steps)
    diverged = np.zeros(curve.shape, bool)
    finite = np.nan_to_num(curve, nan=0.0)
    for lag in range(min(window, num_steps)):
        total[..., lag:] += finite[..., :num_steps - lag]
        diverged[..., lag:] |= np.isnan(curve[..., :num_steps - lag])
        count[lag:] += 1
    return np.where(diverged, np.nan, total / count)


def smoothed_mean(loss, window: int) -> np.ndarray:
    """Steps 2–3 of the recipe: mean over seeds (axis −2), then the trailing moving average."""
    return moving_average(np.mean(loss, axis=-2), window)


def default_window(num_steps: int) -> int:
    """5% of the candidate's run, at least one step."""
    return max(1, round(DEFAULT_SMOOTHING_FRACTION * num_steps))


def speedup(candidate_loss, baseline_loss, *, smoothing: int | None = None) -> SpeedupResult:
    """How many times longer the baseline trains to reach the candidate's final loss (VeLO §4.1.2).

    Args:
      candidate_loss: [seeds, T] training loss at the start of each step; NaN
        (or ±inf) marks a diverged seed.
      baseline_loss: [seeds, B] for the tuned baseline's selected
        configuration, or [trials, seeds, B] for its bottom envelope over
        trials. B is usually a multiple k of T (the reference runs Adam for
        10× the candidate's steps) so that speedups up to k are exact.
      smoothing: moving-average window in steps for both curves;
        None = `default_window(T)`. Must not exceed T.

    Returns:
      SpeedupResult(S / T, None), or (B / T, "lower") if the baseline never
      reaches L, or (1 / T, "upper") if it is at or below L at step 1, or
      (0.0, None) if the candidate diverged. See the module docstring.
    """
    candidate = _curves(candidate_loss, "candidate_loss", (2,))
    baseline = _curves(baseline_loss, "baseline_loss", (2, 3))
    num_steps = candidate.shape[-1]
    window = default_window(num_steps) if smoothing is None else smoothing
    if not isinstance(window, (int, np.integer)) or not 1 <= window <= num_steps:
        raise ValueError(f"smoothing={smoothing!r}, expected an integer window in [1, {num_steps}] "
                         "(the candidate's number of steps).")
    target = smoothed_mean(candidate, window)[-1]
    if not np.isfinite(target):
        return SpeedupResult(0.0)
    reference = smoothed_mean(baseline, window)
    if reference.ndim == 2:
        reference = np.fmin.reduce(reference, axis=0)
    best = np.fmin.accumulate(reference)
    reached = np.flatnonzero(best <= target)
    if reached.size == 0:
        return SpeedupResult(best.size / num_steps, "lower")
    k = int(reached[0])
    if k == 0:
        return SpeedupResult(1.0 / num_steps, "upper")
    before = best[k - 1]
    # The index k entry is step k+1; before it the baseline had no finite loss, so no line to interpolate on.
    fraction = (before - target) / (before - best[k]) if np.isfinite(before) else 1.0
    return SpeedupResult((k + fraction) / num_steps)


class SortedSpeedups(NamedTuple):
    """One optimizer's speedups over tasks as VeLO Fig. 1 plots them.

    values[i] is the (i+1)-th largest speedup and fraction[i] = (i+1)/n the
    fraction of tasks on which the optimizer is at least that fast (exact
    for distinct values); bounds[i] is the matching bound, labels[i] the
    matching label if labels were given.
    """

    values: np.ndarray
    fraction: np.ndarray
    bounds: tuple
    labels: tuple
    fraction_above_one: float


def sorted_speedups(speedups: Sequence, labels: Sequence[str] | None = None) -> SortedSpeedups:
    """Sorts speedups (floats or SpeedupResults) descending and counts the fraction > 1.

    A bound counts by its value: a lower bound above 1 is certainly > 1, an
    upper bound is at most 1/T and never is; a lower bound ≤ 1 might be but
    is not counted.
    """
    results = [s if isinstance(s, SpeedupResult) else SpeedupResult(s) for s in speedups]
    if not results:
        raise ValueError("sorted_speedups: no speedups, expected at least one.")
    if labels is not None and len(labels) != len(results):
        raise ValueError(f"sorted_speedups: {len(labels)} labels for {len(results)} speedups, expected one each.")
    for i, r in enumerate(results):
        if r.value is None or not np.isfinite(r.value) or r.value < 0 or r.bound not in BOUNDS:
            raise ValueError(f"sorted_speedups: entry {i} is {r}, expected a finite value >= 0 and bound in {BOUNDS}.")
    values = np.array([float(r.value) for r in results])
    order = np.argsort(-values, kind="stable")
    n = len(results)
    return SortedSpeedups(
        values=values[order],
        fraction=np.arange(1, n + 1) / n,
        bounds=tuple(results[i].bound for i in order),
        labels=tuple(labels[i] for i in order) if labels is not None else (),
        fraction_above_one=float(np.mean(values > 1.0)),
    )
