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


def sin_time_features(
    step: ArrayLike, timescales: tuple[float, ...] = TIMESCALES
) -> Float[Array, " num_timescales"]:
    """sin(t/(π·τ)) for each timescale τ: rnn_fc_lopt's time features (Metz et al. 2020)."""
    t = jnp.asarray(step, dtype=jnp.float32)
    return jnp.sin(t / (jnp.asarray(timescales, dtype=jnp.float32) * jnp.pi))


#: Points of training (fraction done) that VeLO's features are centred on.
FRACTION_CENTRES = (0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1)


def fraction_trained_features(
    fraction: ArrayLike, centres: tuple[float, ...] = FRACTION_CENTRES
) -> Float[Array, " num_centres"]:
    """tanh(10·(f − c)) for each centre c: how far through its planned length training is (VeLO §3.1)."""
    f = jnp.asarray(fraction, dtype=jnp.float32)
    return jnp.tanh((f - jnp.asarray(centres, dtype=jnp.float32)) * 10)
