"""The training horizon as a contract: the run lengths a learned optimizer was meta-trained on and evaluated at.

A learned optimizer is shaped by the runs it was meta-trained on (many read
the fraction of training done, t/T), and what is known of it is what was
measured at the horizons it was evaluated at; far outside them it may behave
very differently (VeLO's users found its `num_training_steps` must be right,
and tuned per problem). Every registry entry records both:

- meta-trained: `inner_length` (runs of one length) or `training.inner_lengths`
  [shortest, longest] (lopt's `--min_inner_length`); for weights meta-trained
  by others, `provenance.meta_training_horizons` [shortest, longest];
- evaluated: `evaluations[*].num_steps`, or the `config.num_steps` of its
  results files (`results.json`, `results_T<steps>.json`);
- failed: the evaluated horizons at which the optimizer diverged on at least
  half of the tasks (`evaluations[*].tasks[*].diverged_seeds`, recorded by
  `tools/register_pretrained` with `lopt_eval.scorecard`'s definition: a
  seed's final loss not finite or above its first step's).

The range known is [shortest, longest] of the evaluated horizons that did not
fail (the meta-training range when nothing was evaluated). `check` holds an
asked-for horizon T to it: T more than `LONGER` times the longest or less than
1/`SHORTER` of the shortest warns (`HorizonWarning`, once per optimizer and
horizon), naming the optimizer, T and the range known, and so does a T at or
beyond a failed horizon on that side (Celo, meta-trained on runs of up to
2,000 steps, diverges at 10,000: runs of 10,000 steps are not accepted, even
though 5x its longest sound horizon would be more). When every evaluated
horizon failed, no run length is accepted. `strict=True` raises `ValueError`
instead of warning.
"""

import glob
import json
import os
import warnings
from typing import NamedTuple

from lopt_pretrained import registry, theta_dir

#: A run longer than LONGER x the longest evaluated horizon is outside the contract ...
LONGER = 5
#: ... and so is one shorter than 1/SHORTER of the shortest.
SHORTER = 10

# (optimizer, horizon) pairs already warned about: a training script that builds its optimizer in a loop
# (one per seed, say) hears it once.
_WARNED: set[tuple[str, int]] = set()


class HorizonWarning(UserWarning):
    """A run length far outside the horizons a learned optimizer was meta-trained and evaluated on."""


class Horizons(NamedTuple):
    """The run lengths (inner steps) a learned optimizer was meta-trained on and evaluated at."""

    meta_trained: tuple[int, int] | None  # (shortest, longest); None if not recorded
    evaluated: tuple[int, ...]  # sorted; empty if never evaluated
    failed: tuple[int, ...] = ()  # sorted evaluated horizons where it diverged on at least half of the tasks

    @property
    def sound(self) -> tuple[int, ...]:
        """The evaluated horizons at which it did not fail."""
        return tuple(h for h in self.evaluated if h not in self.failed)

    @property
    def known(self) -> tuple[int, int] | None:
        """(shortest, longest) horizon known to work: the sound evaluated range, else the meta-training one when
        nothing was evaluated, else None (nothing recorded, or every evaluated horizon failed)."""
        if self.sound:
            return self.sound[0], self.sound[-1]
        return None if self.evaluated else self.meta_trained

    def accepted(self) -> tuple[int, int] | None:
        """(shortest, longest) run length the contract accepts; None when it accepts none (see `known`)."""
        if self.known is None:
            return None
        shortest, longest = self.known
        low, high = -(-shortest // SHORTER), LONGER * longest
        low = max([low] + [h + 1 for h in self.failed if h < shortest])
        high = min([high] + [h - 1 for h in self.failed if h > longest])
        return low, high

    def accepts(self, num_training_steps: int) -> bool:
        """Whether a run of `num_training_steps` is within the contract (True when nothing is recorded)."""
        if self.known is None:
            return not self.evaluated and self.meta_trained is None
        low, high = self.accepted()
        return low <= num_training_steps <= high

    def describe(self) -> str:
        """E.g. 'meta-trained on runs of 100-2,000 steps, evaluated at 200 and 1,000 steps'."""
        if self.meta_trained is None:
            trained = "meta-training horizon not recorded"
        elif self.meta_trained[0] == self.meta_trained[1]:
            trained = f"meta-trained on {self.meta_trained[0]:,}-step runs"
        else:
            trained = f"meta-trained on runs of {self.meta_trained[0]:,}-{self.meta_trained[1]:,} steps"
        if not self.evaluated:
            return f"{trained}, not evaluated"
        failed = f" (diverged at {_listed(self.failed)})" if self.failed else ""
        return f"{trained}, evaluated at {_listed(self.evaluated)} steps{failed}"


def _listed(horizons) -> str:
    steps = [f"{h:,}" for h in horizons]
    return steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + " and " + steps[-1]


def _failed(evaluation: dict) -> bool:
    """Whether an `evaluations[*]` record diverged on at least half of its tasks (False when not recorded)."""
    tasks = evaluation.get("tasks") or []
    recorded = [t["diverged_seeds"] for t in tasks if t.get("diverged_seeds") is not None]
    return bool(recorded) and 2 * sum(1 for n in recorded if n > 0) >= len(recorded)


def _pair(value) -> tuple[int, int] | None:
    if not value:
        return None
    lengths = [int(v) for v in value if v]
    return (min(lengths), max(lengths)) if lengths else None


def from_info(info: dict, directory: str | None = None) -> Horizons:
    """The horizons an entry's metadata (`info(name)`, entry.json) records; `directory` holds its results files."""
    training = info.get("training") or {}
    provenance = info.get("provenance") or {}
    meta_trained = (_pair(training.get("inner_lengths")) or _pair(provenance.get("meta_training_horizons"))
                    or _pair([info.get("inner_length")]))
    failed = set()
    if info.get("evaluations"):
        evaluated = {int(e["num_steps"]) for e in info["evaluations"] if e.get("num_steps")}
        failed = {int(e["num_steps"]) for e in info["evaluations"] if e.get("num_steps") and _failed(e)}
    else:
        evaluated = set()
        for path in (sorted(glob.glob(os.path.join(directory, "results*.json"))) if directory else []):
            with open(path) as f:
                steps = json.load(f).get("config", {}).get("num_steps")
            if steps:
                evaluated.add(int(steps))
        # An entry evaluated at one horizon keeps that evaluation's record in `evaluation`.
        if len(evaluated) == 1 and _failed(info.get("evaluation") or {}):
            failed = set(evaluated)
    return Horizons(meta_trained, tuple(sorted(evaluated)), tuple(sorted(failed)))


def horizons(name_or_path: str | os.PathLike) -> Horizons:
    """The horizons recorded for a registry entry (by name or directory) or a meta-training θ directory.

        lopt_pretrained.horizons("celo")
        # Horizons(meta_trained=(100, 2000), evaluated=(200, 1000, 10000), failed=(10000,))
    """
    path = os.fspath(name_or_path)
    if os.sep not in path and path in registry.names():
        return from_info(registry.info(path), os.path.join(registry.registry_dir(), path))
    if os.path.isfile(os.path.join(path, registry.ENTRY_FILE)):
        return from_info(registry.entry_info(path), path)
    saved = theta_dir.theta_directory(path)
    if saved is not None:
        return from_info(theta_dir.load_theta_dir(saved).info)
    return from_info(registry.info(path), None)  # raises UnknownPretrainedError, listing the names


def check(label: str, known: Horizons | None, num_training_steps: int, *, strict: bool = False) -> None:
    """Warns (once per `label` and horizon) or, with `strict`, raises if `num_training_steps` breaks the contract.

    `known=None` means the optimizer comes without a record (a bare weights
    file): nothing to hold it to. A record that holds no horizon at all is
    itself a breach: it warns (or raises) saying so.

    Raises:
      ValueError: with `strict`, a run outside the range known, or no range known.
    """
    if known is None:
        return
    if known.known is None and not known.evaluated:
        message = (f"learned optimizer {label!r} records no meta-training or evaluation horizon, so "
                   f"num_training_steps={num_training_steps:,} cannot be checked against what it was trained for.")
    elif known.accepts(num_training_steps):
        return
    elif known.known is None:
        message = (f"learned optimizer {label!r} ({known.describe()}) asked for a {num_training_steps:,}-step run: "
                   "it diverged on at least half of the tasks at every horizon it was evaluated at, so no run "
                   "length is known to work.")
    else:
        shortest, longest = known.known
        low, high = known.accepted()
        what = "evaluated" if known.evaluated else "meta-training"
        longer = num_training_steps > high
        beyond = [h for h in known.failed if (h <= num_training_steps if longer else h >= num_training_steps)]
        if beyond:
            nearest = min(beyond) if longer else max(beyond)
            side = "at or beyond" if longer else "at or below"
            how = f"{side} the {nearest:,} steps where it diverged on at least half of the tasks"
        elif longer:
            how = f"more than {LONGER}x the longest {what} horizon"
        else:
            how = f"less than 1/{SHORTER} of the shortest {what} horizon"
        span = f"{shortest:,}" if shortest == longest else f"{shortest:,}-{longest:,}"
        message = (
            f"learned optimizer {label!r} ({known.describe()}) asked for a {num_training_steps:,}-step run, "
            f"{how}: the range known is {span} steps (runs of {low:,}-{high:,} steps pass). "
            "Far outside it a learned optimizer can behave very differently; evaluate it at this horizon first "
            f"(tools/evaluate --steps={num_training_steps}).")
    if strict:
        raise ValueError(message)
    if (label, num_training_steps) not in _WARNED:
        _WARNED.add((label, num_training_steps))
        warnings.warn(message + " strict=True makes this an error.", HorizonWarning, stacklevel=3)
