"""What a meta-training workdir holds beside its checkpoints: the run's configuration and its metrics.

`config.json` records what determines the run's result (a JSON object the
caller chooses, e.g. a binary's flags), written atomically when the run
starts. Resuming compares it with the configuration of the resuming call and
refuses any difference naming the field, the recorded and the new value: a
checkpoint continued under another configuration would yield a θ that no
single configuration produced.

`metrics.jsonl` holds one JSON object per finished step, appended as steps
finish. A crash in the middle of an append leaves a torn last line (no
newline, not JSON): readers drop it with a warning, and resumption rewrites
the file without it. Any other damage is a `MetricsError` naming the file and
the line, since guessing which records are right could silently lose steps.
"""

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from lopt_architectures.saved_theta import atomic_write

from lopt_es import checkpoint

CONFIG_FORMAT = "lopt-es-run-config/1"
_LOG = logging.getLogger(__name__)


class ResumeError(checkpoint.CheckpointError):
    """A run that cannot continue under these arguments: another configuration, or more steps done than asked."""


class MetricsError(ValueError):
    """A metrics.jsonl damaged beyond a torn last line; the message names the file and the line."""


def config_path(workdir: str) -> str:
    return os.path.join(workdir, "config.json")


def _as_stored(config: dict) -> dict:
    """`config` as it reads back from JSON (tuples become lists), so that a fresh value compares with a stored one."""
    return json.loads(json.dumps(config))


def write_run_config(workdir: str, config: dict) -> None:
    """Records `config` as the configuration of the run starting in `workdir` (atomically)."""
    document = {"format": CONFIG_FORMAT, "config": _as_stored(config)}
    atomic_write(config_path(workdir), (json.dumps(document, indent=1) + "\n").encode())


def config_differences(recorded: dict, current: dict) -> list[str]:
    """`<field>: <recorded> when the run started, <current> now` for every field whose value differs."""
    recorded, current = _as_stored(recorded), _as_stored(current)
    missing = object()
    fields = list(current) + [k for k in recorded if k not in current]

    def show(value):
        return "(not set)" if value is missing else json.dumps(value)

    return [f"{k}: {show(recorded.get(k, missing))} when the run started, {show(current.get(k, missing))} now"
            for k in fields if recorded.get(k, missing) != current.get(k, missing)]


def check_run_config(workdir: str, config: dict, log: Callable[[str], None] = _LOG.warning) -> None:
    """Refuses (`ResumeError`) to resume the run in `workdir` under a `config` other than the one it recorded.

    A workdir without a record (written before runs recorded one) adopts
    `config`, saying so through `log`.
    """
    path = config_path(workdir)
    if not os.path.exists(path):
        log(f"{path} does not exist (the run predates recorded configurations); recording this one.")
        write_run_config(workdir, config)
        return
    try:
        with open(path) as f:
            document = json.load(f)
    except (OSError, ValueError) as e:
        raise ResumeError(f"{path}: unreadable run configuration ({e}).") from None
    if not isinstance(document, dict) or document.get("format") != CONFIG_FORMAT \
            or not isinstance(document.get("config"), dict):
        raise ResumeError(f"{path}: not a run configuration (expected format {CONFIG_FORMAT!r}).")
    differences = config_differences(document["config"], config)
    if differences:
        raise ResumeError(f"the run in {workdir} was started with another configuration ({path}): "
                          + "; ".join(differences) + ". Resume it with the recorded values, or start a new run in "
                          "another workdir.")


def _parse_metrics(path: str) -> tuple[list[dict], str | None]:
    """(records, the torn last line or None) of the metrics file at `path`; `MetricsError` for other damage."""
    with open(path) as f:
        lines = f.read().split("\n")
    # The text after the last newline: "" when the last append finished, else a possibly torn line.
    complete, tail = lines[:-1], lines[-1]
    records, torn = [], None
    for number, line in enumerate(complete + ([tail] if tail.strip() else []), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(complete) + 1:  # the unterminated last line: an append cut short
                torn = line
                break
            raise MetricsError(f"{path}:{number}: not JSON ({e}); expected one object per line.") from None
        if not isinstance(record, dict):
            raise MetricsError(f"{path}:{number}: {type(record).__name__}, expected a JSON object.")
        records.append(record)
    return records, torn


def _torn_warning(path: str, torn: str) -> str:
    return f"{path}: dropped a torn last line (an append cut short by a crash): {torn[:60]!r}"


def read_metrics(metrics_jsonl_path: str) -> list[dict]:
    """The records of a `metrics.jsonl` written by `meta_train` (a torn last line is dropped with a warning).

    Raises:
      MetricsError: a line other than a torn last one is not a JSON object.
    """
    records, torn = _parse_metrics(metrics_jsonl_path)
    if torn is not None:
        _LOG.warning(_torn_warning(metrics_jsonl_path, torn))
    return records


def truncate_metrics(path: str, step: int, log: Callable[[str], None] = _LOG.warning) -> list[dict[str, Any]]:
    """Rewrites `path` (atomically) with only the records of steps < `step`, the ones a resumed run keeps.

    Records of later steps were written after the checkpoint the run resumes
    from and will be written again; a torn last line is dropped, saying so
    through `log`. Returns the kept records.
    """
    if not os.path.exists(path):
        return []
    records, torn = _parse_metrics(path)
    if torn is not None:
        log(_torn_warning(path, torn))
    kept = [r for r in records if r.get("step", -1) < step]
    if torn is not None or len(kept) < len(records):
        atomic_write(path, "".join(json.dumps(r) + "\n" for r in kept).encode())
    return kept
