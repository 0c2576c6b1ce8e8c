"""Tuned baselines computed once and reused by every later evaluation.

Tuning Adam over 15 learning rates, or NAdamW over 100+ random
configurations, costs far more than running one candidate. The result only
depends on the task, the horizon, the seeds, the search and the code that ran
it, so it is stored under a key made of exactly those: a candidate evaluated
later against the same key costs only its own runs.

A cache is a directory of gzip-compressed results files (`lopt-eval/1`), one
per key, named `<task>__<baseline>__T<steps>__<hash>.json.gz` (a plain `.json`
of that name, as earlier versions wrote, is read too; compressed, a 15-rate
sweep is a third of the size, so a suite's baselines can be committed: see
packages/eval/stored_baselines/); the file's config holds the key
and is compared in full on reading, so a renamed or edited file is never
taken for another key. The key's versions are those of the lopt packages and
of jax/jaxlib: a new release of either invalidates the entry (it is recomputed
and written beside the old one).
"""

import hashlib
import json
import os
import re

from lopt_eval.schema import Results, ResultsError, Run, load, package_versions, save, to_json

#: Versions that can change a baseline's numbers.
KEY_PACKAGES = ("lopt-eval", "lopt-architectures", "lopt-tasks", "lopt-features", "jax", "jaxlib")


def baseline_key(task: str, baseline: str, num_steps: int, seeds, *, length: int | None = None,
                 trials: int | None = None, valid_every: int = 0, versions: dict | None = None) -> dict:
    """What determines a tuned baseline: task spec, baseline, horizon, seeds, the search, and the code's versions.

    `length` is a learning-rate sweep's run length (baseline_multiple × T);
    `trials` a random search's number of configurations.
    """
    versions = package_versions() if versions is None else versions
    return {
        "task": task, "baseline": baseline, "num_steps": int(num_steps), "seeds": [int(s) for s in seeds],
        "length": None if length is None else int(length), "trials": None if trials is None else int(trials),
        "valid_every": int(valid_every), "versions": {k: versions.get(k) for k in KEY_PACKAGES},
    }


def cache_path(directory: str, key: dict) -> str:
    """Where the baseline for `key` is written."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    task = re.sub(r"[^A-Za-z0-9_.=-]+", "_", key["task"])
    return os.path.join(directory, f"{task}__{key['baseline']}__T{key['num_steps']}__{digest}.json.gz")


def stored_path(directory: str, key: dict) -> str | None:
    """The file holding `key`'s baseline: compressed, or uncompressed as earlier versions wrote; None if neither."""
    path = cache_path(directory, key)
    for candidate in (path, path[:-len(".gz")]):
        if os.path.exists(candidate):
            return candidate
    return None


def load_baseline(directory: str, key: dict) -> tuple[Run, list[Run]] | None:
    """(selected run, all runs) stored under `key`, or None if the cache has no such entry.

    Raises:
      ResultsError: the file for `key` is unreadable or holds another key.
    """
    path = stored_path(directory, key)
    if path is None:
        return None
    results = load(path)
    stored = results.config.get("baseline_key")
    if stored != key:
        raise ResultsError(f"{path}: holds the baseline for {stored!r}, not {key!r}; delete it to recompute.")
    best = [r for r in results.runs if r.role == "baseline"]
    if len(best) != 1:
        raise ResultsError(f"{path}: expected one selected ('baseline') run, found {len(best)}.")
    return best[0], results.runs


def store_baseline(directory: str, key: dict, best: Run, runs: list[Run]) -> str:
    """Writes a tuned baseline under `key` (atomically); returns the file's path."""
    if best.role != "baseline" or best not in runs:
        raise ValueError("store_baseline: `best` must be the run of `runs` whose role is 'baseline'.")
    path = cache_path(directory, key)
    results = Results(config={"baseline_key": key}, runs=list(runs), summary=[])
    if os.path.exists(path):
        # Storing what is already stored keeps the file (and its creation time) as it is,
        # so a committed cache does not change when a suite is rerun.
        try:
            previous = load(path)
        except ResultsError:
            previous = None
        if previous is not None and _same_content(previous, results):
            return path
    save(path, results)
    return path


def _same_content(a: Results, b: Results) -> bool:
    """Equal apart from the creation time (compared as written, so NaNs compare equal)."""
    def content(results):
        document = to_json(results)
        document.pop("created")
        document.pop("versions")
        return json.dumps(document, sort_keys=True)
    return content(a) == content(b)
