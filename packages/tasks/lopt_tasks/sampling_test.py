import jax
import numpy as np
import pytest

from lopt_tasks.sampling import choice, key_data, log_int, log_uniform, numpy_rng


def test_numpy_rng_is_a_function_of_the_key_bits():
    a = numpy_rng(jax.random.PRNGKey(3)).uniform(size=4)
    b = numpy_rng(jax.random.PRNGKey(3)).uniform(size=4)
    c = numpy_rng(jax.random.PRNGKey(4)).uniform(size=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # A typed key with the same bits gives the same generator.
    typed = jax.random.wrap_key_data(jax.random.PRNGKey(3))
    np.testing.assert_array_equal(numpy_rng(typed).uniform(size=4), a)
    assert key_data(typed).dtype == np.uint32


def test_log_int_is_log_uniform_on_its_range():
    rng = np.random.default_rng(0)
    draws = np.array([log_int(rng, 4, 64) for _ in range(20000)])
    assert draws.min() == 4 and draws.max() == 63
    # Under exp(U(log 4, log 64)), P(value < 16) = log(16/4) / log(64/4) = 1/2.
    assert abs(np.mean(draws < 16) - 0.5) < 0.02
    assert log_int(rng, 5, 5) == 5


def test_log_uniform_and_choice():
    rng = np.random.default_rng(1)
    x = np.array([log_uniform(rng, 0.01, 100.0) for _ in range(20000)])
    # log10 of a log-uniform draw on [1e-2, 1e2] is uniform on [-2, 2]: mean 0, variance 16/12.
    assert abs(np.mean(np.log10(x))) < 0.03 and abs(np.var(np.log10(x)) - 4 / 3) < 0.05
    counts = np.bincount([choice(rng, [0, 0, 1]) for _ in range(9000)])
    assert abs(counts[0] / 9000 - 2 / 3) < 0.02
    with pytest.raises(ValueError, match="no options"):
        choice(rng, [])
    with pytest.raises(ValueError, match="0 < low <= high"):
        log_uniform(rng, 0.0, 1.0)
