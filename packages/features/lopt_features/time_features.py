"""Features of the training step, shared by every parameter."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

#: Timescales τ of the tanh time features (Metz et al. 2022, App. A).
TIMESCALES = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)


def tanh_time_features(
    step: ArrayLike, timescales: tuple[float, ...] = TIMESCALES
) -> Float[Array, " num_timescales"]:
    """tanh(t/τ − 1) for each timescale τ: where training is, on log-spaced clocks.

    The paper writes tanh(t/τ); the reference implementation, whose trained
    weights we load, subtracts 1, so that each feature starts at tanh(−1) and
    crosses 0 at t = τ. `step` is the number of updates already applied (0 on
    the first update); it may be a traced integer.
    """
    t = jnp.asarray(step, dtype=jnp.float32)
    return jnp.tanh(t / jnp.asarray(timescales, dtype=jnp.float32) - 1.0)
