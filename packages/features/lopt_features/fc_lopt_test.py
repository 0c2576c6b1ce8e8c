import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _numpy_reference as ref
from lopt_features import _testing
from lopt_features.fc_lopt import FC_LOPT_FEATURE_NAMES, FC_LOPT_MOMENTUM_DECAYS, fc_lopt_features
from lopt_features.momentum import momentum

TIMESCALES = np.asarray([1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000], np.float64)


def test_names():
    assert len(FC_LOPT_FEATURE_NAMES) == 19
    assert FC_LOPT_FEATURE_NAMES[:3] == ("g", "p", "m_0") and FC_LOPT_FEATURE_NAMES[8] == "time_1"


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_matches_numpy_for_every_shape(dtype):
    rng = np.random.default_rng(11)
    params = _testing.random_tree(rng, dtype)
    steps = [_testing.random_tree(rng, dtype, scale=0.1) for _ in range(2)]
    acc = momentum(FC_LOPT_MOMENTUM_DECAYS)
    state = acc.init(params)
    for g in steps:
        state = acc.update(state, g)
    out = jax.jit(fc_lopt_features)(params, steps[-1], state, 5)
    for name, p in params.items():
        p64 = np.asarray(p, np.float64)
        grads = [np.asarray(g[name], np.float64) for g in steps]
        m = ref.momentum(grads, FC_LOPT_MOMENTUM_DECAYS, dtype)
        channels = np.concatenate([grads[-1][..., None], p64[..., None], m], axis=-1)
        axes = tuple(range(p64.ndim))
        channels = channels / np.sqrt(np.mean(channels**2, axis=axes, keepdims=True) + 1e-5)
        time = np.broadcast_to(np.tanh(5 / TIMESCALES - 1), p64.shape + (11,))
        assert out[name].shape == p.shape + (19,) and out[name].dtype == dtype
        _testing.assert_close(out[name], np.concatenate([channels, time], axis=-1), dtype)


def test_mismatched_momentum_is_rejected():
    state = momentum(FC_LOPT_MOMENTUM_DECAYS).init({"w": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"parameter leaf \['w'\] has shape \(4,\); expected \(3,\)"):
        fc_lopt_features({"w": jnp.ones(4)}, {"w": jnp.ones(4)}, state, 0)
