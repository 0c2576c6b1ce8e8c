"""Lists every registered task and task family with its size and the cost of one training step.

For a fixed task a row gives its parameter count, the median time of one
jitted training step (value_and_grad of the loss and an SGD update, after
compiling, the batch already on the device) and the median time to draw one
training batch from its dataset. A family gets one row for `--family_samples`
sampled configs, with min / median / max of each. Tasks whose data is not on
this machine show "data missing" instead of times, unless `--mock_examples`
replaces TensorFlow Datasets by generated data in the real format (times do
not depend on the pixel values).

    bazel run //tools:list_tasks -- --names=digits_mlp,text_lstm --timing_runs=20
    bazel run //tools:list_tasks -- --mock_examples=1024
"""

import contextlib
import dataclasses
import os
import statistics
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # `bazel run` passes no --test_env; avoids probing for TPUs

import jax
import lopt_tasks
import numpy as np
import tensorflow_datasets as tfds
from absl import app, flags, logging
from lopt_tasks import timing

import common_flags

_NAMES = flags.DEFINE_list("names", None, "Tasks and families to list (default: all of lopt_tasks.TASKS and FAMILIES).")
_FAMILY_SAMPLES = flags.DEFINE_integer("family_samples", 3, "Configs sampled from each family.", lower_bound=1)
_RUNS = flags.DEFINE_integer("timing_runs", 5, "Timed runs of each step and batch draw, after compiling.", lower_bound=1)
_DATA_DIR = common_flags.DATA_DIR
_MOCK_EXAMPLES = flags.DEFINE_integer(
    "mock_examples", 0, "If positive, TensorFlow Datasets are replaced by this many generated examples in the real "
    "format (tfds.testing.mock_data), so tasks whose data is not here are timed too.", lower_bound=0)
_OWN_FLAGS = ("names", "family_samples", "timing_runs", "data_dir", "mock_examples")

MISSING = "data missing"


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One task's size and costs; the times are None when its data is missing."""

    params: int
    step_seconds: float | None
    batch_seconds: float | None


def param_count(task: lopt_tasks.Task) -> int:
    params, _ = jax.eval_shape(task.init_with_state, jax.random.PRNGKey(0))
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))


def _median_seconds(fn, runs: int) -> float:
    """Median seconds of `runs` calls of `fn` (which returns numpy arrays: nothing to wait for)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(task: lopt_tasks.Task, runs: int) -> Measurement:
    """Parameter count, median step time (`lopt_tasks.timing`) and median batch-draw time of `task`."""
    params_count = param_count(task)
    try:
        train = task.datasets["train"]
    except FileNotFoundError:
        return Measurement(params_count, None, None)
    step_seconds = timing.measure_step_time(task, num_runs=runs)
    draws = iter(range(1, runs + 1))
    batch_seconds = _median_seconds(lambda: train.batch(next(draws), 0), runs)
    return Measurement(params_count, step_seconds, batch_seconds)


def _spread(values, fmt) -> str:
    if len(values) == 1:
        return fmt(values[0])
    return " / ".join(fmt(v) for v in (min(values), statistics.median(values), max(values)))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def row(name: str, kind: str, measurements: list[Measurement]) -> str:
    """One printed line; several measurements (a family's samples) show min / median / max."""
    params = _spread([m.params for m in measurements], lambda v: f"{int(v):,}")
    timed = [m for m in measurements if m.step_seconds is not None]
    if timed:
        step = _spread([m.step_seconds for m in timed], _ms)
        batch = _spread([m.batch_seconds for m in timed], _ms)
    else:
        step = batch = MISSING
    return f"{name:<22}{kind:<8}{params:>32}  {step:>28}  {batch:>28}"


HEADER = f"{'name':<22}{'kind':<8}{'params':>32}  {'step ms':>28}  {'batch ms':>28}"


def choices() -> dict[str, str]:
    """name → "task" or "family", for everything registered."""
    return {**{n: "task" for n in lopt_tasks.TASKS}, **{n: "family" for n in lopt_tasks.FAMILIES}}


def measure_name(name: str, kind: str, family_samples: int, runs: int, data_dir: str | None) -> list[Measurement]:
    if kind == "task":
        return [measure(common_flags.with_data_dir(lopt_tasks.get_task(name), data_dir), runs)]
    family = common_flags.with_data_dir(lopt_tasks.get_family(name), data_dir)
    configs = [family.sample(jax.random.PRNGKey(i)) for i in range(family_samples)]
    return [measure(common_flags.with_data_dir(family.task(cfg), data_dir), runs) for cfg in configs]


parse_flags = common_flags.flag_parser("list_tasks", _OWN_FLAGS)


def main(argv):
    if len(argv) > 1:
        sys.exit(f"list_tasks: unexpected arguments {argv[1:]}; select names with --names")
    known = choices()
    names = _NAMES.value or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"list_tasks: unknown names {', '.join(unknown)}; choices: {', '.join(sorted(known))}")
    logging.set_verbosity(logging.ERROR)  # tfds warns about every dataset directory it does not find
    mock = _MOCK_EXAMPLES.value
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; median of {_RUNS.value} runs; "
          f"families: min / median / max over {_FAMILY_SAMPLES.value} sampled configs"
          + (f"; tfds data generated ({mock} examples per split)" if mock else ""))
    print(HEADER)
    with tfds.testing.mock_data(num_examples=mock) if mock else contextlib.nullcontext():
        for name in names:
            measurements = measure_name(name, known[name], _FAMILY_SAMPLES.value, _RUNS.value, _DATA_DIR.value)
            print(row(name, known[name], measurements), flush=True)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
