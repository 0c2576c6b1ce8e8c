"""Meta-training throughput on this machine: inner steps and outer (meta) steps per second.

Times `estimator.estimate` followed by the meta-optimizer update, after a
warm-up that compiles everything, for a learned optimizer on a fixed task.
The default is the tradeoffs paper's set-up on offline data: small_fc_lopt,
PES with antithetic pairs, a meta-batch of 8 tasks, truncations of 20 steps
in 2000-step inner runs, on the digits MLP.

    bazel run //tools:meta_train_benchmark -- --estimator=pes --num_tasks=8 --trunc_length=20
"""

import time

import jax
import lopt_architectures as la
import lopt_es
import lopt_tasks as lt
import numpy as np
import optax
from absl import app, flags

_LOPT = flags.DEFINE_enum("lopt", "small_fc_lopt", sorted(la.LEARNED), "Learned optimizer.")
_TASK = flags.DEFINE_string("task", "digits_mlp", "A task name of lopt_tasks.TASKS.")
_ESTIMATOR = flags.DEFINE_enum("estimator", "pes", ["pes", "truncated_es", "tbptt", "full_es"], "Estimator.")
_NUM_TASKS = flags.DEFINE_integer("num_tasks", 8, "Tasks per meta-batch.", lower_bound=1)
_TRUNC = flags.DEFINE_integer("trunc_length", 20, "Truncation length (full_es: steps per compiled call).", lower_bound=1)
_INNER = flags.DEFINE_integer("inner_length", 2000, "Inner run length.", lower_bound=1)
_STEPS = flags.DEFINE_integer("outer_steps", 10, "Timed meta-training steps.", lower_bound=1)


def make_estimator(lopt, family):
    common = dict(num_tasks=_NUM_TASKS.value, inner_length=_INNER.value)
    if _ESTIMATOR.value == "full_es":
        return lopt_es.FullES(lopt, family, steps_per_call=_TRUNC.value, **common)
    cls = {"pes": lopt_es.PES, "truncated_es": lopt_es.TruncatedES, "tbptt": lopt_es.TruncatedBPTT}[_ESTIMATOR.value]
    return cls(lopt, family, trunc_length=_TRUNC.value, **common)


def main(argv):
    del argv
    if _TASK.value not in lt.TASKS:
        raise app.UsageError(f"unknown task {_TASK.value!r}; known: {', '.join(sorted(lt.TASKS))}")
    lopt = la.make_learned_optimizer(_LOPT.value)
    family = lt.SingleTaskFamily(lt.get_task(_TASK.value))
    estimator = make_estimator(lopt, family)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    tx = optax.chain(optax.clip(3.0), optax.adam(1e-4))
    opt_state = tx.init(theta)
    update = jax.jit(lambda g, s, t: (lambda u, s: (optax.apply_updates(t, u), s))(*tx.update(g, s, t)))
    state = estimator.init(jax.random.PRNGKey(1), theta)

    def outer_step(i, theta, opt_state, state):
        grad, state, metrics = estimator.estimate(state, theta, jax.random.PRNGKey(100 + i))
        theta, opt_state = update(grad, opt_state, theta)
        jax.block_until_ready(theta)
        return theta, opt_state, state, metrics

    started = time.perf_counter()
    theta, opt_state, state, _ = outer_step(0, theta, opt_state, state)  # compiles
    compile_seconds = time.perf_counter() - started
    times, inner_steps = [], 0
    for i in range(1, _STEPS.value + 1):
        started = time.perf_counter()
        theta, opt_state, state, metrics = outer_step(i, theta, opt_state, state)
        times.append(time.perf_counter() - started)
        inner_steps += metrics["inner_steps"]
    total = float(np.sum(times))
    print(f"{_LOPT.value} + {_ESTIMATOR.value} on {_TASK.value}: {_NUM_TASKS.value} tasks, truncation "
          f"{_TRUNC.value}, inner runs of {_INNER.value}, jax {jax.__version__} on {jax.devices()[0].device_kind}")
    print(f"first step (compile) {compile_seconds:.1f} s; then {_STEPS.value} steps in {total:.2f} s")
    print(f"outer steps/s {_STEPS.value / total:.2f}   inner steps/s {inner_steps / total:.0f}   "
          f"median outer step {np.median(times) * 1e3:.0f} ms")


if __name__ == "__main__":
    app.run(main)
