"""Evaluates an optimizer against learning-rate-tuned baselines; writes JSON and plots, prints a table.

    bazel run //tools:evaluate -- --optimizer=checkpoint:runs/pes/theta \\
        --tasks=digits_mlp,digits_autoencoder,family:mlp:1 --steps=500 --seeds=5 --out=runs/pes/eval

`--optimizer` is `checkpoint:<dir>` (meta-parameters saved by tools/meta_train),
`pretrained:<name>` (lopt_pretrained's registry), `reference:<arch>:<file>`
(a weights file of the reference implementation or of the Celo family,
e.g. reference:celo:theta.state) or a hand-designed
optimizer's name (with `--learning_rate`). `--tasks` lists fixed tasks
(lopt_tasks.TASKS), variants of them with fields replaced,
`<task>:<field>=<value>...` (e.g. `digits_mlp:hidden_sizes=32x32:batch_size=32`:
the tradeoffs paper's width, depth and batch-size axes as held-out tasks),
and sampled ones, `family:<name>:<seed>` (the config a family samples from
PRNGKey(seed)). Each baseline in `--baselines` is tuned on
the same seeds: hand-designed ones over 15 learning rates for
`--baseline_multiple` × `--steps` steps (selected at `--steps`), `nadamw` by
a random search of `--nadamw_trials`. The output directory gets
results.json (lopt_eval's schema), per task a learning-curve plot and the
loss-vs-time and loss-vs-memory Pareto plots (tradeoffs paper Fig. 2), and
the sorted speedups. The results' config records what was evaluated,
`candidate_identity` (`lopt_pretrained.learned_identity`: architecture,
configuration and θ's SHA-256; or a hand-designed optimizer's name and
hyperparameters), which tools/register_pretrained checks. A wrong flag, an
unknown name, a missing or damaged checkpoint, missing data or an output
directory that cannot be written (checked before any compute) ends the
program with one line saying so.
"""

import dataclasses
import os
import sys
import time
from typing import Callable, NamedTuple

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # `bazel run` passes no --test_env; avoids probing for TPUs

import lopt_architectures as la
import lopt_eval
import lopt_pretrained
import lopt_tasks as lt
from absl import app, flags
from lopt_eval import evaluation, plots

import common_flags
import saved_theta

_OPTIMIZER = flags.DEFINE_string("optimizer", None, "checkpoint:<dir>, pretrained:<name>, reference:<arch>:<file>, "
                                 "or a hand-designed name.")
_LR = flags.DEFINE_float("learning_rate", 1e-3, "Learning rate of a hand-designed --optimizer.", lower_bound=0.0)
_TASKS = flags.DEFINE_list("tasks", ["digits_mlp"], "Task names, <task>:<field>=<value>... for a variant "
                           "(e.g. digits_mlp:hidden_sizes=32x32), or family:<name>:<seed> for a sampled task.")
_STEPS = flags.DEFINE_integer("steps", None, "Training steps T (default: the meta-training horizon of a checkpoint).",
                              lower_bound=1)
_SEEDS = flags.DEFINE_integer("seeds", 5, "Seeds per configuration.", lower_bound=1)
_BASELINES = flags.DEFINE_list("baselines", ["adam"], "Tuned baselines: hand-designed names and/or nadamw.")
_MULTIPLE = flags.DEFINE_integer("baseline_multiple", 4, "Learning-rate sweeps run this many times --steps.",
                                 lower_bound=1)
_NADAMW_TRIALS = flags.DEFINE_integer("nadamw_trials", 1000, "Configurations of the NAdamW random search.",
                                      lower_bound=1)
_VALID_EVERY = flags.DEFINE_integer("valid_every", 0, "Evaluate held-out loss every this many steps (0: never).",
                                    lower_bound=0)
_UNROLL = flags.DEFINE_integer("scan_unroll", 1, "Unroll the training loop this many steps: slower to compile, much "
                               "faster for conv nets on CPU (e.g. 20).", lower_bound=1)
_OUT = flags.DEFINE_string("out", None, "Output directory.")
_SUITE = flags.DEFINE_string("suite", None, "A named suite of lopt_eval.suites (e.g. heldout-v1, heldout-v1-long, "
                             "validation-v1): its tasks, steps and seeds, instead of --tasks/--steps/--seeds.")
_CACHE = flags.DEFINE_string("baseline_cache", None, "Directory of tuned baselines to reuse (and add to): a baseline "
                             "already computed for the same task, steps, seeds, search and package versions is read, "
                             "not run again.")
_STORED_ONLY = flags.DEFINE_bool("stored_baselines_only", False, "With --baseline_cache: skip (and list) the tasks "
                                  "whose tuned baselines are not stored there instead of tuning them.")

OWN_FLAGS = ("optimizer", "learning_rate", "tasks", "steps", "seeds", "baselines", "baseline_multiple",
             "nadamw_trials", "valid_every", "scan_unroll", "out", "baseline_cache", "suite", "data_dir",
             "stored_baselines_only")


def fail(message) -> None:
    common_flags.fail("evaluate", message)


def resolve_task(spec: str) -> lt.Task:
    """The task a spec names (`lopt_tasks.task_from_spec`), or one line saying why it names none."""
    try:
        return lt.task_from_spec(spec, data_dir=common_flags.DATA_DIR.value)
    except lt.TaskSpecError as e:
        fail(str(e))


class Candidate(NamedTuple):
    """The optimizer --optimizer names."""

    name: str  # as reported in the table and the results
    make: Callable  # () -> the optimizer
    default_steps: int | None  # its meta-training horizon, if it has one
    identity: dict  # what it is (lopt_pretrained.learned_identity / hand_designed_identity), for the results


def resolve_optimizer(spec: str) -> Candidate:
    """The optimizer `spec` names, or one line saying why it names none."""
    if spec.startswith("checkpoint:"):
        directory = spec[len("checkpoint:"):]
        if not os.path.isdir(directory):
            fail(f"no checkpoint directory {directory!r}")
        try:
            lopt, theta, _, metadata = saved_theta.read(directory)
        except saved_theta.SavedThetaError as e:
            fail(str(e))
        run = os.path.basename(os.path.dirname(os.path.abspath(directory))) or directory
        return Candidate(f"{lopt.name} ({run})", lambda: lopt.optimizer(theta), metadata.get("inner_length"),
                         lopt_pretrained.learned_identity(lopt, theta))
    if saved_theta.is_registry_entry(spec):
        name = spec[len(saved_theta.PRETRAINED):]
        try:
            lopt, theta, _, info = saved_theta.read(spec)
        except saved_theta.SavedThetaError as e:
            fail(f"cannot load pretrained optimizer {name!r}: {e}")
        return Candidate(f"pretrained:{name}", lambda: lopt.optimizer(theta), info.get("inner_length"),
                         lopt_pretrained.learned_identity(lopt, theta))
    if spec.startswith("reference:"):
        arch, _, path = spec[len("reference:"):].partition(":")
        if not path:
            fail(f"optimizer {spec!r}: reference weights are reference:<arch>:<file>, e.g. reference:celo:theta.state")
        try:
            lopt = la.make_learned_optimizer(arch)
            theta = lopt_pretrained.load_reference_checkpoint(path, arch)
        except (KeyError, OSError, lopt_pretrained.CheckpointFormatError) as e:
            fail(f"cannot load {arch} weights from {path!r}: {e}")
        return Candidate(f"{arch} ({os.path.basename(path)})", lambda: lopt.optimizer(theta), None,
                         lopt_pretrained.learned_identity(lopt, theta))
    if spec in la.HAND_DESIGNED:
        return Candidate(f"{spec}(lr={_LR.value:g})", lambda: la.make_optimizer(spec, learning_rate=_LR.value), None,
                         lopt_pretrained.hand_designed_identity(spec, {"learning_rate": _LR.value}))
    fail(f"unknown optimizer {spec!r}; choices: checkpoint:<dir>, pretrained:<name>, reference:<arch>:<file>, "
         f"{', '.join(sorted(la.HAND_DESIGNED))}")


def table(results: lopt_eval.Results) -> str:
    lines = [f"{'optimizer':<36}{'task':<24}{'final loss':>18}{'speedup vs tuned':>20}"]
    for s in results.summary:
        speed = ""
        if s.speedup:
            mark = {"lower": "≥", "upper": "≤"}.get(s.speedup["bound"], "")
            speed = f"{mark}{s.speedup['value']:.2f}x {s.speedup['baseline']}"
        loss = f"{s.final_loss_mean:.4f} ± {s.final_loss_std:.4f}"
        lines.append(f"{s.optimizer[:35]:<36}{s.task[:23]:<24}{loss:>18}{speed:>20}")
    return "\n".join(lines)


parse_flags = common_flags.flag_parser("evaluate", OWN_FLAGS)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    if not _OPTIMIZER.value:
        fail("--optimizer is required (checkpoint:<dir>, pretrained:<name> or a hand-designed name)")
    if not _OUT.value:
        fail("--out is required (results.json and the plots go there)")
    common_flags.check_output_dir("evaluate", "out", _OUT.value)
    for baseline in _BASELINES.value:
        if baseline != "nadamw" and baseline not in la.HAND_DESIGNED:
            fail(f"unknown baseline {baseline!r}; choices: {', '.join(sorted(la.HAND_DESIGNED))}")
    if _STORED_ONLY.value and not _CACHE.value:
        fail("--stored_baselines_only needs --baseline_cache (the directory the baselines are stored in)")
    candidate = resolve_optimizer(_OPTIMIZER.value)
    if _SUITE.value:
        try:
            suite = lopt_eval.suites.get_suite(_SUITE.value)
        except KeyError as e:
            fail(e.args[0])
        given = [f"--{f}" for f in ("tasks", "steps", "seeds", "baseline_multiple")
                 if flags.FLAGS[f].value != flags.FLAGS[f].default]
        if given:
            fail(f"--suite sets the tasks, steps, seeds and baseline multiple; drop {', '.join(given)}")
        specs, steps, seeds, multiple = suite.tasks, suite.num_steps, suite.seeds, suite.baseline_multiple
        task_unroll = suite.scan_unroll
    else:
        specs, steps, seeds = _TASKS.value, _STEPS.value or candidate.default_steps, tuple(range(_SEEDS.value))
        multiple, task_unroll = _MULTIPLE.value, ()
    if not steps:
        fail("--steps is required for an optimizer without a meta-training horizon")
    if not specs:
        fail("--tasks is empty: name at least one task")
    tasks = {spec: resolve_task(spec) for spec in specs}
    config = evaluation.EvaluationConfig(
        num_steps=int(steps), seeds=tuple(seeds), baselines=tuple(_BASELINES.value),
        baseline_multiple=multiple, nadamw_trials=_NADAMW_TRIALS.value, valid_every=_VALID_EVERY.value,
        scan_unroll=_UNROLL.value, task_scan_unroll=tuple(task_unroll))
    started = time.perf_counter()
    try:
        results = evaluation.evaluate(candidate.name, candidate.make, tasks, config,
                                      log=lambda m: print(m, file=sys.stderr, flush=True),
                                      baseline_cache_dir=_CACHE.value, stored_baselines_only=_STORED_ONLY.value)
    except (FileNotFoundError, lopt_eval.ResultsError) as e:
        fail(str(e))
    results = dataclasses.replace(results, config={**results.config, "candidate_identity": candidate.identity})
    out = _OUT.value
    skipped = results.config.get("skipped_tasks", {})
    tasks = {spec: task for spec, task in tasks.items() if spec not in skipped}
    lopt_eval.save(os.path.join(out, "results.json"), results)
    for spec in tasks:
        stem = os.path.join(out, spec.replace(":", "_"))
        plots.learning_curves(results, spec, f"{stem}.png", log_y=True)
        plots.loss_pareto(results, spec, f"{stem}_loss_vs_time.png", axis="time")
        plots.loss_pareto(results, spec, f"{stem}_loss_vs_memory.png", axis="memory")
    if any(s.speedup for s in results.summary):
        plots.speedup_curve(results, os.path.join(out, "speedups.png"))
    print(table(results))
    if any(s.speedup for s in results.summary):
        print(lopt_eval.scorecard.scorecard(results).line())
    for spec, why in skipped.items():
        print(f"not evaluated: {spec} ({why})")
    print(f"wrote {out}/results.json and plots in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
