"""Rejection sampling of tasks by run time, so fast tasks are drawn more often (VeLO §3.2).

"Because tasks are sampled from a wide distribution, their run times vary
greatly, sometimes by more than 3 orders of magnitude. To lower the cost of
meta-training, we use rejection sampling based on the estimated training
time in order to meta-train on fast tasks more frequently than slow ones."

The rule (`AcceptanceRule`). A config drawn from the family's distribution
p, whose training step takes t seconds, is accepted with probability

    a(t) = min(1, (reference_time / t) ** power)   if t <= max_time,
    a(t) = 0                                       otherwise (and for NaN t).

Accepted configs are therefore distributed as

    q(cfg) = p(cfg) · a(t(cfg)) / Z,      Z = E_p[a(t)],

each try succeeds with probability Z, and the number of tries is geometric
with mean 1/Z; after `max_tries` failures (probability (1 − Z)^max_tries)
a `ValueError` says so.

Why power 1: meta-training spends compute ∝ q(cfg) · t(cfg) on a config. For
tasks slower than `reference_time` that is ∝ p(cfg) · reference_time: every
region of the task distribution gets the share of compute that p gives it,
instead of slow tasks taking most of it (which is what sampling from p
does when times span 3 orders of magnitude). Tasks faster than the
reference time are always accepted. power 0 with a finite `max_time` is the
reference's rule (time_filter/time_model.py `rejection_sample`: accept the
first config whose predicted time is below max_time, up to 512 tries),
i.e. p truncated to fast tasks; other powers interpolate.

`rejection_sample` draws whole configs; `TimeFilteredFamily` wraps a family
and rejects at the level of structures (the static part, which decides the
run time), so that `sample_batch` still gives n configs of one accepted
structure. Times come from any `time_fn(family, cfg) -> seconds`, normally a
caching `timing.StepTimer`.
"""

import dataclasses
import math
from collections.abc import Callable, Hashable
from typing import TypeVar

import jax
import numpy as np

from lopt_tasks.base import Task, TaskConfig, TaskFamily
from lopt_tasks.sampling import key_data, numpy_rng

TimeFn = Callable[[TaskFamily, TaskConfig], float]
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class AcceptanceRule:
    """a(t) = min(1, (reference_time / t) ** power) for t <= max_time, else 0. See the module docstring."""

    reference_time: float
    power: float = 1.0
    max_time: float = math.inf

    def __post_init__(self):
        if not self.reference_time > 0:
            raise ValueError(f"AcceptanceRule: reference_time must be > 0 seconds, got {self.reference_time}.")
        if not self.power >= 0:
            raise ValueError(f"AcceptanceRule: power must be >= 0, got {self.power}.")

    def probability(self, seconds: float) -> float:
        """The probability of accepting a config whose step takes `seconds`."""
        if not seconds <= self.max_time:  # also rejects NaN (a config that failed to run)
            return 0.0
        if seconds <= 0:
            return 1.0
        return min(1.0, (self.reference_time / seconds) ** self.power)


def _rejection_loop(
    draw: Callable[[jax.Array], T],
    seconds_of: Callable[[T], float],
    rule: AcceptanceRule,
    key: jax.Array,
    max_tries: int,
    what: str,
) -> T:
    if max_tries < 1:
        raise ValueError(f"{what}: max_tries must be >= 1, got {max_tries}.")
    draw_key, accept_key = jax.random.split(key)
    uniforms = numpy_rng(accept_key).uniform(size=max_tries)
    # All candidate keys in one call, as host arrays: a device dispatch per try would dominate the cost.
    draw_keys = np.asarray(key_data(jax.random.split(draw_key, max_tries)))
    seen = []
    for i in range(max_tries):
        candidate = draw(draw_keys[i])
        seconds = seconds_of(candidate)
        seen.append(seconds)
        if uniforms[i] < rule.probability(seconds):
            return candidate
    finite = np.asarray([s for s in seen if np.isfinite(s)])
    summary = (
        f"step times seen: min {finite.min():.3g} s, median {np.median(finite):.3g} s, max {finite.max():.3g} s"
        if finite.size
        else "no finite step time was seen"
    )
    raise ValueError(
        f"{what}: nothing accepted in {max_tries} tries under {rule}; {summary}. "
        "Raise reference_time or max_time, lower power, or allow more tries."
    )


def rejection_sample(
    family: TaskFamily,
    key: jax.Array,
    time_fn: TimeFn,
    rule: AcceptanceRule,
    max_tries: int = 512,
) -> TaskConfig:
    """A config of `family` drawn from q(cfg) ∝ p(cfg) · rule.probability(time_fn(family, cfg)).

    Try i draws `family.sample(split(k1, max_tries)[i])` (as raw uint32 key
    data) and accepts it if the i-th uniform of a generator seeded by k2 is
    below the acceptance probability (k1, k2 = split(key)): the result is a
    pure function of the key and the times.
    """
    return _rejection_loop(
        family.sample, lambda cfg: time_fn(family, cfg), rule, key, max_tries, f"rejection_sample({family.name!r})"
    )


@dataclasses.dataclass(frozen=True)
class TimeFilteredFamily(TaskFamily):
    """`family` with structures rejection-sampled by the step time of the task they describe.

    The time of a structure is `time_fn` of the config with that structure
    and the values `family.sample_values(PRNGKey(0), structure)` — values
    (init scales, dropout rates, ...) do not change a step's cost, and one
    canonical config per structure lets a caching timer measure each
    structure once. Values are then sampled as usual.
    """

    family: TaskFamily
    time_fn: TimeFn
    rule: AcceptanceRule
    max_tries: int = 512

    @property
    def name(self) -> str:
        return f"time_filtered_{self.family.name}"

    def canonical_config(self, structure: Hashable) -> TaskConfig:
        """The config whose step time stands for `structure`."""
        return TaskConfig(structure, self.family.sample_values(jax.random.PRNGKey(0), structure))

    def structure_time(self, structure: Hashable) -> float:
        return self.time_fn(self.family, self.canonical_config(structure))

    def sample_structure(self, key: jax.Array) -> Hashable:
        return _rejection_loop(
            self.family.sample_structure, self.structure_time, self.rule, key, self.max_tries, self.name
        )

    def sample_values(self, key: jax.Array, structure: Hashable) -> dict:
        return self.family.sample_values(key, structure)

    def task(self, cfg: TaskConfig) -> Task:
        return self.family.task(cfg)
