"""Every registry entry side by side: one scorecard line each and their sorted speedups in one plot.

    bazel run //tools:compare_pretrained -- --horizon=200 --plot_dir=runs/compare

For each entry of lopt_pretrained with an evaluation at --horizon (results.json,
or results_T<horizon>.json for entries evaluated at several horizons) it prints
`lopt_eval.scorecard`'s line — wins against the tuned baseline (≥ 2% lower
final loss, outside the seeds' spread), the interquartile mean of the
final-loss ratio with a bootstrap interval, the median speedup, diverged runs —
and draws every entry's sorted speedups in <plot_dir>/speedups_T<horizon>.png. Entries
were evaluated on different tasks (each entry's README table says which), so
the curves compare fractions of each entry's own tasks.

`--results` compares evaluation directories (tools/evaluate --out) instead,
each named by its directory, the scorecard recomputed from its results.json —
e.g. every candidate tools/recipes/heldout_tables.sh evaluated on the same suite:

    bazel run //tools:compare_pretrained -- --horizon=1000 --results=runs/heldout/celo,runs/heldout/seed1_step_1600
"""

import dataclasses
import os

import lopt_eval
import lopt_pretrained
import numpy as np
from absl import app, flags
from lopt_eval import plots

import common_flags

_HORIZON = flags.DEFINE_integer("horizon", 200, "The horizon whose evaluations to compare.", lower_bound=1)
_ENTRIES = flags.DEFINE_list("entries", None, "Registry entries (default: all).")
_PLOT_DIR = flags.DEFINE_string("plot_dir", None, "Directory for the plot (none: print only).")
_MARKDOWN = flags.DEFINE_bool("markdown", False, "Also print each entry's per-task table in Markdown (as in the "
                              "package README).")

_RESULTS = flags.DEFINE_list("results", None, "Evaluation directories (or results.json files) to compare instead "
                              "of registry entries, each named by its directory.")

OWN_FLAGS = ("horizon", "entries", "plot_dir", "markdown", "results")


def fail(message) -> None:
    common_flags.fail("compare_pretrained", message)


def evaluation_at(name: str, steps: int) -> lopt_eval.Results | None:
    """The entry's evaluation at `steps`, or None if it has none."""
    directory = os.path.join(lopt_pretrained.registry.registry_dir(), name)
    for file in ("results.json", f"results_T{steps}.json"):
        path = os.path.join(directory, file)
        if os.path.exists(path):
            results = lopt_eval.load(path)
            if results.config.get("num_steps") == steps:
                return results
    return None


def _number(x: float) -> str:
    return "diverged" if not np.isfinite(x) else f"{x:.4g}"


def markdown_table(results: lopt_eval.Results) -> str:
    """Per task: the candidate's and every tuned baseline's final loss (mean ± std), the speedup, win or loss."""
    card = lopt_eval.scorecard.scorecard(results)
    baselines = list(results.config.get("baselines", []))
    selected = {(r.optimizer, r.task): r.hyperparameters for r in results.runs if r.role == "baseline"}
    summaries = {(s.optimizer, s.task): s for s in results.summary}
    head = "| task | candidate | " + " | ".join(f"tuned {b}" for b in baselines) + " | speedup | vs tuned " + \
        f"{card.baseline} |"
    lines = [head, "|" + "---|" * (4 + len(baselines))]
    for score in card.tasks:
        cells = [f"{_number(score.candidate)} ± {score.candidate_std:.2g}"]
        for b in baselines:
            s = summaries.get((b, score.task))
            if s is None:
                cells.append("—")
                continue
            hp = selected.get((b, score.task), {})
            rate = f" (lr {hp['learning_rate']:.0e})" if "learning_rate" in hp else ""
            cells.append(f"{_number(s.final_loss_mean)} ± {s.final_loss_std:.2g}{rate}")
        speed = "—" if score.speedup is None else f"{score.speedup:.2f}×"
        if score.diverged:
            verdict = f"{score.diverged} diverged"
        elif score.win:
            verdict = "win"
        else:
            verdict = "lower, within the spread" if score.candidate < score.baseline else "loss"
        lines.append(f"| {score.task} | " + " | ".join(cells) + f" | {speed} | {verdict} |")
    return "\n".join(lines)


def as_entry(results: lopt_eval.Results, name: str) -> lopt_eval.Results:
    """The candidate's summaries only, named after the entry."""
    candidate = results.config.get("candidate")
    return dataclasses.replace(
        results, summary=[dataclasses.replace(s, optimizer=name) for s in results.summary if s.optimizer == candidate])


parse_flags = common_flags.flag_parser("compare_pretrained", OWN_FLAGS)


def evaluations_in(paths: list[str], steps: int) -> dict[str, lopt_eval.Results]:
    """{directory name: results} of evaluation directories or results.json files, each at `steps`."""
    found = {}
    for path in paths:
        file = os.path.join(path, "results.json") if os.path.isdir(path) else path
        name = os.path.basename(os.path.dirname(os.path.abspath(file)))
        try:
            results = lopt_eval.load(file)
        except (OSError, lopt_eval.ResultsError) as e:
            fail(f"cannot read the evaluation {path}: {e}")
        if results.config.get("num_steps") != steps:
            fail(f"{file} evaluates {results.config.get('num_steps')} steps, not --horizon={steps}")
        if name in found:
            fail(f"two evaluations named {name!r} (--results names each by its directory)")
        found[name] = results
    return found


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    if _RESULTS.value and _ENTRIES.value:
        fail("--results compares evaluation directories instead of registry entries; drop --entries")
    found = {}

    def show(name: str, label: str, results: lopt_eval.Results) -> None:
        found[name] = results
        print(f"{label}: {lopt_eval.scorecard.scorecard(results).line().split(': ', 1)[1]}")
        if _MARKDOWN.value:
            print(markdown_table(results) + "\n")

    if _RESULTS.value:
        for name, results in evaluations_in(_RESULTS.value, _HORIZON.value).items():
            show(name, name, results)
    else:
        names = _ENTRIES.value or lopt_pretrained.names()
        unknown = sorted(set(names) - set(lopt_pretrained.names()))
        if unknown:
            fail(f"no registry entry {', '.join(unknown)}; known: {', '.join(lopt_pretrained.names())}")
        for name in names:
            results = evaluation_at(name, _HORIZON.value)
            if results is None:
                print(f"{name}: no evaluation at T={_HORIZON.value}")
                continue
            show(name, f"{name} ({lopt_pretrained.info(name)['origin']})", results)
        if not found:
            fail(f"no entry has an evaluation at T={_HORIZON.value}")
    if _PLOT_DIR.value:
        combined = lopt_eval.Results(config={"num_steps": _HORIZON.value}, runs=[],
                                     summary=[s for name, r in found.items() for s in as_entry(r, name).summary])
        path = plots.speedup_curve(combined, os.path.join(_PLOT_DIR.value, f"speedups_T{_HORIZON.value}.png"))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
