"""Evaluates an optimizer against learning-rate-tuned baselines; writes JSON and plots, prints a table.

    bazel run //tools:evaluate -- --optimizer=checkpoint:runs/pes/theta \\
        --tasks=digits_mlp,digits_autoencoder,family:mlp:1 --steps=500 --seeds=5 --out=runs/pes/eval

`--optimizer` is `checkpoint:<dir>` (meta-parameters saved by tools/meta_train),
`pretrained:<name>` (lopt_pretrained's registry) or a hand-designed
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
the sorted speedups. A wrong flag, an unknown name, a missing checkpoint or
missing data ends the program with one line saying so.
"""

import dataclasses
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # `bazel run` passes no --test_env; avoids probing for TPUs

import jax
import lopt_architectures as la
import lopt_es
import lopt_eval
import lopt_pretrained
import lopt_tasks as lt
from absl import app, flags
from lopt_eval import evaluation, plots

import common_flags

_OPTIMIZER = flags.DEFINE_string("optimizer", None, "checkpoint:<dir>, pretrained:<name>, or a hand-designed name.")
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

OWN_FLAGS = ("optimizer", "learning_rate", "tasks", "steps", "seeds", "baselines", "baseline_multiple",
             "nadamw_trials", "valid_every", "scan_unroll", "out", "data_dir")


def fail(message) -> None:
    common_flags.fail("evaluate", message)


def resolve_task(spec: str) -> lt.Task:
    if spec.startswith("family:"):
        parts = spec.split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            fail(f"task {spec!r}: sampled tasks are family:<name>:<seed>, e.g. family:mlp:1")
        if parts[1] not in lt.FAMILIES:
            fail(f"unknown task family {parts[1]!r}; choices: {', '.join(sorted(lt.FAMILIES))}")
        family = common_flags.with_data_dir(lt.get_family(parts[1]))
        return family.task(family.sample(jax.random.PRNGKey(int(parts[2]))))
    name, *overrides = spec.split(":")
    if name not in lt.TASKS:
        fail(f"unknown task {name!r}; choices: {', '.join(sorted(lt.TASKS))}, or family:<name>:<seed>")
    task = common_flags.with_data_dir(lt.get_task(name))
    return task_variant(task, spec, overrides) if overrides else task


# Fields a variant may not change: its identity and where its data lives.
_FIXED_FIELDS = ("name", "data_dir")


def task_variant(task: lt.Task, spec: str, overrides: list[str]) -> lt.Task:
    """`task` with fields replaced, from `field=value` items (tuples of ints as 32x32, () as an empty value).

    The tradeoffs paper's generalisation axes (width, depth, batch size) as
    held-out tasks, e.g. digits_mlp:hidden_sizes=32x32:batch_size=32."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.name not in _FIXED_FIELDS}
    changes = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in fields:
            fail(f"task {spec!r}: {item!r} is not field=value with a field of {task.name}: {', '.join(sorted(fields))}")
        default = fields[key]
        try:
            if isinstance(default, bool):
                if text not in ("true", "false"):
                    raise ValueError
                value = text == "true"
            elif isinstance(default, (int, float, str)):
                value = type(default)(text)
            elif isinstance(default, tuple) or default is None:
                value = tuple(int(part) for part in text.split("x")) if text not in ("", "()") else ()
            else:
                raise ValueError
            if any(isinstance(v, int) and not isinstance(v, bool) and v < 1
                   for v in (value if isinstance(value, tuple) else (value,))):
                raise ValueError
        except ValueError:
            fail(f"task {spec!r}: cannot read {key}={text!r} like {key}'s default {default!r} "
                 "(positive integers; tuples of them are written 32x32)")
        changes[key] = value
    try:
        return dataclasses.replace(task, name=spec, **changes)
    except (TypeError, ValueError) as e:
        fail(f"task {spec!r}: {e}")


def resolve_optimizer(spec: str):
    """(name to report, factory of the optimizer, default number of steps or None)."""
    if spec.startswith("checkpoint:"):
        directory = spec[len("checkpoint:"):]
        if not os.path.isdir(directory):
            fail(f"no checkpoint directory {directory!r}")
        try:
            lopt, theta, metadata = lopt_es.load_meta_params(directory)
        except lopt_es.CheckpointError as e:
            fail(str(e))
        run = os.path.basename(os.path.dirname(os.path.abspath(directory))) or directory
        return f"{lopt.name} ({run})", lambda: lopt.optimizer(theta), metadata.get("inner_length")
    if spec.startswith("pretrained:"):
        name = spec[len("pretrained:"):]
        try:
            lopt, theta, info = lopt_pretrained.load(name)
        except (lopt_pretrained.UnknownPretrainedError, lopt_pretrained.CheckpointFormatError) as e:
            fail(f"cannot load pretrained optimizer {name!r}: {e}")
        return f"pretrained:{name}", lambda: lopt.optimizer(theta), info.get("inner_length")
    if spec in la.HAND_DESIGNED:
        return f"{spec}(lr={_LR.value:g})", lambda: la.make_optimizer(spec, learning_rate=_LR.value), None
    fail(f"unknown optimizer {spec!r}; choices: checkpoint:<dir>, pretrained:<name>, "
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
    for baseline in _BASELINES.value:
        if baseline != "nadamw" and baseline not in la.HAND_DESIGNED:
            fail(f"unknown baseline {baseline!r}; choices: {', '.join(sorted(la.HAND_DESIGNED))}")
    name, make, default_steps = resolve_optimizer(_OPTIMIZER.value)
    steps = _STEPS.value or default_steps
    if not steps:
        fail("--steps is required for an optimizer without a meta-training horizon")
    tasks = {spec: resolve_task(spec) for spec in _TASKS.value}
    config = evaluation.EvaluationConfig(
        num_steps=int(steps), seeds=tuple(range(_SEEDS.value)), baselines=tuple(_BASELINES.value),
        baseline_multiple=_MULTIPLE.value, nadamw_trials=_NADAMW_TRIALS.value, valid_every=_VALID_EVERY.value,
        scan_unroll=_UNROLL.value)
    started = time.perf_counter()
    try:
        results = evaluation.evaluate(name, make, tasks, config, log=lambda m: print(m, file=sys.stderr, flush=True))
    except FileNotFoundError as e:
        fail(str(e))
    out = _OUT.value
    lopt_eval.save(os.path.join(out, "results.json"), results)
    for spec in tasks:
        stem = os.path.join(out, spec.replace(":", "_"))
        plots.learning_curves(results, spec, f"{stem}.png", log_y=True)
        plots.loss_pareto(results, spec, f"{stem}_loss_vs_time.png", axis="time")
        plots.loss_pareto(results, spec, f"{stem}_loss_vs_memory.png", axis="memory")
    if any(s.speedup for s in results.summary):
        plots.speedup_curve(results, os.path.join(out, "speedups.png"))
    print(table(results))
    print(f"wrote {out}/results.json and plots in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
