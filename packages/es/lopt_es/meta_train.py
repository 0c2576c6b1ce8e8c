"""The meta-training loop: θ ← θ − Adam(clip(ĝ)) with ĝ from a gradient estimator; resumable.

    state = meta_train(lopt, estimator, MetaTrainConfig(num_steps=1000), workdir="runs/pes")

Each step s draws its randomness from fold_in(PRNGKey(seed), s), asks the
estimator (the curriculum's version of it at step s) for a meta-gradient,
clips every element at `gradient_clip` and applies Adam (tradeoffs paper
App. D.1: Adam, elementwise clipping at 3). Metrics are appended to
`workdir/metrics.jsonl`, one JSON object per step. Every
`checkpoint_every` steps, and at the end, everything needed to continue is
checkpointed (θ, the meta-optimizer's state, the estimator's state with its
inner runs, accumulators and data positions, and the step): a run that is
stopped and restarted with the same arguments resumes from its newest
checkpoint and ends bit-identical to an uninterrupted run. Resuming is
refused (an error, nothing overwritten) when the arguments do not fit: a run
configuration other than the one recorded in `workdir/config.json`
(`workdir.py`), a checkpoint of another optimizer, estimator or size, or more
steps done than `num_steps`. A damaged newest checkpoint is skipped for the
newest intact one. A step whose meta-gradient is non-finite leaves θ and the
meta-optimizer untouched (`skipped_update: 1`); `max_skipped_updates` of them
in a row stop the run (`StalledError`), since such a run can only idle.
"""

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import optax

from lopt_es import checkpoint
from lopt_es import workdir as workdir_lib
from lopt_es.base import GradientEstimator
from lopt_es.curriculum import Curriculum

_LOG = logging.getLogger(__name__)

#: Fields of inner optimizer states newer than some checkpoints: resuming such a
#: checkpoint starts them at their initial value (`skipped_steps`: the learned
#: optimizers' count of steps skipped for non-finite input, 0 in older code).
ADDED_STATE_FIELDS = ("skipped_steps",)


@dataclasses.dataclass(frozen=True)
class MetaTrainConfig:
    num_steps: int
    learning_rate: float = 1e-3
    gradient_clip: float = 3.0
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    eval_every: int = 0
    seed: int = 0
    weight_decay: float = 0.0  # > 0: AdamW (decoupled weight decay on θ), as Celo's meta-training
    max_skipped_updates: int = 20  # stop after this many non-finite meta-gradients in a row (0: never)

    def meta_optimizer(self) -> optax.GradientTransformation:
        """Adam (AdamW with `weight_decay`) on gradients clipped elementwise at `gradient_clip`."""
        if self.weight_decay > 0:
            return optax.chain(optax.clip(self.gradient_clip),
                               optax.adamw(self.learning_rate, weight_decay=self.weight_decay))
        return optax.chain(optax.clip(self.gradient_clip), optax.adam(self.learning_rate))


class StalledError(RuntimeError):
    """Meta-training stopped: every one of the last `max_skipped_updates` meta-gradients was non-finite."""


class MetaTrainState(NamedTuple):
    step: np.ndarray  # meta-training steps done
    theta: Any
    opt_state: Any
    estimator_state: Any


def _init_keys(seed: int) -> jax.Array:
    """(θ's key, the estimator's key) of a run with this seed."""
    return jax.random.split(jax.random.PRNGKey(seed))


def initial_meta_params(lopt: la.LearnedOptimizer, seed: int) -> Any:
    """θ where `meta_train` with this seed starts."""
    return lopt.init_meta_params(_init_keys(seed)[0])


def init_state(lopt: la.LearnedOptimizer, estimator: GradientEstimator, config: MetaTrainConfig) -> MetaTrainState:
    """The state before the first step (also the template that checkpoints are checked against)."""
    theta = initial_meta_params(lopt, config.seed)
    estimator_key = _init_keys(config.seed)[1]
    return MetaTrainState(
        step=np.asarray(0, np.int64), theta=theta, opt_state=config.meta_optimizer().init(theta),
        estimator_state=estimator.init(estimator_key, theta),
    )


def _gradient_norm(grad: Any) -> float:
    return float(jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree_util.tree_leaves(grad))))


def default_run_config(lopt: la.LearnedOptimizer, estimator: GradientEstimator, config: MetaTrainConfig) -> dict:
    """What `meta_train` records of a run whose caller describes none: names and the meta-optimizer's settings."""
    return {"lopt": lopt.name, "estimator": type(estimator).__name__, "learning_rate": config.learning_rate,
            "gradient_clip": config.gradient_clip, "weight_decay": config.weight_decay, "seed": config.seed}


def _trailing_skips(records: list[dict]) -> int:
    """How many of the last records are skipped updates in a row."""
    count = 0
    for record in reversed(records):
        if record.get("skipped_update") != 1:
            break
        count += 1
    return count


def meta_train(
    lopt: la.LearnedOptimizer,
    estimator: GradientEstimator,
    config: MetaTrainConfig,
    workdir: str,
    *,
    curriculum: Curriculum | None = None,
    eval_fn: Callable[[Any, int], dict] | None = None,
    on_step: Callable[[int, dict], None] | None = None,
    stop_after: int | None = None,
    run_config: dict | None = None,
    log: Callable[[str], None] | None = None,
) -> MetaTrainState:
    """Meta-trains θ in `workdir`, resuming from its newest intact checkpoint if there is one.

    Args:
      lopt: the learned optimizer whose θ is trained.
      estimator: the gradient estimator (its configuration at step 0).
      config: steps, meta-optimizer and checkpointing settings.
      workdir: checkpoints/, config.json and metrics.jsonl go here.
      curriculum: changes estimator fields with the step.
      eval_fn: `eval_fn(theta, step) -> metrics`, called every `eval_every` steps.
      on_step: `on_step(step, metrics)` after every step (e.g. a progress bar).
      stop_after: stop (after checkpointing) once this many steps are done;
        for tests and for running in pieces.
      run_config: everything that determines the run's result, as JSON
        (default: `default_run_config`); recorded when the run starts and
        compared when it resumes. Settings that do not change the result
        (num_steps, checkpoint_every, ...) belong outside it.
      log: receives what resuming does ("resuming at step s") and what it
        repairs (a skipped damaged checkpoint, a torn metrics line); default:
        this module's logger.

    Raises:
      workdir.ResumeError: another run configuration, or more steps done than `num_steps`.
      checkpoint.CheckpointError: no intact checkpoint, or one of another optimizer, estimator or size.
      workdir.MetricsError: metrics.jsonl is damaged beyond a torn last line.
      StalledError: `max_skipped_updates` non-finite meta-gradients in a row (after checkpointing).
    """
    note, warn = log or _LOG.info, log or _LOG.warning
    curriculum = curriculum or Curriculum()
    checkpoints = os.path.join(workdir, "checkpoints")
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    os.makedirs(workdir, exist_ok=True)
    run_config = default_run_config(lopt, estimator, config) if run_config is None else run_config
    resuming = bool(checkpoint.list_steps(checkpoints))
    if resuming:  # before any compute: a refused resumption costs nothing
        workdir_lib.check_run_config(workdir, run_config, warn)
    state = init_state(lopt, curriculum.apply(estimator, 0), config)
    if resuming:
        state, _, _ = checkpoint.restore(checkpoints, state, on_skip=warn, added_fields=ADDED_STATE_FIELDS)
        if int(state.step) > config.num_steps:
            raise workdir_lib.ResumeError(
                f"the run in {workdir} has done {int(state.step)} steps, more than the {config.num_steps} asked for; "
                f"ask for {int(state.step)} or more to continue it (a run is not rewound).")
        note(f"resuming at step {int(state.step)}")
    else:
        workdir_lib.write_run_config(workdir, run_config)
    # Lines of steps after the checkpoint (or, in a fresh run, of a run that never checkpointed) are redone.
    skipped = _trailing_skips(workdir_lib.truncate_metrics(metrics_path, int(state.step), warn))
    tx = config.meta_optimizer()
    update = jax.jit(lambda grad, opt_state, theta: apply_meta_update(tx, grad, opt_state, theta))
    last = config.num_steps if stop_after is None else min(stop_after, config.num_steps)

    def save(state):
        checkpoint.save(checkpoints, int(state.step), state, {"lopt": lopt.name, "estimator": type(estimator).__name__},
                        keep=config.keep_checkpoints)

    while int(state.step) < last:
        step = int(state.step)
        started = time.perf_counter()
        step_estimator = curriculum.apply(estimator, step)
        key = jax.random.fold_in(jax.random.PRNGKey(config.seed), step)
        grad, estimator_state, metrics = step_estimator.estimate(state.estimator_state, state.theta, key)
        if all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grad)):
            theta, opt_state = update(grad, state.opt_state, state.theta)
            metrics = {**metrics, "skipped_update": 0}
            skipped = 0
        else:  # never let a non-finite estimate into θ or Adam's moments
            theta, opt_state = state.theta, state.opt_state
            metrics = {**metrics, "skipped_update": 1}
            skipped += 1
        state = MetaTrainState(np.asarray(step + 1, np.int64), theta, opt_state, estimator_state)
        record = {"step": step, **metrics, "grad_norm": _gradient_norm(grad),
                  "seconds": time.perf_counter() - started}
        if config.eval_every and eval_fn is not None and (step + 1) % config.eval_every == 0:
            record.update({f"eval/{k}": v for k, v in eval_fn(theta, step + 1).items()})
        with open(metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if on_step is not None:
            on_step(step, record)
        stalled = config.max_skipped_updates and skipped >= config.max_skipped_updates
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == last or stalled:
            save(state)
        if stalled:
            raise StalledError(
                f"meta-training stopped after {step + 1} steps: non-finite meta-gradients for {skipped} consecutive "
                f"steps (steps {step + 1 - skipped}-{step} of metrics.jsonl), none of which could update θ. A zero or "
                "tiny ES std, or inner runs that diverge under every perturbation, cause this; the steps done are "
                "checkpointed.")
    return state


def apply_meta_update(tx: optax.GradientTransformation, grad: Any, opt_state: Any, theta: Any):
    """One meta-optimizer step: (new θ, new meta-optimizer state)."""
    updates, opt_state = tx.update(grad, opt_state, theta)
    return optax.apply_updates(theta, updates), opt_state
