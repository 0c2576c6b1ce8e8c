import jax
import jax.numpy as jnp
import numpy as np

from lopt_features.time_features import (
    FRACTION_CENTRES,
    TIMESCALES,
    fraction_trained_features,
    sin_time_features,
    tanh_time_features,
)


def test_timescales_are_the_papers():
    assert TIMESCALES == (1, 3, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000)


def test_values_at_known_steps():
    np.testing.assert_allclose(tanh_time_features(0), np.full(11, np.tanh(-1.0)), rtol=1e-6)
    # Feature i crosses zero when the step equals its timescale.
    for i, tau in enumerate(TIMESCALES):
        assert abs(float(tanh_time_features(tau)[i])) < 1e-6
    np.testing.assert_allclose(tanh_time_features(250), np.tanh(250 / np.asarray(TIMESCALES) - 1), rtol=1e-6)


def test_traced_integer_step():
    out = jax.jit(tanh_time_features)(jnp.asarray(30, jnp.int32))
    assert out.shape == (11,) and out.dtype == jnp.float32
    assert abs(float(out[3])) < 1e-6


def test_custom_timescales():
    np.testing.assert_allclose(tanh_time_features(4, (2.0, 8.0)), np.tanh([1.0, -0.5]), rtol=1e-6)


def test_sin_time_features():
    np.testing.assert_allclose(sin_time_features(0), np.zeros(11), atol=1e-7)
    np.testing.assert_allclose(sin_time_features(7), np.sin(7 / (np.pi * np.asarray(TIMESCALES))), rtol=1e-5)


def test_fraction_trained_features():
    assert FRACTION_CENTRES == (0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1)
    out = fraction_trained_features(0.4)
    np.testing.assert_allclose(out, np.tanh(10 * (0.4 - np.asarray(FRACTION_CENTRES))), rtol=1e-5, atol=1e-6)
    assert abs(float(out[3])) < 1e-6
