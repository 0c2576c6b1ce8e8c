"""Curricula: estimator settings that change with the meta-training step (VeLO §3.3).

VeLO starts meta-training on short unrolls and small tasks and lengthens and
grows them as it goes. A `Curriculum` is a list of stages, each a first step
and the estimator fields it sets (e.g. `inner_length`, `family`); the
estimator of step s is the base estimator with every stage whose start ≤ s
applied in order. It is a pure function of the step, so it needs no state in
checkpoints.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class Curriculum:
    """Stages ((start_step, {field: value}), ...), sorted by start step."""

    stages: tuple[tuple[int, Mapping[str, Any]], ...] = ()

    def __post_init__(self):
        starts = [start for start, _ in self.stages]
        if starts != sorted(starts):
            raise ValueError(f"Curriculum: stages must be sorted by start step, got starts {starts}.")

    def settings(self, step: int) -> dict[str, Any]:
        """The fields set at meta-training step `step`."""
        out: dict[str, Any] = {}
        for start, fields in self.stages:
            if start <= step:
                out.update(fields)
        return out

    def apply(self, estimator: Any, step: int) -> Any:
        fields = self.settings(step)
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(estimator) if f.init})
        if unknown:
            raise ValueError(f"Curriculum sets {unknown}, which {type(estimator).__name__} does not have.")
        return dataclasses.replace(estimator, **fields) if fields else estimator


def geometric_lengths(start: int, end: int, num_stages: int, every: int, multiple: int = 1) -> Curriculum:
    """`inner_length` growing geometrically from `start` to `end` in `num_stages` stages, one every `every` steps.

    Lengths are rounded to multiples of `multiple` (the truncation length of
    truncated estimators).
    """
    if num_stages < 1:
        raise ValueError("geometric_lengths: num_stages must be at least 1.")
    ratio = (end / start) ** (1 / max(num_stages - 1, 1))
    stages = []
    for i in range(num_stages):
        length = max(multiple, int(round(start * ratio**i / multiple)) * multiple)
        stages.append((i * every, {"inner_length": length}))
    return Curriculum(tuple(stages))
