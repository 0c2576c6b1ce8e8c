import jax.numpy as jnp
import numpy as np
import pytest

import lopt_features as lf


def _accumulated(p, g):
    mom, rms = lf.momentum((0.9, 0.99, 0.999)), lf.second_moment((0.95,))
    fac = lf.factored_second_moment((0.9, 0.99, 0.999))
    return mom.update(mom.init(p), g).m, rms.update(rms.init(p), g).v, fac.update(fac.init(p), g)


@pytest.mark.parametrize("shape, groups, channels", [((), 9, 15), ((5,), 9, 15), ((4, 3), 14, 30), ((2, 3, 4), 14, 30)])
def test_celo2_channel_groups_layout(shape, groups, channels):
    rng = np.random.default_rng(0)
    p = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    g = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    m, v, f = _accumulated(p, g)
    out = lf.celo2_channel_groups(p, g, m, v, f.v_row, f.v_col, f.v_diag)
    assert len(out) == groups and sum(x.shape[-1] for x in out) == channels
    assert [w for _, w in lf.CELO2_CHANNEL_GROUPS[:groups]] == [x.shape[-1] for x in out]
    # Same channels as VeLO's, but 1/√(v + 1e-8) instead of 1/√(v + 1e-6).
    velo = lf.velo_channel_groups(p, g, m, v, f.v_row, f.v_col, f.v_diag)
    for i in (0, 1, 2, 3, 4, 7):
        np.testing.assert_allclose(out[i], velo[i], rtol=1e-6)
    np.testing.assert_allclose(out[6], 1 / np.sqrt(np.asarray(v, np.float64) + 1e-8), rtol=1e-5)


def test_scheduler_features_are_fraction_then_loss():
    f = lf.fraction_trained_features(0.3)
    loss = jnp.arange(9, dtype=jnp.float32) / 10
    np.testing.assert_array_equal(lf.celo_scheduler_features(f, loss), np.concatenate([f, loss]))


def test_normalize_last_two_axes_per_matrix():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)  # a rank-3 parameter with 5 channels
    got = lf.normalize_last_two_axes(jnp.asarray(x), param_ndim=3)
    want = x / np.sqrt(1e-9 + np.mean(x**2, axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    v = rng.standard_normal((7,)).astype(np.float32)
    np.testing.assert_allclose(lf.normalize_last_two_axes(jnp.asarray(v), param_ndim=1),
                               v / np.sqrt(1e-9 + np.mean(v**2)), rtol=1e-5)
    with pytest.raises(ValueError, match="reshape scalars"):
        lf.normalize_last_two_axes(jnp.ones(()), param_ndim=0)
