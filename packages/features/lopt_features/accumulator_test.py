import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _testing
from lopt_features.accumulator import ema, zeros_with_decay_axis


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_ema_matches_numpy_and_rounds_once(dtype):
    rng = np.random.default_rng(0)
    acc = jnp.asarray(rng.standard_normal((4, 3)), dtype)
    value = jnp.asarray(rng.standard_normal((4, 1)), dtype)
    decays = jnp.asarray([0.5, 0.9, 0.999], jnp.float32)
    out = ema(acc, value, decays)
    d = _testing.float32_decays(decays)
    expected = _testing.round_to(d * np.asarray(acc, np.float64) + (1 - d) * np.asarray(value, np.float64), dtype)
    assert out.dtype == dtype
    _testing.assert_close(out, expected, dtype)


def test_bfloat16_decay_close_to_one_still_moves_the_average():
    # bfloat16(0.999) == 1.0: doing the arithmetic in bfloat16 would freeze the average.
    acc = jnp.zeros((1, 1), jnp.bfloat16)
    out = ema(acc, jnp.full((1, 1), 100.0, jnp.bfloat16), jnp.asarray([0.999]))
    assert float(out[0, 0]) == pytest.approx(0.1, rel=1e-2)


def test_traced_decays_are_differentiable():
    acc = jnp.asarray([[2.0]])
    value = jnp.asarray([[5.0]])
    grad = jax.grad(lambda d: ema(acc, value, d).sum())(jnp.asarray([0.3]))
    # d/dβ [β·a + (1 − β)·x] = a − x.
    np.testing.assert_allclose(grad, [-3.0], rtol=1e-6)


def test_zeros_with_decay_axis_shapes_and_dtypes():
    params = {"a": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.ones((), jnp.float32)}
    zeros = zeros_with_decay_axis(params, 4)
    assert zeros["a"].shape == (2, 3, 4) and zeros["a"].dtype == jnp.bfloat16
    assert zeros["b"].shape == (4,) and zeros["b"].dtype == jnp.float32
    assert zeros_with_decay_axis(params, 2, jnp.float32)["a"].dtype == jnp.float32
