import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _testing


def test_assert_close_rejects_nan_and_real_differences():
    expected = np.asarray([[1.0, 2.0], [3.0, 4.0]])
    _testing.assert_close(expected * (1 + 1e-6), expected, jnp.float32)
    with pytest.raises(AssertionError, match="1 of 4 elements differ"):
        _testing.assert_close(np.asarray([[1.0, 2.0], [3.0, np.nan]]), expected, jnp.float32)
    with pytest.raises(AssertionError, match="1 of 4 elements differ"):
        _testing.assert_close(np.asarray([[1.0, 2.1], [3.0, 4.0]]), expected, jnp.float32)


def test_round_to_bfloat16_keeps_eight_significant_bits():
    assert _testing.round_to(np.asarray(1.0 + 2.0**-9), jnp.bfloat16) == 1.0
    assert _testing.round_to(np.asarray(1.0 + 2.0**-7), jnp.bfloat16) == 1.0 + 2.0**-7
