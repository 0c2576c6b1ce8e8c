"""Adds a meta-trained optimizer to the lopt_pretrained registry, with its training record and evaluation.

    bazel run //tools:register_pretrained -- --entry=small_fc_lopt_digits_mlp \\
        --meta_train_dir=runs/sfc --evaluation_dir=runs/sfc/evaluation --description="..."

Reads θ and how it was trained from `--meta_train_dir` (a `tools/meta_train`
workdir: theta/ — or theta_steps/step_<N> with `--theta_step=N` —, metrics.jsonl,
meta_training.png) and the `tools/evaluate` results of those meta-parameters
from `--evaluation_dir` (results.json and plots; several directories,
comma-separated, of one horizon are merged into one evaluation with
`lopt_eval.merge` — e.g. held-out tasks evaluated later, or a costly task run
with a smaller --baseline_multiple). Each results file must record that it
evaluated this θ (`candidate_identity`, written by tools/evaluate:
architecture, configuration and `lopt_pretrained.theta_sha256`), so an entry
never carries another optimizer's numbers; a file that records none is
refused too. An entry meta-trained on runs of one length must be evaluated
at that horizon (its primary evaluation, results.json); evaluations at other
horizons — say 5× longer, to measure how far it generalises — are added
beside it, each as results_T<steps>.json with plots prefixed T<steps>_ and
listed in entry.json's `evaluations`. It writes the entry
`<registry>/<entry>/` (entry.json, theta.npz, results.json — the evaluation
without the curves of the baseline sweeps' unselected trials, which would
make it megabytes — the plots, meta_training.json: the meta-training
curve, averaged into at most 500 points, and README.md: the model card,
`model_card.py`). The entry is assembled in a temporary directory and renamed into
place, so a failure leaves the registry as it was.

A learned optimizer meta-trained by others comes from its original weights
file and a provenance spec (`tools/third_party/<name>.json`: architecture,
description, who trained it with what compute, source repository, commit and
path, licence, and the licence text's file):

    bazel run //tools:register_pretrained -- --entry=celo --third_party=tools/third_party/celo.json \
        --reference_checkpoint=/path/to/celo/theta.state --evaluation_dir=runs/celo/T200,runs/celo/T1000

The entry records the SHA-256 of the original file and carries the licence
text as `LICENSE`. Its evaluations (as an entry meta-trained on runs of
many lengths) may be at any horizons: the shortest goes to results.json.

With `--add_evaluation` (and no `--meta_train_dir`) the entry's θ, record,
curve and evaluations stay as they are and `--evaluation_dir`'s tasks are
merged into its evaluation at their horizon — e.g. held-out tasks named
after it was registered, or the same tasks at 5× the meta-training horizon
(a new results_T<steps>.json; results.json stays the primary evaluation):

    bazel run //tools:register_pretrained -- --entry=small_fc_lopt_digits_mlp --add_evaluation \
        --evaluation_dir=runs/sfc/more_tasks

Without `--evaluation_dir`, `--add_evaluation` rewrites the entry's record
and model card from the results files it already has (after a change to
what the record holds, such as each task's count of diverged seeds).

Weights meta-trained from a starting point (`tools/meta_train --init_theta`,
read from the workdir's config.json or else the recorded command) say so in
entry.json's `derived_from`: `{"theta_dir": <dir>}`, or for a registry entry
(looked up in `--registry`, else the shipped one) its name and θ's
`theta_sha256`. Fine-tuned from weights under another licence (a
third-party entry, or one derived from it) they are a derived work: the entry
also carries that licence's text as `LICENSE` and, from a third-party entry,
its `provenance`; `--add_evaluation` keeps both.
"""

import dataclasses
import glob
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from typing import Any, NamedTuple

import lopt_architectures
import lopt_es
import lopt_eval
import lopt_pretrained
import numpy as np
from lopt_eval import plots as plots_lib
from absl import app, flags

import common_flags
import model_card

_ENTRY = flags.DEFINE_string("entry", None, "Registry name of the new entry (letters, digits, _ and -).")
_META_TRAIN_DIR = flags.DEFINE_string("meta_train_dir", None, "The tools/meta_train --workdir of the optimizer.")
_EVALUATION_DIR = flags.DEFINE_list("evaluation_dir", None,
                                    "The tools/evaluate --out directory of these meta-parameters (several: merged).")
_THETA_STEP = flags.DEFINE_integer("theta_step", None, "Register θ as saved at this meta-training step "
                                   "(<meta_train_dir>/theta_steps/step_<N>, e.g. the checkpoint "
                                   "tools/select_checkpoint chose) instead of the final theta/.", lower_bound=1)
_DESCRIPTION = flags.DEFINE_string("description", "", "One paragraph: what the optimizer is for.")
_REGISTRY = flags.DEFINE_string("registry", None, "Registry directory (default: this checkout's "
                                "packages/pretrained/lopt_pretrained/entries).")
_REPLACE = flags.DEFINE_bool("replace_entry", False, "Replace an existing entry of that name.")
_THIRD_PARTY = flags.DEFINE_string("third_party", None, "Provenance spec (JSON) of weights meta-trained by others; "
                                   "with --reference_checkpoint instead of --meta_train_dir.")
_REFERENCE_CHECKPOINT = flags.DEFINE_string("reference_checkpoint", None,
                                            "The original weights file of a --third_party entry.")
_ADD = flags.DEFINE_bool("add_evaluation", False, "Add --evaluation_dir's tasks to an existing entry's evaluation, "
                         "keeping its θ, training record and curve (no --meta_train_dir).")

OWN_FLAGS = ("entry", "meta_train_dir", "evaluation_dir", "description", "registry", "replace_entry", "add_evaluation",
             "third_party", "reference_checkpoint", "theta_step")
SPEC_FIELDS = ("arch", "description", "provenance", "license_text_file")
PRETRAINED = "pretrained:"  # --init_theta's prefix of a registry entry (tools/saved_theta.PRETRAINED)
CURVE_POINTS = 500


def fail(message) -> None:
    common_flags.fail("register_pretrained", message)


def default_registry() -> str:
    root = os.environ.get("BUILD_WORKSPACE_DIRECTORY") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "packages", "pretrained", "lopt_pretrained", "entries")


def steps_seconds(metrics_path: str, steps: int) -> float | None:
    """The wall time of the first `steps` meta-training steps, summed from metrics.jsonl (None: not recorded)."""
    try:
        records = [r for r in lopt_es.read_metrics(metrics_path) if r["step"] < steps]
    except (OSError, ValueError, KeyError):
        return None
    if not records or any("seconds" not in r for r in records):
        return None
    return round(sum(r["seconds"] for r in records), 1)


def meta_training_curve(metrics_path: str, points: int = CURVE_POINTS) -> dict:
    """The meta-loss (and inner loss) per step, averaged over consecutive blocks into at most `points` points."""
    records = lopt_es.read_metrics(metrics_path)
    if not records:
        fail(f"{metrics_path} has no steps")
    block = -(-len(records) // points)
    curve = {"block_steps": block, "step": [], "meta_loss": [], "inner_loss": []}
    for start in range(0, len(records), block):
        chunk = records[start:start + block]
        curve["step"].append(chunk[-1]["step"] + 1)
        for key in ("meta_loss", "inner_loss"):
            values = np.asarray([r[key] for r in chunk], np.float64)
            finite = values[np.isfinite(values)]
            curve[key].append(round(float(finite.mean()), 6) if finite.size else None)
    return curve


def evaluation_summary(results: lopt_eval.Results) -> list[dict]:
    """Per task: the candidate's final loss, each baseline's, the speedup, and how many of the candidate's seeds
    diverged (`lopt_eval.scorecard.diverged_seeds`; the horizon contract reads it)."""
    def number(x):  # a diverged run's NaN is written as null
        return float(x) if np.isfinite(x) else None

    steps = int(results.config["num_steps"])
    diverged = {r.task: int(lopt_eval.scorecard.diverged_seeds(np.asarray(r.train_loss), steps).sum())
                for r in results.runs if r.role == "candidate" and r.optimizer == results.config.get("candidate")}
    rows = {}
    for s in results.summary:
        row = rows.setdefault(s.task, {"task": s.task})
        if s.optimizer == results.config.get("candidate"):
            row.update(final_loss=number(s.final_loss_mean), final_loss_std=number(s.final_loss_std),
                       speedup=s.speedup, diverged_seeds=diverged.get(s.task))
        else:
            row[f"{s.optimizer}_final_loss"] = number(s.final_loss_mean)
            row[f"{s.optimizer}_final_loss_std"] = number(s.final_loss_std)
    return list(rows.values())


parse_flags = common_flags.flag_parser("register_pretrained", OWN_FLAGS)


class Source(NamedTuple):
    """What an entry is written from: θ, its record and curve, and the evaluation it already has (if any)."""

    lopt: Any
    theta: Any
    horizon: int | None
    description: str
    training: dict  # without "versions" when made from a meta-training run: the evaluation's are recorded
    outer_steps: int | None
    curve: dict
    curve_png: str
    earlier: dict[int, lopt_eval.Results]  # an existing entry's evaluations by horizon (empty for a new one) ...
    primary: int | None = None  # ... and the horizon of its results.json
    provenance: dict | None = None
    license_text: str | None = None
    min_horizon: int | None = None  # meta-trained on runs of log-uniform lengths in [min_horizon, horizon]
    derived_from: dict | None = None  # what meta-training started from (entry.json's `derived_from`)


def recorded_flag(directory: str, command: str, name: str) -> str | None:
    """The value of `tools/meta_train --<name>` for the run in `directory` (None: not given): as its config.json
    records it, else as its recorded `command` passes it (runs from before config.json, or before the θ files
    recorded the flag)."""
    path = lopt_es.workdir.config_path(directory)
    if os.path.exists(path):
        try:
            with open(path) as f:
                recorded = json.load(f).get("config", {})
        except (OSError, ValueError, AttributeError) as e:
            fail(f"cannot read the run configuration {path}: {e}")
        if name in recorded:
            value = recorded[name]
            return None if value in (None, "") else str(value)
    words = command.split()
    for i, word in enumerate(words):
        if word.startswith(f"--{name}="):
            return word.split("=", 1)[1] or None
        if word == f"--{name}" and i + 1 < len(words):
            return words[i + 1]
    return None


def starting_point(init_theta: str, registry: str) -> tuple[dict, str | None]:
    """entry.json's `derived_from` for θ meta-trained from `init_theta`, and the licence text the entry must carry
    (that of a registry entry whose weights are under another licence: a third party's, or derived from one)."""
    if not init_theta.startswith(PRETRAINED):
        return {"theta_dir": init_theta}, None
    name = init_theta[len(PRETRAINED):]
    # tools/meta_train read the shipped registry, which is --registry's default; another --registry is read first.
    where = registry if name in lopt_pretrained.names(registry) else lopt_pretrained.registry.registry_dir()
    try:
        _, theta, info = lopt_pretrained.load(name, directory=where)
        derived = {"entry": name, "theta_sha256": lopt_pretrained.theta_sha256(theta)}
        derived.update({k: info[k] for k in ("provenance", "derived_from") if info.get(k)})
        license_text = None
        if model_card.licensed_origin(info) is not None:
            with open(os.path.join(where, name, "LICENSE")) as f:
                license_text = f.read()
    except (lopt_pretrained.UnknownPretrainedError, lopt_pretrained.CheckpointFormatError, OSError) as e:
        fail(f"meta-training started from {init_theta} (the entry must say what it derives from and carry its "
             f"licence), but entry {name!r} cannot be read: {e}")
    return derived, license_text


def meta_training_source(directory: str, registry: str) -> Source:
    """θ and how it was trained, from a tools/meta_train --workdir; what it started from is looked up in
    `registry` (`starting_point`)."""
    try:
        theta_dir = os.path.join(directory, "theta") if _THETA_STEP.value is None else os.path.join(
            directory, "theta_steps", f"step_{_THETA_STEP.value}")
        lopt, theta, metadata = lopt_architectures.load_theta(theta_dir)
        outer_steps = int(metadata.get("step", 0))
    except (lopt_architectures.CheckpointFormatError, OSError) as e:
        fail(f"no meta-trained optimizer in {directory}: {e}")
    training = {
        "tasks": metadata.get("tasks"),
        "estimator": metadata.get("estimator"),
        "outer_steps": outer_steps,
        "command": metadata.get("command", "(not recorded)"),
        **({"selected_step": outer_steps} if _THETA_STEP.value is not None else {}),
        "meta_training_seconds": metadata.get("meta_training_seconds"),
    }
    if training["meta_training_seconds"] is None:  # θ saved before its metadata recorded it: from metrics.jsonl
        training["meta_training_seconds"] = steps_seconds(os.path.join(directory, "metrics.jsonl"), outer_steps)
    command = metadata.get("command", "")
    min_inner = metadata.get("min_inner_length")
    if min_inner is None and recorded_flag(directory, command, "min_inner_length") is not None:
        try:
            min_inner = int(recorded_flag(directory, command, "min_inner_length"))
        except ValueError:
            fail(f"{directory}: the recorded --min_inner_length is not a number: "
                 f"{recorded_flag(directory, command, 'min_inner_length')!r}")
    if min_inner:
        training["inner_lengths"] = [min_inner, metadata.get("inner_length")]
    init_theta = recorded_flag(directory, command, "init_theta")
    derived_from, license_text = starting_point(init_theta, registry) if init_theta else (None, None)
    return Source(lopt, theta, metadata.get("inner_length"), _DESCRIPTION.value, training, outer_steps,
                  meta_training_curve(os.path.join(directory, "metrics.jsonl")),
                  os.path.join(directory, "meta_training.png"), {}, license_text=license_text,
                  min_horizon=min_inner, derived_from=derived_from)


def third_party_source(spec_path: str, checkpoint: str) -> Source:
    """θ from another project's weights file, with the provenance spec that says who made it and under what licence."""
    try:
        with open(spec_path) as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        fail(f"cannot read the provenance spec {spec_path}: {e}")
    missing = [k for k in SPEC_FIELDS if k not in spec]
    if missing:
        fail(f"{spec_path}: missing field(s) {', '.join(missing)} (needs {', '.join(SPEC_FIELDS)})")
    for key in ("trained_by", "compute", "source", "license"):
        if key not in spec["provenance"]:
            fail(f"{spec_path}: provenance lacks {key!r}")
    license_path = os.path.join(os.path.dirname(os.path.abspath(spec_path)), spec["license_text_file"])
    try:
        with open(license_path) as f:
            license_text = f.read()
        with open(checkpoint, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        theta = lopt_pretrained.load_reference_checkpoint(checkpoint, spec["arch"])
    except (OSError, KeyError, lopt_pretrained.CheckpointFormatError) as e:
        fail(str(e))
    lopt = lopt_architectures.make_learned_optimizer(spec["arch"])
    provenance = {**spec["provenance"], "source": {**spec["provenance"]["source"], "sha256": digest}}
    training = {"by": provenance["trained_by"], "compute": provenance["compute"],
                "meta_training": provenance.get("meta_training")}
    return Source(lopt, theta, None, _DESCRIPTION.value or spec["description"], training, None, {}, "", {},
                  provenance=provenance, license_text=license_text)


def entry_source(target: str, name: str) -> Source:
    """An existing entry's θ, record, curve (or provenance), licence, what it derives from, and evaluations (for
    --add_evaluation)."""
    try:
        lopt, theta, entry = lopt_pretrained.load_entry(target)
        files = [e["file"] for e in entry.get("evaluations", []) if e.get("file")] or ["results.json"]
        earlier = {file: lopt_eval.load(os.path.join(target, file)) for file in files}
        provenance, license_text, curve = entry.get("provenance"), None, {}
        if model_card.licensed_origin(entry) is not None:  # third-party weights, or derived from them
            with open(os.path.join(target, "LICENSE")) as f:
                license_text = f.read()
        if provenance is None:
            with open(os.path.join(target, "meta_training.json")) as f:
                curve = json.load(f)
    except (lopt_pretrained.CheckpointFormatError, lopt_eval.ResultsError, OSError, json.JSONDecodeError) as e:
        fail(f"cannot read entry {name!r}: {e}")
    if "results.json" not in earlier:
        fail(f"cannot read entry {name!r}: entry.json's evaluations list no results.json")
    training = entry["training"]
    return Source(lopt, theta, entry.get("inner_length"), _DESCRIPTION.value or entry.get("description", ""),
                  training, training.get("outer_steps"), curve,
                  "" if provenance is not None else os.path.join(target, "meta_training.png"),
                  {int(r.config["num_steps"]): r for r in earlier.values()},
                  int(earlier["results.json"].config["num_steps"]), provenance, license_text,
                  min_horizon=(training.get("inner_lengths") or [None])[0], derived_from=entry.get("derived_from"))


def identity_error(results_path: str, found, expected: dict) -> str | None:
    """Why `results_path`, whose config records `found` as its candidate_identity, is no evaluation of the θ
    identified by `expected`; None if it is."""
    registered = f"the {expected['architecture']} θ being registered (sha256 {expected['theta_sha256'][:12]}…)"
    if not isinstance(found, dict):
        return (f"{results_path} does not record what it evaluated (written before tools/evaluate recorded its "
                f"candidate's identity): re-run tools/evaluate on {registered}")
    if lopt_pretrained.same_candidate(found, expected):
        return None
    what = lopt_pretrained.describe_identity(found)
    if (found.get("architecture"), found.get("theta_sha256")) == (expected["architecture"],
                                                                  expected["theta_sha256"]):
        config = found.get("config") if isinstance(found.get("config"), dict) else {}
        changed = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(config.items()) if expected["config"].get(k) != v)
        what += f" run with {changed}" if changed else " in another configuration"
    return f"{results_path} evaluates {what}, not {registered}"


def read_evaluations(expected: dict) -> tuple[dict[int, list[lopt_eval.Results]], dict]:
    """--evaluation_dir's results by horizon, and each directory's horizon; each must record that it evaluated
    the θ identified by `expected` (`lopt_pretrained.learned_identity`)."""
    by_horizon: dict[int, list[lopt_eval.Results]] = {}
    horizon_of: dict[str, int] = {}
    for directory in _EVALUATION_DIR.value or []:
        results_path = os.path.join(directory, "results.json")
        try:
            part = lopt_eval.load(results_path)
        except (OSError, lopt_eval.ResultsError) as e:
            fail(f"cannot read the evaluation: {e}")
        error = identity_error(results_path, part.config.get("candidate_identity"), expected)
        if error:
            fail(error)
        steps = int(part.config.get("num_steps"))
        by_horizon.setdefault(steps, []).append(part)
        horizon_of[directory] = steps
    return by_horizon, horizon_of


def primary_horizon(source: Source, evaluated: list[int]) -> int:
    """The horizon of the entry's results.json: an existing entry's stays; meta-trained on runs of one length,
    that length (which must be among the `evaluated` horizons); else the shortest evaluated."""
    if source.primary is not None:
        return source.primary
    if source.provenance is not None or source.min_horizon is not None:
        return min(evaluated)
    if source.horizon not in evaluated:
        fail(f"no evaluation at the meta-training horizon {source.horizon} (--evaluation_dir evaluates "
             f"{', '.join(map(str, sorted(evaluated)))} steps): evaluate with --steps={source.horizon}; other "
             f"horizons are registered beside it")
    return source.horizon


def horizon_plots(sources: list[tuple[str, str]], prefix: str, redrawn: bool) -> dict[str, str]:
    """One horizon's plots, {name in the entry (prefixed by `prefix`): path}, from (directory, the prefix of this
    horizon's plots there) pairs; the speedup plot is left out when it is `redrawn` over all parts' tasks."""
    plots = {}
    for directory, prefix_there in sources:
        for path in sorted(glob.glob(os.path.join(directory, f"{prefix_there}*.png"))):
            base = os.path.basename(path)[len(prefix_there):]
            # Unprefixed, a directory's T<steps>_ plots are another horizon's.
            if base == "meta_training.png" or (redrawn and base == "speedups.png") or (
                    not prefix_there and re.match(r"T\d+_", base)):
                continue
            plots[prefix + base] = path
    return plots


def merged(parts: list[lopt_eval.Results]) -> lopt_eval.Results:
    try:
        # Every part evaluates the same θ, whether named checkpoint:<dir> or pretrained:<entry>.
        return lopt_eval.merge(parts, candidate=parts[0].config.get("candidate")) if len(parts) > 1 else parts[0]
    except lopt_eval.ResultsError as e:
        fail(f"cannot merge the evaluations: {e}")


def evaluation_file(primary: int, steps: int) -> str:
    """The entry's file of its evaluation at `steps`: results.json at the primary horizon."""
    return "results.json" if steps == primary else f"results_T{steps}.json"


def evaluation_record(results: lopt_eval.Results) -> dict:
    return {"num_steps": results.config.get("num_steps"), "seeds": len(results.config.get("seeds", [])),
            "baselines": results.config.get("baselines"), "tasks": evaluation_summary(results)}


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    third_party = bool(_THIRD_PARTY.value)
    if third_party and (_META_TRAIN_DIR.value or _ADD.value):
        fail("--third_party registers another project's weights; drop --meta_train_dir / --add_evaluation")
    if third_party and not _REFERENCE_CHECKPOINT.value:
        fail("--third_party needs --reference_checkpoint (the original weights file)")
    if _REFERENCE_CHECKPOINT.value and not third_party:
        fail("--reference_checkpoint needs --third_party (the provenance spec of those weights)")
    # --add_evaluation alone rewrites an entry's record (summaries, card) from the results it already has.
    required = ((_ENTRY,) if _ADD.value else (_ENTRY, _EVALUATION_DIR) if third_party
                else (_ENTRY, _META_TRAIN_DIR, _EVALUATION_DIR))
    for flag in required:
        if not flag.value:
            fail(f"--{flag.name} is required")
    name = _ENTRY.value
    if not all(c.isalnum() or c in "_-" for c in name):
        fail(f"entry name {name!r}: use letters, digits, _ and -")
    registry = _REGISTRY.value or default_registry()
    target = os.path.join(registry, name)
    if _ADD.value:
        if _META_TRAIN_DIR.value:
            fail("--add_evaluation keeps the entry's θ and training record; drop --meta_train_dir")
        if not os.path.exists(target):
            fail(f"no entry {name!r} in {registry} to add an evaluation to")
        source = entry_source(target, name)
    else:
        if os.path.exists(target) and not _REPLACE.value:
            fail(f"entry {name!r} exists in {registry}; pass --replace_entry to replace it")
        if third_party:
            source = third_party_source(_THIRD_PARTY.value, _REFERENCE_CHECKPOINT.value)
        else:
            source = meta_training_source(_META_TRAIN_DIR.value, registry)
    expected = lopt_pretrained.learned_identity(source.lopt, source.theta)
    by_horizon, horizon_of = read_evaluations(expected)
    primary = primary_horizon(source, list(by_horizon))
    for h, earlier in source.earlier.items():
        by_horizon[h] = [earlier] + by_horizon.get(h, [])
    results_by_horizon = {h: merged(parts) for h, parts in sorted(by_horizon.items())}
    results = results_by_horizon[primary]
    training = {**source.training, "versions": source.training.get("versions", results.versions)}
    # Per-task plots of every part; a speedup plot spans all of its horizon's tasks, so one evaluated in several
    # parts gets it drawn again from the merged results.
    stem = {h: "" if h == primary else f"T{h}_" for h in by_horizon}
    plots = {}
    for h, parts in by_horizon.items():
        sources = ([(target, stem[h])] if h in source.earlier else []) + [
            (d, "") for d in _EVALUATION_DIR.value or [] if horizon_of[d] == h]
        plots.update(horizon_plots(sources, stem[h], redrawn=len(parts) > 1))
    merged_speedups = {h: f"{stem[h]}speedups.png" for h, parts in by_horizon.items() if len(parts) > 1}
    curve_png = source.curve_png
    os.makedirs(registry, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=registry)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # readable like any package directory (mkdtemp makes it private)
    try:
        evaluation = {"seeds": len(results.config.get("seeds", [])), "baselines": results.config.get("baselines"),
                      "tasks": evaluation_summary(results)}
        extra = {}
        if len(results_by_horizon) > 1:
            extra["evaluations"] = [{**evaluation_record(r), "file": evaluation_file(primary, h)}
                                    for h, r in results_by_horizon.items()]
        if source.provenance is not None:
            extra["origin"] = lopt_pretrained.ORIGIN_THIRD_PARTY
            extra["provenance"] = source.provenance
        else:
            extra["origin"] = lopt_pretrained.ORIGIN_LOPT
        if source.derived_from is not None:
            extra["derived_from"] = source.derived_from
        has_curve = bool(source.curve)
        lopt_pretrained.save_entry(
            staging, name, source.lopt, source.theta, description=source.description, inner_length=source.horizon,
            training=training, evaluation=evaluation,
            plots=sorted(set(plots) | set(merged_speedups.values()))
            + (["meta_training.png"] if curve_png and os.path.exists(curve_png) else []),
            **extra,
        )
        # The sweep's other trials make the file megabytes; the summary (speedups included) and the plots
        # were computed from the full file, which stays in the evaluation directory. Every part evaluated
        # this θ (checked above, or already in the entry), so the merged file carries its identity too.
        for h, r in results_by_horizon.items():
            shipped = dataclasses.replace(r, config={**r.config, "candidate_identity": expected},
                                          runs=[run for run in r.runs if run.role != "trial"])
            lopt_eval.save(os.path.join(staging, evaluation_file(primary, h)), shipped)
        for entry_name, plot in plots.items():
            shutil.copy(plot, os.path.join(staging, entry_name))
        for h, entry_name in merged_speedups.items():
            plots_lib.speedup_curve(results_by_horizon[h], os.path.join(staging, entry_name))
        if curve_png and os.path.exists(curve_png):
            shutil.copy(curve_png, staging)
        if has_curve:
            with open(os.path.join(staging, "meta_training.json"), "w") as f:
                json.dump(source.curve, f)
        if source.license_text is not None:
            with open(os.path.join(staging, "LICENSE"), "w") as f:
                f.write(source.license_text)
        model_card.write(staging)
        for written in os.listdir(staging):
            os.chmod(os.path.join(staging, written), 0o666 & ~umask)
        lopt_pretrained.load_entry(staging)  # what was written loads
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    added = f", {len(_EVALUATION_DIR.value or [])} evaluation(s) added" if source.earlier else ""
    made = "third-party weights" if source.provenance is not None else f"{source.outer_steps} meta-training steps"
    print(f"registered {name!r} ({source.lopt.name}, {made}{added}) in {target}")
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
