"""Progress lines with an ETA for the long phases of an evaluation.

A phase (the candidate's training on a task, a baseline's learning-rate
sweep, a NAdamW search) reports `(done, total)` after each chunk of work
— `runner.train` after each compiled chunk of steps, whose losses it has just
read back anyway, so reporting adds no device synchronisation. `Progress`
turns those reports into at most one line every `every` seconds:

    digits_conv: adam learning-rate sweep: 35% in 1m02s, ETA 1m55s

The ETA extrapolates the pace since the first report, which leaves out the
compilation that the first chunk includes; at the first report only the
pace with the compilation is known, an upper bound: "ETA ≤3m10s". A phase
that takes `every` seconds or more ends with "<label>: done in 2m57s"; a
shorter one prints nothing.
"""

import time
from collections.abc import Callable


def format_seconds(seconds: float) -> str:
    """`seconds` as "42s", "3m05s" or "2h07m"; "?" if unknown (NaN or infinite)."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def eta_seconds(done: float, total: float, elapsed: float, since: tuple[float, float] | None = None) -> float:
    """Seconds left for `total − done` units at the pace since `since` = (done, elapsed) then.

    At the pace since the start if nothing was done since `since` (or it is
    None); NaN when nothing was done at all.
    """
    done0, elapsed0 = since if since is not None and done > since[0] else (0.0, 0.0)
    if done <= done0 or elapsed <= elapsed0:
        return float("nan")
    return (total - done) * (elapsed - elapsed0) / (done - done0)


class Progress:
    """Reports of one phase, as `log` lines "<label>: 35% in 1m02s, ETA 1m55s" at most every `every` seconds.

    Call it with `(done, total)` in any unit (steps, configuration-steps);
    `every=0` writes a line for every report. `clock` is for tests.
    """

    def __init__(self, log: Callable[[str], None], label: str, *, every: float = 10.0,
                 clock: Callable[[], float] = time.perf_counter):
        self.log, self.label, self.every, self.clock = log, label, every, clock
        self.started = clock()
        self.first: tuple[float, float] | None = None  # (done, elapsed) at the first report
        self.last_line: float | None = None

    def __call__(self, done: float, total: float) -> None:
        elapsed = self.clock() - self.started
        if self.first is None:
            self.first = (done, elapsed)
        if done >= total:
            if self.last_line is not None or elapsed >= self.every:  # a short phase stays silent
                self.log(f"{self.label}: done in {format_seconds(elapsed)}")
            return
        if elapsed - (self.last_line if self.last_line is not None else 0.0) < self.every:
            return
        self.last_line = elapsed
        eta = format_seconds(eta_seconds(done, total, elapsed, self.first))
        if done <= self.first[0]:  # the pace so far includes the compilation: a bound
            eta = f"≤{eta}"
        self.log(f"{self.label}: {100 * done / total:.0f}% in {format_seconds(elapsed)}, ETA {eta}")
