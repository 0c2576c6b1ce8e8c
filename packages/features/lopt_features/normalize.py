"""Normalising feature channels to unit second moment across a tensor."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from lopt_features.tree_checks import compute_dtype

#: Added to the mean square before the square root (the reference's value).
NORMALIZE_EPSILON = 1e-5


def second_moment_normalize(
    x: Float[Array, "*shape c"], *, epsilon: float = NORMALIZE_EPSILON
) -> Float[Array, "*shape c"]:
    """Scales each channel (last axis) to unit second moment over the tensor.

    x_c ← x_c / √(mean(x_c²) + ε), the mean taken over every axis but the
    last. Learned-optimizer inputs span many orders of magnitude across
    tensors and training; this puts every channel on one scale before the MLP
    (Metz et al. 2022, App. A: "normalized to have a second moment of 1 across
    the tensor"). For a scalar parameter (x of shape (c,)) the mean is over a
    single element.
    """
    dtype = compute_dtype(x.dtype)
    xc = x.astype(dtype)
    axes = tuple(range(x.ndim - 1))
    mean_square = jnp.mean(jnp.square(xc), axis=axes, keepdims=True)
    return (xc * jax.lax.rsqrt(epsilon + mean_square)).astype(x.dtype)
