"""Times one optimizer update of every lopt optimizer against optax.adam.

For each parameter-tree size it prints, per optimizer, the median time of a
jitted update, its ratio to the median of `optax.adam` (update +
apply_updates) measured in the same interleaved rounds (this machine is
noisy, so only ratios from one run are comparable), and the optimizer-state
bytes per parameter, measured from the state (parameters and step counters
excluded).

    bazel run //tools:update_benchmark -- --sizes=1m,100k --repeats=30

After each table it prints a few ratios measured in the same rounds:
celo / small_fc_lopt (Celo's target: at most 1.2), celo_adam / optax.adam, and
celo2 / small_fc_lopt, whose orthogonalisation is a chain of matrix products
that grows with the width of each weight matrix (compare the sizes).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import optax
from absl import app, flags
from lopt_eval.overhead import state_bytes_per_param, time_interleaved

SIZES = {
    "1m": {"w": (1024, 1024), "b": (1024,)},
    "100k": {"w": (316, 316), "b": (316,)},
    "10k": {"w": (100, 100), "b": (100,)},
}

#: Ratios printed after each table: (optimizer, the one it is measured against). Celo's update rule is
#: small_fc_lopt-sized and runs on the same fused elementwise path, so it should cost about as much.
PAIRS = (("celo", "small_fc_lopt"), ("celo_adam", "optax.adam"), ("celo2", "small_fc_lopt"))

_SIZES = flags.DEFINE_list("sizes", ["1m", "100k"], f"Parameter trees to time: {', '.join(SIZES)}.")
_REPEATS = flags.DEFINE_integer("repeats", 30, "Timed rounds; each round times every optimizer once.", lower_bound=3)
_OPTIMIZERS = flags.DEFINE_list(
    "optimizers", None, "Optimizers to time (default: all hand-designed and learned ones, "
    "plus small_fc_lopt_unfused, the straightforward small_fc_lopt)."
)


def candidates() -> dict[str, Callable[[], la.Optimizer]]:
    """Name → optimizer factory, for everything the architectures package offers."""
    out = {name: (lambda name=name: la.make_optimizer(name, learning_rate=1e-3)) for name in la.HAND_DESIGNED}
    for name in la.LEARNED:
        lopt = la.make_learned_optimizer(name)
        out[name] = lambda lopt=lopt: lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0)))
    unfused = la.SmallFcLOpt(fused=False)
    out["small_fc_lopt_unfused"] = lambda: unfused.optimizer(unfused.init_meta_params(jax.random.PRNGKey(0)))
    return out


def make_steps(names, params, grads):
    """name → (jitted step, its state, state bytes per parameter); optax.adam first."""
    adam = optax.adam(1e-3)

    @jax.jit
    def adam_step(p, s, g):
        updates, s = adam.update(g, s, p)
        return optax.apply_updates(p, updates), s

    adam_state = adam.init(params)
    steps = {"optax.adam": (lambda s: adam_step(params, s, grads)[1], adam_state,
                            state_bytes_per_param(adam_state, params))}
    factories = candidates()
    # Made once, so that no call pays for creating them.
    loss, key = jnp.asarray(1.0), jax.random.PRNGKey(1)
    for name in names:
        opt = factories[name]()
        state = opt.init(params, num_steps=1000, key=jax.random.PRNGKey(0))
        update = jax.jit(opt.update)
        steps[name] = (lambda s, update=update: update(s, grads, loss=loss, key=key),
                       state, state_bytes_per_param(state, params))
    return steps


def time_steps(steps, repeats: int) -> dict[str, float]:
    """Median seconds per call (`lopt_eval.overhead.time_interleaved`: interleaved rounds in random order)."""
    calls = {name: (lambda step=step, state=state: step(state)) for name, (step, state, _) in steps.items()}
    return {name: float(np.median(t)) for name, t in time_interleaved(calls, repeats=repeats, warmup=3).items()}


def main(argv):
    del argv
    factories = candidates()
    names = _OPTIMIZERS.value or list(factories)
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise app.UsageError(f"unknown optimizers {unknown}; known: {', '.join(factories)}")
    for size in _SIZES.value:
        if size not in SIZES:
            raise app.UsageError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}, {_REPEATS.value} interleaved rounds")
    for size in _SIZES.value:
        key = jax.random.PRNGKey(0)
        params = {k: jax.random.normal(key, s) for k, s in SIZES[size].items()}
        grads = jax.tree_util.tree_map(lambda p: 0.01 * p + 1e-3, params)
        num = sum(p.size for p in jax.tree_util.tree_leaves(params))
        steps = make_steps(names, params, grads)
        medians = time_steps(steps, _REPEATS.value)
        base = medians["optax.adam"]
        print(f"\n{num:,} parameters ({size})")
        print(f"{'optimizer':<24}{'median ms':>11}{'x optax.adam':>14}{'state B/param':>15}")
        for name, (_, _, state_bytes) in steps.items():
            print(f"{name:<24}{medians[name] * 1e3:>11.3f}{medians[name] / base:>14.2f}{state_bytes:>15.2f}")
        for name, reference in PAIRS:
            if name in medians and reference in medians:
                print(f"{name} / {reference}: {medians[name] / medians[reference]:.2f}")


if __name__ == "__main__":
    app.run(main)
