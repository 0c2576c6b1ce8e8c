import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _numpy_reference as ref
from lopt_features import _testing
from lopt_features.factored import factored_second_moment
from lopt_features.momentum import momentum
from lopt_features.second_moment import second_moment
from lopt_features.small_fc_lopt import (
    SMALL_FC_LOPT_FEATURE_NAMES,
    small_fc_lopt_feature_names,
    small_fc_lopt_features,
)

MOMENTUM_DECAYS = (0.9, 0.99, 0.999)
RMS_DECAYS = (0.999,)
FACTORED_DECAYS = (0.9, 0.99, 0.999)
TIMESCALES = np.asarray([1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000], np.float64)


def numpy_features(p, grads, step, dtype):
    """App. A's 39 features of one tensor after the given gradient steps, in float64."""
    g = grads[-1]
    m = ref.momentum(grads, MOMENTUM_DECAYS, dtype)
    v = ref.second_moment(grads, RMS_DECAYS, dtype)
    dims, row, col, diag = ref.factored(grads, FACTORED_DECAYS, dtype)
    row_t, col_t = ref.tiled(p.shape, dims, row, col, diag)
    fac_g = g[..., None] * ref.preconditioner(p.shape, dims, row, col, diag)
    if dims is None:
        fac_m = m * (diag + 1e-6) ** -0.5
    else:
        fac_m = m * ref.preconditioner(p.shape, dims, row, col, diag)
    rsqrt_v = (v + 1e-6) ** -0.5
    channels = np.concatenate(
        [g[..., None], p[..., None], m, v, m * rsqrt_v, rsqrt_v, fac_g, row_t, col_t,
         (row_t + 1e-8) ** -0.5, (col_t + 1e-8) ** -0.5, fac_m],
        axis=-1,
    )
    axes = tuple(range(p.ndim))
    channels = channels / np.sqrt(np.mean(channels**2, axis=axes, keepdims=True) + 1e-5)
    time = np.broadcast_to(np.tanh(step / TIMESCALES - 1), p.shape + (11,))
    return np.concatenate([channels, time], axis=-1)


def run_features(params, grad_steps, step):
    mom, rms, fac = momentum(MOMENTUM_DECAYS), second_moment(RMS_DECAYS), factored_second_moment(FACTORED_DECAYS)
    states = mom.init(params), rms.init(params), fac.init(params)

    @jax.jit
    def update(states, g):
        return mom.update(states[0], g), rms.update(states[1], g), fac.update(states[2], g)

    for g in grad_steps:
        states = update(states, g)
    return jax.jit(small_fc_lopt_features)(params, grad_steps[-1], *states, step)


def test_there_are_39_named_features():
    assert len(SMALL_FC_LOPT_FEATURE_NAMES) == 39
    assert len(set(SMALL_FC_LOPT_FEATURE_NAMES)) == 39
    assert SMALL_FC_LOPT_FEATURE_NAMES[:6] == ("g", "p", "m_0", "m_1", "m_2", "v_0")
    assert SMALL_FC_LOPT_FEATURE_NAMES[25:28] == ("fac_m_0", "fac_m_1", "fac_m_2")
    assert SMALL_FC_LOPT_FEATURE_NAMES[28] == "time_1" and SMALL_FC_LOPT_FEATURE_NAMES[-1] == "time_100000"


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_matches_numpy_for_every_shape(dtype):
    rng = np.random.default_rng(9)
    params = _testing.random_tree(rng, dtype)
    grad_steps = [_testing.random_tree(rng, dtype, scale=0.1) for _ in range(3)]
    out = run_features(params, grad_steps, jnp.asarray(2, jnp.int32))
    for name, p in params.items():
        expected = numpy_features(
            np.asarray(p, np.float64), [np.asarray(g[name], np.float64) for g in grad_steps], 2.0, dtype
        )
        assert out[name].shape == p.shape + (39,)
        assert out[name].dtype == dtype
        _testing.assert_close(out[name], expected, dtype)


def test_normalised_channels_have_unit_second_moment_and_time_is_untouched():
    rng = np.random.default_rng(10)
    params = {"w": jnp.asarray(rng.standard_normal((64, 32)), jnp.float32)}
    out = run_features(params, [{"w": jnp.asarray(rng.standard_normal((64, 32)), jnp.float32)}], 7)["w"]
    second_moments = np.mean(np.asarray(out[..., :28], np.float64) ** 2, axis=(0, 1))
    # g and p have mean square ≈ 1 ≫ ε = 1e-5, so they come out at unit second moment;
    # channels with mean square near ε (e.g. the 0.999 momentum) come out smaller.
    np.testing.assert_allclose(second_moments[:2], [1.0, 1.0], rtol=1e-4)
    assert np.all(second_moments <= 1.0 + 1e-6)
    np.testing.assert_allclose(out[0, 0, 28:], np.tanh(7 / TIMESCALES - 1), rtol=1e-6)


def test_other_decay_counts():
    names = small_fc_lopt_feature_names(num_momentum=2, num_second_moment=2, num_factored=1)
    assert len(names) == 2 + 2 + 2 + 2 + 2 + 1 * 5 + 2 + 11
    with pytest.raises(ValueError, match="counts must be equal or one of them 1; got 3 and 2"):
        small_fc_lopt_feature_names(num_momentum=3, num_second_moment=2)


def test_state_for_other_parameters_is_rejected():
    params = {"w": jnp.ones((3, 4))}
    mom, rms, fac = momentum(MOMENTUM_DECAYS), second_moment(RMS_DECAYS), factored_second_moment(FACTORED_DECAYS)
    states = mom.init(params), rms.init(params), fac.init(params)
    other = {"w": jnp.ones((3, 5))}
    with pytest.raises(ValueError, match=r"parameter leaf \['w'\] has shape \(3, 5\); expected \(3, 4\)"):
        small_fc_lopt_features(other, other, *states, 0)
    with pytest.raises(ValueError, match=r"gradient leaf \['w'\] has shape \(4, 3\)"):
        small_fc_lopt_features(params, {"w": jnp.ones((4, 3))}, *states, 0)
