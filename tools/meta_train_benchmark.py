"""Meta-training throughput on this machine: inner steps and outer (meta) steps per second.

Builds the learned optimizer and estimator exactly as `tools/meta_train` does
(same flags), then times `estimate` + the meta-optimizer update after a
warm-up step that compiles everything. The defaults are the tradeoffs
paper's set-up on offline data: small_fc_lopt, PES with antithetic pairs, a
meta-batch of 8 tasks, truncations of 20 steps in 2000-step runs, on the
digits MLP.

    bazel run //tools:meta_train_benchmark -- --estimator=pes --num_tasks=8 --trunc_length=20

With `--family` (a list, as for `tools/meta_train`) the estimator is a mixture
of groups, one per family and structure; the benchmark then also times one
group of the mixture's total size (the first group's family, all its tasks
in one structure) and prints the ratio of the two inner steps/s, which says
what splitting a meta-batch into groups costs:

    bazel run //tools:meta_train_benchmark -- --family=tiny_digits --structures_per_family=8 --num_tasks=1
"""

import dataclasses
import os
import sys
import time
from typing import NamedTuple

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import lopt_architectures as la
import lopt_es
import numpy as np
from absl import app, flags

import meta_train

_STEPS = flags.DEFINE_integer("benchmark_steps", 10, "Timed meta-training steps.", lower_bound=1)


class Timing(NamedTuple):
    compile_seconds: float  # the first step, which compiles
    step_seconds: list[float]  # the timed steps after it
    inner_steps: int  # inner steps of the timed steps

    def inner_steps_per_second(self) -> float:
        return self.inner_steps / float(np.sum(self.step_seconds))


def truncation(estimator: lopt_es.FamilyEstimator) -> int:
    """The inner steps one estimate advances each run: `trunc_length`, or full ES's steps per compiled call."""
    return estimator.steps_per_call if isinstance(estimator, lopt_es.FullES) else estimator.trunc_length


def measure(lopt: la.LearnedOptimizer, estimator: lopt_es.GradientEstimator, steps: int) -> Timing:
    """Times `steps` meta-training steps (estimate + update) after one that compiles."""
    config = lopt_es.MetaTrainConfig(num_steps=1, learning_rate=1e-4)
    state = lopt_es.init_state(lopt, estimator, config)
    tx = config.meta_optimizer()
    update = jax.jit(lambda g, s, t: lopt_es.apply_meta_update(tx, g, s, t))
    theta, opt_state, est_state = state.theta, state.opt_state, state.estimator_state

    def outer_step(i, theta, opt_state, est_state):
        grad, est_state, metrics = estimator.estimate(est_state, theta, jax.random.PRNGKey(100 + i))
        theta, opt_state = update(grad, opt_state, theta)
        jax.block_until_ready(theta)
        return theta, opt_state, est_state, metrics

    started = time.perf_counter()
    theta, opt_state, est_state, _ = outer_step(0, theta, opt_state, est_state)
    compile_seconds = time.perf_counter() - started
    times, inner_steps = [], 0
    for i in range(1, steps + 1):
        started = time.perf_counter()
        theta, opt_state, est_state, metrics = outer_step(i, theta, opt_state, est_state)
        times.append(time.perf_counter() - started)
        inner_steps += metrics["inner_steps"]
    return Timing(compile_seconds, times, inner_steps)


def report(timing: Timing, label: str = "") -> None:
    total = float(np.sum(timing.step_seconds))
    steps = len(timing.step_seconds)
    print(f"{label}first step (compile) {timing.compile_seconds:.1f} s; then {steps} steps in {total:.2f} s")
    print(f"{label}outer steps/s {steps / total:.2f}   inner steps/s {timing.inner_steps_per_second():.0f}   "
          f"median outer step {np.median(timing.step_seconds) * 1e3:.0f} ms")


def main(argv):
    if len(argv) > 1:
        sys.exit(f"meta_train_benchmark: unexpected arguments {argv[1:]}")
    _, lopt, estimator, tasks = meta_train.build()
    groups = estimator.estimators if isinstance(estimator, lopt_es.EstimatorMixture) else (estimator,)
    first = groups[0]
    size = (f"{estimator.num_tasks} tasks" if len(groups) == 1 else
            f"{len(groups)} groups of {first.num_tasks} task{'s' if first.num_tasks > 1 else ''} "
            f"({estimator.num_tasks} tasks)")
    print(f"{lopt.name} + {type(first).__name__} on {tasks}: {size}, truncation {truncation(first)}, "
          f"inner runs of {first.inner_length}, jax {jax.__version__} on {jax.devices()[0].device_kind}")
    mixture = measure(lopt, estimator, _STEPS.value)
    if len(groups) == 1:
        report(mixture)
        return
    report(mixture, "mixture: ")
    single = measure(lopt, dataclasses.replace(first, num_tasks=estimator.num_tasks), _STEPS.value)
    report(single, f"one group of {estimator.num_tasks} tasks: ")
    print(f"mixture / one group inner steps/s: "
          f"{mixture.inner_steps_per_second() / single.inner_steps_per_second():.2f}")


if __name__ == "__main__":
    app.run(main, flags_parser=meta_train.parse_flags)
