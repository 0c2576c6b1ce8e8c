"""The meta-objective: what a learned optimizer is trained to make small.

Per inner step the task's loss is optionally clipped from above at the task's
`normalizer` (the loss of an untrained model, e.g. ln 10 for 10 classes:
tradeoffs paper App. D.1, "mean training loss clipped at the initialization
value") and optionally divided by it (so tasks of different scales weigh
alike). With `log`, the value is replaced by its logarithm, so that halving
the loss counts the same early in training (2 → 1) as late (0.01 → 0.005):
the mean of raw losses is dominated by the first steps and barely rewards
what decides the final loss. A task whose loss is already a logarithm (an
auto-encoder's log MSE, which is negative below an MSE of 1) says so with
`Task.log_loss_scale`, and its loss is used as it is. A run of steps is then summarised by the mean
of those values (`kind="mean"`) or the last one (`kind="final"`, VeLO §3.3).
This is the only implementation of the clipped loss: evaluation's meta-loss,
by which tuned baselines are selected (`lopt_eval.runner.meta_loss_at`), is
the default `MetaLoss()`'s per-step value averaged over a run.

`last_fraction` < 1 counts only the steps in the last part of each inner run
(step t of a run of T counts when t ≥ (1 − last_fraction)·T; the others
contribute 0). An optimizer evaluated by its loss at the end of a
fixed-length run is then trained for that: the mean over every step rewards
early speed as much as the end, and never asks for the late decay of the
learning rate that lowers the final loss. With PES the perturbations of the
early truncations are still credited with the late losses they cause.

A loss that is not finite (the inner run diverged) makes the meta-loss NaN,
and the estimators then drop that task (`non_finite="drop"`). Dropping means
divergence is never penalised: a perturbation that makes runs blow up late
costs nothing, and meta-training can learn to raise step sizes until it
does. `non_finite="normalizer"` scores such a step as a loss at the clip
value instead, the worst a clipped loss can be, so the estimate sees the
divergence as the largest loss there is.
"""

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp


LOG_FLOOR = 1e-8


@dataclasses.dataclass(frozen=True)
class MetaLoss:
    """How inner losses become a meta-loss.

    Attributes:
      kind: "mean" over the steps of an unroll, or the "final" step's value.
      clip_at_normalizer: clip each loss from above at the task's normalizer.
      divide_by_normalizer: divide each (clipped) loss by the normalizer
        (only meaningful for positive normalizers).
      split: "train" uses the loss of each training step; "valid" evaluates
        the parameters on a batch of the task's held-out split at each step.
      log: take the logarithm of each (clipped, divided) value, floored at
        `LOG_FLOOR`; for tasks whose losses are positive (a loss at or below
        the floor gives no signal).
      non_finite: "drop" leaves a non-finite loss non-finite (the task is
        dropped from the estimate); "normalizer" scores it as a loss equal
        to the normalizer. Needs `clip_at_normalizer`: without a ceiling a
        diverging but finite loss would score worse than a NaN.
      last_fraction: count only the steps in this last fraction of each
        inner run (1: every step).
    """

    kind: Literal["mean", "final"] = "mean"
    clip_at_normalizer: bool = True
    divide_by_normalizer: bool = False
    split: Literal["train", "valid"] = "train"
    log: bool = False
    non_finite: Literal["drop", "normalizer"] = "drop"
    last_fraction: float = 1.0

    def __post_init__(self):
        if not 0.0 < self.last_fraction <= 1.0:
            raise ValueError(f"MetaLoss.last_fraction must be in (0, 1], got {self.last_fraction!r}.")
        if self.kind not in ("mean", "final"):
            raise ValueError(f"MetaLoss.kind must be 'mean' or 'final', got {self.kind!r}.")
        if self.split not in ("train", "valid"):
            raise ValueError(f"MetaLoss.split must be 'train' or 'valid', got {self.split!r}.")
        if self.non_finite not in ("drop", "normalizer"):
            raise ValueError(f"MetaLoss.non_finite must be 'drop' or 'normalizer', got {self.non_finite!r}.")
        if self.non_finite == "normalizer" and not self.clip_at_normalizer:
            raise ValueError("MetaLoss.non_finite='normalizer' needs clip_at_normalizer=True: without the ceiling a "
                             "diverging finite loss would score worse than a non-finite one.")

    def per_step(self, loss: jax.Array, normalizer: jax.Array, log_loss_scale=None) -> jax.Array:
        """The meta-loss contribution of one step's loss.

        `log_loss_scale` is the task's (`Task.log_loss_scale`): None for an
        ordinary loss; c when the loss is already c · log(q). With `log`, such
        a loss contributes log(q) = loss / c itself (minus log(q₀) = normalizer
        / c when dividing by the normalizer), the value `log` would give the
        same task with q as its loss. Taking the log of a log loss would floor
        every negative value and leave the task without any signal.
        """
        if self.non_finite == "normalizer":
            loss = jnp.where(jnp.isfinite(loss), loss, normalizer)
        value = jnp.minimum(loss, normalizer) if self.clip_at_normalizer else loss
        if self.log and log_loss_scale is not None:
            value = value / log_loss_scale
            value = value - normalizer / log_loss_scale if self.divide_by_normalizer else value
            return jnp.maximum(value, jnp.log(LOG_FLOOR))
        value = value / normalizer if self.divide_by_normalizer else value
        return jnp.log(jnp.maximum(value, LOG_FLOOR)) if self.log else value

    def step_weight(self, step: jax.Array, num_steps: jax.Array) -> jax.Array:
        """1 if inner step `step` (0-based) of a `num_steps`-step run counts, else 0 (see `last_fraction`)."""
        first_counted = (1.0 - self.last_fraction) * jnp.asarray(num_steps, jnp.float32)
        return (jnp.asarray(step, jnp.float32) >= first_counted).astype(jnp.float32)

    def reduce(self, values: jax.Array) -> jax.Array:
        """[steps, members] per-step values → [members] meta-losses."""
        return jnp.mean(values, axis=0) if self.kind == "mean" else values[-1]
