"""Meta-training throughput on this machine: inner steps and outer (meta) steps per second.

Builds the learned optimizer and estimator exactly as `tools/meta_train` does
(same flags), then times `estimate` + the meta-optimizer update after a
warm-up step that compiles everything. The defaults are the tradeoffs
paper's set-up on offline data: small_fc_lopt, PES with antithetic pairs, a
meta-batch of 8 tasks, truncations of 20 steps in 2000-step runs, on the
digits MLP.

    bazel run //tools:meta_train_benchmark -- --estimator=pes --num_tasks=8 --trunc_length=20
"""

import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import lopt_es
import numpy as np
from absl import app, flags

import meta_train

_STEPS = flags.DEFINE_integer("benchmark_steps", 10, "Timed meta-training steps.", lower_bound=1)


def truncation(estimator: lopt_es.GradientEstimator) -> int:
    """The inner steps one estimate advances each run: `trunc_length`, or full ES's steps per compiled call."""
    return estimator.steps_per_call if isinstance(estimator, lopt_es.FullES) else estimator.trunc_length


def main(argv):
    if len(argv) > 1:
        sys.exit(f"meta_train_benchmark: unexpected arguments {argv[1:]}")
    _, lopt, estimator, tasks = meta_train.build()
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
    theta, opt_state, est_state, _ = outer_step(0, theta, opt_state, est_state)  # compiles
    compile_seconds = time.perf_counter() - started
    times, inner_steps = [], 0
    for i in range(1, _STEPS.value + 1):
        started = time.perf_counter()
        theta, opt_state, est_state, metrics = outer_step(i, theta, opt_state, est_state)
        times.append(time.perf_counter() - started)
        inner_steps += metrics["inner_steps"]
    total = float(np.sum(times))
    print(f"{lopt.name} + {type(estimator).__name__} on {tasks}: {estimator.num_tasks} tasks, "
          f"truncation {truncation(estimator)}, inner runs of {estimator.inner_length}, "
          f"jax {jax.__version__} on {jax.devices()[0].device_kind}")
    print(f"first step (compile) {compile_seconds:.1f} s; then {_STEPS.value} steps in {total:.2f} s")
    print(f"outer steps/s {_STEPS.value / total:.2f}   inner steps/s {inner_steps / total:.0f}   "
          f"median outer step {np.median(times) * 1e3:.0f} ms")


if __name__ == "__main__":
    app.run(main, flags_parser=meta_train.parse_flags)
