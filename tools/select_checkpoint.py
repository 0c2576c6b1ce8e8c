"""Chooses a meta-training checkpoint on the validation suite, never on held-out tasks.

    bazel run //tools:select_checkpoint -- --theta_dirs=runs/a/step_500,runs/a/step_1000,runs/b/theta \\
        --baseline_cache=runs/baselines --out=runs/selection.json

Every θ in `--theta_dirs` (directories written by `lopt_architectures.save_theta`:
a tools/meta_train `theta/`, or θ exported at other steps or from other
seeds' runs; or `pretrained:<name>`, a registry entry, such as the one a
fine-tuning run started from) is run on the tasks of `--suite` (default validation-v1,
which shares no task or family with the held-out suites) for the suite's
horizon and seeds, against Adam tuned over 15 learning rates on the same
seeds (computed once: `--baseline_cache`). The checkpoint with the lowest
interquartile mean of the final-loss ratio to tuned Adam is selected (fewer
diverged runs first, then more wins, then the earlier in the list). The table and the
choice are printed and written to `--out` (JSON), so the selection behind a
registry entry is a command anyone can rerun.
"""

import json
import math
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import lopt_eval
from absl import app, flags
from lopt_eval import evaluation

import common_flags
import saved_theta

_THETA_DIRS = flags.DEFINE_list("theta_dirs", None, "Directories of saved meta-parameters to compare.")
_SUITE = flags.DEFINE_string("suite", "validation-v1", "The validation suite (lopt_eval.suites).")
_CACHE = flags.DEFINE_string("baseline_cache", None, "Directory of tuned baselines to reuse (and add to).")
_OUT = flags.DEFINE_string("out", None, "Where to write the selection (JSON).")

OWN_FLAGS = ("theta_dirs", "suite", "baseline_cache", "out", "data_dir")


def fail(message) -> None:
    common_flags.fail("select_checkpoint", message)


def rank_key(row: dict):
    """Lower is better: diverged runs, then the IQM ratio (NaN last), then more wins, then the earlier candidate."""
    ratio = row["iqm_ratio"]
    return (row["diverged"], math.inf if ratio is None or math.isnan(ratio) else ratio, -row["wins"], row["index"])


parse_flags = common_flags.flag_parser("select_checkpoint", OWN_FLAGS)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    if not _THETA_DIRS.value:
        fail("--theta_dirs is required (directories of saved meta-parameters)")
    try:
        suite = lopt_eval.suites.get_suite(_SUITE.value)
    except KeyError as e:
        fail(e.args[0])
    if suite.purpose != "validation":
        fail(f"suite {suite.name!r} is a {suite.purpose} suite; checkpoints are selected on a validation suite only")
    candidates = []
    for directory in _THETA_DIRS.value:
        try:
            lopt, theta, step = saved_theta.load(directory)
        except saved_theta.SavedThetaError as e:
            # A registry entry (e.g. the one a fine-tuning run started from) is named as given.
            fail(f"{directory}: {e}" if saved_theta.is_registry_entry(directory)
                 else f"no saved meta-parameters in {directory}: {e}")
        candidates.append((directory, lopt, theta, step))
    tasks = {spec: common_flags.with_data_dir(task) for spec, task in lopt_eval.suites.resolve(suite).items()}
    config = evaluation.EvaluationConfig(num_steps=suite.num_steps, seeds=suite.seeds, baselines=("adam",),
                                         baseline_multiple=suite.baseline_multiple,
                                         task_scan_unroll=suite.scan_unroll)
    rows = []
    for index, (directory, lopt, theta, step) in enumerate(candidates):
        results = evaluation.evaluate(f"{lopt.name}@{step}", lambda: lopt.optimizer(theta), tasks, config,
                                      log=lambda m: print(m, file=sys.stderr, flush=True),
                                      baseline_cache_dir=_CACHE.value)
        card = lopt_eval.scorecard.scorecard(results)
        where = directory if saved_theta.is_registry_entry(directory) else os.path.abspath(directory)
        rows.append({"index": index, "theta_dir": where, "step": step,
                     "iqm_ratio": card.iqm_ratio, "iqm_interval": list(card.iqm_interval), "wins": card.wins,
                     "tasks": len(card.tasks), "diverged": card.diverged})
        print(f"{directory} (step {step}): IQM final-loss ratio {card.iqm_ratio:.4f} [{card.iqm_interval[0]:.4f}, "
              f"{card.iqm_interval[1]:.4f}], wins {card.wins}/{len(card.tasks)}, diverged runs {card.diverged}",
              flush=True)
    best = min(rows, key=rank_key)
    print(f"selected {best['theta_dir']} (step {best['step']})")
    if _OUT.value:
        os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
        with open(_OUT.value, "w") as f:
            json.dump({"suite": suite.name, "num_steps": suite.num_steps, "seeds": list(suite.seeds),
                       "candidates": rows, "selected": best["theta_dir"], "command": " ".join(sys.argv)}, f, indent=1)
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
