"""Times an evaluation's training loop at several `scan_unroll` settings, in one run, as ratios to the rolled loop.

    bazel run //tools:scan_unroll_benchmark -- --task=digits_conv:channels=8x16 \\
        --optimizers=adam,pretrained:celo --unrolls=1,20

`lopt_eval.runner.train` runs the step loop in `lax.scan`; unrolling it
changes only speed (the same numbers), so the suites choose per task
(`lopt_eval.suites.Suite.scan_unroll`). Whether unrolling pays depends on the
task, the optimizer and XLA's version, so that choice is measured here rather
than assumed: for each optimizer and unroll, one call of --steps steps over
the suite's 5 seeds is compiled and run once (reported as compile+run), then
timed again (run), and the run time is given relative to unroll 1.
"""

import time

import lopt_architectures as la
import lopt_tasks as lt
from absl import app, flags
from lopt_eval import runner

import common_flags
import saved_theta

_TASK = flags.DEFINE_string("task", "digits_conv:channels=8x16", "Task spec (lopt_tasks.task_from_spec).")
_OPTIMIZERS = flags.DEFINE_list("optimizers", ["adam"], "Hand-designed names (at learning rate 1e-3) and/or "
                                "pretrained:<entry>.")
_UNROLLS = flags.DEFINE_list("unrolls", ["1", "20"], "Unroll settings to compare; the first is the reference.")
_STEPS = flags.DEFINE_integer("steps", 100, "Steps per timed call.", lower_bound=1)
_SEEDS = flags.DEFINE_integer("seeds", 5, "Seeds trained side by side (vmapped), as in an evaluation.", lower_bound=1)

OWN_FLAGS = ("task", "optimizers", "unrolls", "steps", "seeds", "data_dir")


def fail(message) -> None:
    common_flags.fail("scan_unroll_benchmark", message)


def make_factory(name: str):
    """A factory of the optimizer `name` names, for runner.train (θ read by the tools' one reader, saved_theta)."""
    if name in la.HAND_DESIGNED:
        return lambda hyperparameters: la.make_optimizer(name, learning_rate=1e-3)
    if not saved_theta.is_registry_entry(name):
        fail(f"unknown optimizer {name!r}: a hand-designed name ({', '.join(sorted(la.HAND_DESIGNED))}) or "
             "pretrained:<entry>")
    try:
        lopt, theta, _ = saved_theta.load(name)
    except saved_theta.SavedThetaError as e:
        fail(f"cannot load {name!r}: {e}")
    return lambda hyperparameters: lopt.optimizer(theta)


def time_unroll(task, factory, unroll: int, steps: int, seeds: int) -> tuple[float, float]:
    """(seconds of the first call, compile included; seconds of a second, identical call)."""
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        runner.train(task, factory, steps, list(range(seeds)), scan_unroll=unroll, steps_per_call=steps)
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


parse_flags = common_flags.flag_parser("scan_unroll_benchmark", OWN_FLAGS)


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}")
    try:
        unrolls = [int(u) for u in _UNROLLS.value]
    except ValueError:
        fail(f"--unrolls must be positive integers, got {_UNROLLS.value}")
    if not unrolls or min(unrolls) < 1:
        fail(f"--unrolls must be positive integers, got {_UNROLLS.value}")
    try:
        task = lt.task_from_spec(_TASK.value, data_dir=common_flags.DATA_DIR.value)
    except lt.TaskSpecError as e:
        fail(str(e))
    factories = {name: make_factory(name) for name in _OPTIMIZERS.value}
    print(f"{_TASK.value}: {_SEEDS.value} seeds x {_STEPS.value} steps per call")
    print(f"{'optimizer':<28}{'unroll':>7}{'compile+run s':>15}{'run s':>9}{'run vs unroll ' + str(unrolls[0]):>20}")
    for name, factory in factories.items():
        reference = None
        for unroll in unrolls:
            first, again = time_unroll(task, factory, unroll, _STEPS.value, _SEEDS.value)
            reference = again if reference is None else reference
            print(f"{name:<28}{unroll:>7}{first:>15.1f}{again:>9.2f}{again / reference:>20.2f}", flush=True)
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
