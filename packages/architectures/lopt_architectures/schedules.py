"""The warm-up + constant + cosine learning-rate schedule of NAdamW (App. F.1).

The paper's equations (4)–(9) are garbled in print (the minimum multiplier
appears as an absolute rate and the cosine phase is not offset by the
constant phase), so this follows the reference implementation
(`learned_optimization/optimizers/learning_rate_schedules.py`,
`CosineLearningRateSchedule`), which the paper's baselines ran:

- T = num_steps, t = min(step, T) (step counts from 0);
- constant phase: α_base until t = c_constant·T, then a half cosine from
  α_base down to c_min·α_base at t = T;
- warm-up, if c_warmup > 0: α = α_base·t/W while t < W, where
  W = max(c_warmup, c_constant)·T. (The reference lengthens the warm-up to
  the end of the constant phase; we keep that, so tuned hyperparameters
  transfer.)

Unlike the reference, an empty cosine phase (c_constant = 1) gives α_base
instead of NaN. All arguments may be traced arrays, so a random search over
schedules can be vmapped.
"""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


def warmup_cosine_schedule(
    step: ArrayLike,
    num_steps: ArrayLike,
    learning_rate: ArrayLike,
    *,
    warmup_fraction: ArrayLike = 0.0,
    constant_fraction: ArrayLike = 1.0,
    min_learning_rate_mult: ArrayLike = 0.0,
) -> Float[Array, ""]:
    """The learning rate at `step` (0-based) of a `num_steps`-step run."""
    f32 = jnp.float32
    total = jnp.asarray(num_steps, f32)
    t = jnp.minimum(jnp.asarray(step, f32), total)
    learning_rate = jnp.asarray(learning_rate, f32)
    warmup_fraction = jnp.asarray(warmup_fraction, f32)
    constant_fraction = jnp.asarray(constant_fraction, f32)

    constant_steps = total * constant_fraction
    decay_steps = total - constant_steps
    into_decay = jnp.maximum(t, constant_steps) - constant_steps
    progress = jnp.where(decay_steps > 0, into_decay / jnp.where(decay_steps > 0, decay_steps, 1.0), 0.0)
    min_rate = jnp.asarray(min_learning_rate_mult, f32) * learning_rate
    decayed = (learning_rate - min_rate) * (jnp.cos(progress * jnp.pi) / 2 + 0.5) + min_rate

    warmup_steps = total * jnp.maximum(warmup_fraction, constant_fraction)
    in_warmup = (warmup_fraction > 0) & (warmup_steps > t)
    warmup_rate = t / jnp.where(warmup_steps > 0, warmup_steps, 1.0) * learning_rate
    return jnp.where(in_warmup, warmup_rate, decayed)
