import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_architectures._numpy_reference import numpy_schedule
from lopt_architectures.schedules import warmup_cosine_schedule


@pytest.mark.parametrize(
    "warmup,constant,min_mult",
    [(0.0, 0.0, 0.0), (0.0, 0.3, 0.1), (0.05, 0.0, 0.0), (0.1, 0.5, 1e-3), (0.02, 0.01, 0.5)],
)
def test_matches_numpy(warmup, constant, min_mult):
    schedule = jax.jit(warmup_cosine_schedule)
    for t in [0, 1, 5, 20, 49, 50, 51, 77, 99, 100, 130]:
        got = schedule(t, 100, 0.3, warmup_fraction=warmup, constant_fraction=constant,
                       min_learning_rate_mult=min_mult)
        np.testing.assert_allclose(got, numpy_schedule(t, 100, 0.3, warmup, constant, min_mult), rtol=1e-5, atol=1e-8)


def test_shape_of_a_typical_schedule():
    lr = [float(warmup_cosine_schedule(t, 100, 1.0, constant_fraction=0.2, min_learning_rate_mult=0.1))
          for t in range(101)]
    assert lr[:21] == [1.0] * 21  # constant phase
    assert all(a >= b for a, b in zip(lr[20:], lr[21:]))  # then decays monotonically
    assert lr[60] == pytest.approx(0.55, rel=1e-5)  # halfway down the cosine
    assert lr[100] == pytest.approx(0.1, rel=1e-5)


def test_constant_only_schedule_is_finite():
    # The reference divides by zero here; we return the base rate.
    assert float(warmup_cosine_schedule(100, 100, 0.5, constant_fraction=1.0)) == pytest.approx(0.5)


def test_traced_hyperparameters_vmap():
    fractions = jnp.asarray([0.0, 0.5])
    out = jax.vmap(lambda c: warmup_cosine_schedule(75, 100, 1.0, constant_fraction=c))(fractions)
    np.testing.assert_allclose(out, [numpy_schedule(75, 100, 1.0, 0, 0.0, 0), numpy_schedule(75, 100, 1.0, 0, 0.5, 0)],
                               rtol=1e-5)
