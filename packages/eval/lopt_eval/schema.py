"""The results file every evaluation writes, and that plots and the README read.

One JSON document (schema "lopt-eval/1"):

    {
      "schema": "lopt-eval/1",
      "created": "2026-11-23T12:00:00Z",
      "config": {...},                 # what was run: flags, tasks, seeds, steps, baselines
      "versions": {"lopt_eval": "0.1.0", "jax": "0.10.2", ...},
      "runs": [Run, ...],              # one per (optimizer, task, hyperparameters)
      "summary": [Summary, ...]        # one per (optimizer, task) reported
    }

A Run holds per-seed curves:

    {"optimizer": "adam", "task": "digits_mlp", "role": "baseline",
     "hyperparameters": {"learning_rate": 0.001}, "num_steps": 1000, "seeds": [0, 1, 2],
     "train_loss": [[...], ...],          # [seed][step]: loss at the start of each step
     "valid_steps": [0, 100, ...], "valid_loss": [[...], ...] | null,
     "step_seconds": 0.0012,              # median wall time of one training step
     "meta_loss": [...]}                  # [seed]: mean training loss clipped at the normalizer

`role` is "candidate" (the optimizer being evaluated), "baseline" (the
selected configuration of a tuned baseline) or "trial" (one configuration
of a baseline's search). A Summary:

    {"optimizer": ..., "task": ..., "final_loss_mean": ..., "final_loss_std": ...,
     "speedup": {"value": 1.7, "bound": null | "lower" | "upper", "baseline": "adam"} | null,
     "step_seconds": 0.0012, "state_bytes_per_param": 8.0}

(`step_seconds` and `state_bytes_per_param` are optional: the cost axes of
the loss-vs-time and loss-vs-memory Pareto plots.)

Non-finite numbers (a diverged run) are written as null and read back as NaN.
"""

import dataclasses
import datetime
import gzip
import json
import math
import os
import tempfile
from importlib import metadata
from typing import Any

import numpy as np

SCHEMA = "lopt-eval/1"
ROLES = ("candidate", "baseline", "trial")


class ResultsError(ValueError):
    """A results file that does not follow the schema."""


@dataclasses.dataclass
class Run:
    optimizer: str
    task: str
    role: str
    hyperparameters: dict
    num_steps: int
    seeds: list
    train_loss: np.ndarray  # [seeds, steps]
    step_seconds: float
    meta_loss: np.ndarray  # [seeds]
    valid_steps: list | None = None
    valid_loss: np.ndarray | None = None  # [seeds, len(valid_steps)]

    def __post_init__(self):
        if self.role not in ROLES:
            raise ResultsError(f"run {self.optimizer!r} on {self.task!r}: role {self.role!r}, expected one of {ROLES}.")
        self.train_loss = np.asarray(self.train_loss, np.float64)
        self.meta_loss = np.asarray(self.meta_loss, np.float64)
        if self.train_loss.shape != (len(self.seeds), self.num_steps):
            raise ResultsError(
                f"run {self.optimizer!r} on {self.task!r}: train_loss has shape {self.train_loss.shape}, "
                f"expected ({len(self.seeds)} seeds, {self.num_steps} steps)."
            )
        if self.valid_loss is not None:
            self.valid_loss = np.asarray(self.valid_loss, np.float64)


@dataclasses.dataclass
class Summary:
    optimizer: str
    task: str
    final_loss_mean: float
    final_loss_std: float
    speedup: dict | None = None
    step_seconds: float | None = None  # wall time of one training step (the tradeoffs paper's time axis)
    state_bytes_per_param: float | None = None  # optimizer-state memory (its memory axis)


@dataclasses.dataclass
class Results:
    config: dict
    runs: list[Run]
    summary: list[Summary]
    versions: dict = dataclasses.field(default_factory=dict)
    created: str = ""


def package_versions() -> dict:
    """Versions of the packages that produced a result."""
    out = {}
    for name in ("lopt-eval", "lopt-es", "lopt-architectures", "lopt-tasks", "lopt-features", "jax", "jaxlib",
                 "optax", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = _source_version(name)
    return out


def _source_version(name: str) -> str | None:
    """The VERSION file of a lopt package imported from source (not pip-installed)."""
    if not name.startswith("lopt-"):
        return None
    module = "lopt_" + name[len("lopt-"):]
    try:
        from importlib import resources

        return resources.files(module).joinpath("VERSION").read_text().strip()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _floats(x: Any) -> np.ndarray:
    return np.asarray([[np.nan if v is None else v for v in row] for row in x] if x and isinstance(x[0], list)
                      else [np.nan if v is None else v for v in x], np.float64)


def to_json(results: Results) -> dict:
    return {
        "schema": SCHEMA,
        "created": results.created or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": _jsonable(results.config),
        "versions": _jsonable(results.versions or package_versions()),
        "runs": [_jsonable(dataclasses.asdict(r)) for r in results.runs],
        "summary": [_jsonable(dataclasses.asdict(s)) for s in results.summary],
    }


def from_json(document: dict, where: str = "results") -> Results:
    if document.get("schema") != SCHEMA:
        raise ResultsError(f"{where}: schema {document.get('schema')!r}, expected {SCHEMA!r}.")
    try:
        runs = []
        for r in document["runs"]:
            r = dict(r)
            r["train_loss"] = _floats(r["train_loss"])
            r["meta_loss"] = _floats(r["meta_loss"])
            if r.get("valid_loss") is not None:
                r["valid_loss"] = _floats(r["valid_loss"])
            r["step_seconds"] = np.nan if r["step_seconds"] is None else r["step_seconds"]
            runs.append(Run(**r))
        summary = [Summary(**{k: (np.nan if v is None and k.startswith("final") else v) for k, v in s.items()})
                   for s in document["summary"]]
    except (KeyError, TypeError) as e:
        raise ResultsError(f"{where}: does not follow {SCHEMA}: {e}.") from None
    return Results(config=document["config"], runs=runs, summary=summary, versions=document.get("versions", {}),
                   created=document.get("created", ""))


def merge(parts: list[Results], candidate: str | None = None) -> Results:
    """Several evaluations of one candidate at one horizon (say, held-out tasks added later, or a costly task
    run with a smaller `baseline_multiple`) as one: runs and summaries concatenated, the config of each part
    kept under `config["parts"]`. Refuses parts of different horizons or seeds, a task that two parts both
    evaluate, and parts whose candidates are named differently unless `candidate` is given: the caller then
    vouches that they are one optimizer (e.g. `checkpoint:<dir>` and the registry entry made from it), and
    the candidate's runs and summaries of every part are renamed to it."""
    if not parts:
        raise ResultsError("merge: no results to merge.")
    if candidate is not None:
        parts = [_renamed(part, candidate) for part in parts]
    first = parts[0].config
    for part in parts[1:]:
        for key in ("candidate", "num_steps", "seeds"):
            if part.config.get(key) != first.get(key):
                raise ResultsError(f"merge: parts differ in {key}: {first.get(key)!r} vs {part.config.get(key)!r}.")
    tasks: list = []
    for part in parts:
        for task in part.config.get("tasks", []):
            if task in tasks:
                raise ResultsError(f"merge: task {task!r} is evaluated by two parts.")
            tasks.append(task)
    config = {key: first.get(key) for key in ("candidate", "num_steps", "seeds")}
    config["baselines"] = sorted({b for part in parts for b in part.config.get("baselines", [])})
    config["tasks"] = tasks
    config["parts"] = [part.config for part in parts]
    return Results(config=config, runs=[r for part in parts for r in part.runs],
                   summary=[s for part in parts for s in part.summary], versions=parts[0].versions,
                   created=max(part.created for part in parts))


def _renamed(results: Results, candidate: str) -> Results:
    old = results.config.get("candidate")

    def rename(item):
        return dataclasses.replace(item, optimizer=candidate) if item.optimizer == old else item

    return dataclasses.replace(results, config={**results.config, "candidate": candidate},
                               runs=[rename(r) for r in results.runs], summary=[rename(s) for s in results.summary])


def save(path: str, results: Results) -> None:
    """Writes `results` to `path` atomically; gzip-compressed if `path` ends in .gz."""
    if path.endswith(".gz"):
        # mtime=0: the same results give the same bytes (committed files do not change on a rewrite).
        data = gzip.compress(json.dumps(to_json(results), separators=(",", ":")).encode(), 9, mtime=0)
    else:
        data = json.dumps(to_json(results), indent=1).encode()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load(path: str) -> Results:
    """Reads a results file (gzip-compressed if `path` ends in .gz)."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt") as f:
                document = json.load(f)
        else:
            with open(path) as f:
                document = json.load(f)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not JSON ({e}).") from None
    except (gzip.BadGzipFile, EOFError) as e:
        raise ResultsError(f"{path}: not a complete gzip file ({e}).") from None
    return from_json(document, where=path)
