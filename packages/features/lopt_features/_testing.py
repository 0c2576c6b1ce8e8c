"""Shared fixtures for this package's tests: shapes, dtypes and random trees."""

import jax.numpy as jnp
import ml_dtypes
import numpy as np

#: A scalar, a vector, a matrix, a square matrix, a rank-3 tensor whose
#: largest dimension is last, and a rank-4 convolution kernel (HWIO).
SHAPES = {
    "scalar": (),
    "vector": (7,),
    "matrix": (3, 5),
    "square": (4, 4),
    "rank3": (2, 6, 3),
    "conv": (3, 3, 4, 8),
}

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}

#: Relative/absolute tolerances per dtype when comparing with float64 numpy.
TOLERANCE = {jnp.float32: 2e-5, jnp.bfloat16: 2e-2}


def numpy_dtype(dtype):
    """The numpy dtype matching a jax dtype (ml_dtypes for bfloat16)."""
    return ml_dtypes.bfloat16 if dtype == jnp.bfloat16 else np.dtype(dtype)


def random_tree(rng: np.random.Generator, dtype, scale: float = 1.0, shapes=None) -> dict:
    """A dict of random normal arrays with the test shapes, in `dtype`."""
    shapes = SHAPES if shapes is None else shapes
    return {
        name: jnp.asarray(scale * rng.standard_normal(shape), dtype=dtype) for name, shape in shapes.items()
    }


def to_float64(tree: dict) -> dict:
    """Leaves as float64 numpy arrays (exact for float32 and bfloat16 inputs)."""
    return {k: np.asarray(v, dtype=np.float64) for k, v in tree.items()}


def round_to(x: np.ndarray, dtype) -> np.ndarray:
    """Rounds float64 values to `dtype` (as storing them in that dtype would) and back."""
    return np.asarray(np.asarray(x).astype(numpy_dtype(dtype)), dtype=np.float64)


def float32_decays(decays) -> np.ndarray:
    """Decays as the accumulators see them (float32), widened to float64."""
    return np.asarray(decays, np.float32).astype(np.float64)


def assert_close(actual, expected, dtype, channel_axis: int | None = -1) -> None:
    """Compares with a relative tolerance, plus an absolute one scaled to each channel.

    Low-precision results that cancel to near zero can differ by a few units
    in the last place of the channel's typical magnitude, so the absolute
    tolerance is the dtype's tolerance times the channel's largest |value|.
    """
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    tol = TOLERANCE[dtype]
    if channel_axis is None or expected.ndim == 0:
        scale = np.max(np.abs(expected), initial=0.0)
    else:
        axes = tuple(i for i in range(expected.ndim) if i != channel_axis % expected.ndim)
        scale = np.max(np.abs(expected), axis=axes, keepdims=True, initial=0.0)
    error = np.abs(actual - expected)
    bound = tol * (np.abs(expected) + scale)
    bad = ~(error <= bound)  # also catches NaN
    if bad.any():
        worst = np.unravel_index(np.nanargmax(np.where(bad, error - bound, -np.inf)), bad.shape)
        raise AssertionError(
            f"{bad.sum()} of {bad.size} elements differ; e.g. at {worst}: "
            f"actual {actual[worst]!r}, expected {expected[worst]!r}, allowed error {bound[worst]!r}"
        )
