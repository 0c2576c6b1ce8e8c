import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _testing
from lopt_features.normalize import second_moment_normalize


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
@pytest.mark.parametrize("shape", _testing.SHAPES.values(), ids=_testing.SHAPES.keys())
def test_matches_numpy(shape, dtype):
    rng = np.random.default_rng(6)
    # Channels on very different scales, as learned-optimizer features are.
    scales = np.asarray([1e-4, 1.0, 30.0])
    x = jnp.asarray(rng.standard_normal(shape + (3,)) * scales, dtype)
    x64 = np.asarray(x, np.float64)
    axes = tuple(range(len(shape)))
    expected = x64 / np.sqrt(np.mean(x64**2, axis=axes, keepdims=True) + 1e-5)
    out = jax.jit(second_moment_normalize)(x)
    assert out.dtype == dtype
    _testing.assert_close(out, expected, dtype)


def test_channels_with_large_values_get_unit_second_moment():
    x = jnp.asarray(np.random.default_rng(7).standard_normal((50, 40, 2)) * [10.0, 1000.0])
    out = second_moment_normalize(x)
    np.testing.assert_allclose(jnp.mean(out**2, axis=(0, 1)), [1.0, 1.0], rtol=1e-5)


def test_epsilon_keeps_tiny_channels_small():
    out = second_moment_normalize(jnp.full((4, 1), 1e-6))
    np.testing.assert_allclose(out, 1e-6 / np.sqrt(1e-12 + 1e-5), rtol=1e-5)
