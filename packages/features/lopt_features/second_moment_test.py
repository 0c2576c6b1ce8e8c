import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _numpy_reference as ref
from lopt_features import _testing
from lopt_features.second_moment import second_moment

DECAYS = (0.5, 0.999)


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_matches_numpy_over_several_steps(dtype):
    rng = np.random.default_rng(2)
    params = _testing.random_tree(rng, dtype)
    steps = [_testing.random_tree(rng, dtype, scale=3.0) for _ in range(3)]
    acc = second_moment(DECAYS)
    state = acc.init(params)
    for g in steps:
        state = jax.jit(acc.update)(state, g)
    for name in params:
        v = ref.second_moment([np.asarray(g[name], np.float64) for g in steps], DECAYS, dtype)
        assert state.v[name].dtype == dtype
        _testing.assert_close(state.v[name], v, dtype)


def test_decays_are_clipped_to_the_unit_interval():
    acc = second_moment(jnp.asarray([-0.5, 1.5]))
    state = acc.init({"w": jnp.zeros(())})
    state = acc.update(state, {"w": jnp.asarray(2.0)})
    state = acc.update(state, {"w": jnp.asarray(3.0)})
    # Decay −0.5 acts as 0 (keeps the last g²); 1.5 acts as 1 (never moves from 0).
    np.testing.assert_allclose(state.v["w"], [9.0, 0.0])


def test_errors_name_the_leaf():
    acc = second_moment(DECAYS)
    state = acc.init({"layer": {"w": jnp.ones((2, 3))}})
    with pytest.raises(ValueError, match=r"\['layer'\]\['w'\] has shape \(2,\); expected \(2, 3\)"):
        acc.update(state, {"layer": {"w": jnp.ones(2)}})
    with pytest.raises(TypeError, match=r"\['layer'\]\['w'\] has dtype bool"):
        acc.update(state, {"layer": {"w": jnp.ones((2, 3), bool)}})
