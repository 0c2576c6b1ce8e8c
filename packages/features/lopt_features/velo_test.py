import jax.numpy as jnp
import numpy as np

from lopt_features import _numpy_reference as ref
from lopt_features import _testing
from lopt_features.velo import VELO_CHANNEL_GROUPS, VELO_TENSOR_FEATURES, velo_channel_groups, velo_tensor_features


def numpy_log(x):
    return 0.5 * np.clip(np.log(1e-8 + np.abs(10 * x)), -5, 5)


def test_layouts_sum_to_30():
    assert sum(w for _, w in VELO_CHANNEL_GROUPS) == 30 and len(VELO_CHANNEL_GROUPS) == 14
    assert sum(w for _, w in VELO_TENSOR_FEATURES) == 30


def test_tensor_features_match_numpy():
    rng = np.random.default_rng(0)
    for name, shape in _testing.SHAPES.items():
        p = rng.standard_normal(shape).astype(np.float32) * 3
        m = rng.standard_normal(shape + (3,)).astype(np.float32) * 0.1
        v = rng.uniform(0, 0.01, shape + (1,)).astype(np.float32)
        frac, loss = np.linspace(-1, 1, 9).astype(np.float32), np.linspace(0, 0.5, 9).astype(np.float32)
        got = velo_tensor_features(jnp.asarray(p), jnp.asarray(m), jnp.asarray(v), jnp.asarray(frac), jnp.asarray(loss))
        s = 1 / np.sqrt(max(1e-9, np.mean(p.astype(np.float64) ** 2)))
        mm, vv = m * s, v * s
        axes = tuple(range(len(shape)))
        mean_m = mm.mean(axis=axes, keepdims=True)
        rank = np.zeros(5)
        rank[sum(d > 1 for d in shape)] = 1
        want = np.concatenate([frac, loss, numpy_log(vv.mean(axis=axes)), rank,
                               numpy_log(((mm - mean_m) ** 2).mean(axis=axes)),
                               numpy_log(((vv - mean_m) ** 2).mean(axis=axes))])
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_channel_groups_match_numpy():
    rng = np.random.default_rng(1)
    decays = (0.9, 0.99, 0.999)
    for name, shape in _testing.SHAPES.items():
        p = rng.standard_normal(shape)
        grads = [rng.standard_normal(shape) * 0.3 for _ in range(2)]
        m = ref.momentum(grads, decays, jnp.float32)
        v = ref.second_moment(grads, (0.999,), jnp.float32)
        dims, row, col, diag = ref.factored(grads, decays, jnp.float32)
        empty = np.zeros((0, 3), np.float32)
        args = [jnp.asarray(x, jnp.float32) for x in (p, grads[-1], m, v)]
        args += [jnp.asarray(x if x is not None else empty, jnp.float32) for x in (row, col, diag)]
        got = np.concatenate([np.asarray(x, np.float64) for x in velo_channel_groups(*args)], -1)
        g = grads[-1][..., None]
        rsqrt_v = 1 / np.sqrt(v + 1e-6)
        row_t, col_t = ref.tiled(shape, dims, row, col, diag)
        precond = ref.preconditioner(shape, dims, row, col, diag)
        fac_m = m * precond if dims is not None else m * diag**-0.5
        want = np.concatenate([g, np.clip(g, -0.1, 0.1), p[..., None], m, v, m * rsqrt_v, rsqrt_v, g * precond,
                               g * rsqrt_v, row_t, col_t, 1 / np.sqrt(row_t + 1e-8), 1 / np.sqrt(col_t + 1e-8),
                               fac_m], -1)
        assert got.shape == shape + (30,)
        _testing.assert_close(got, want, jnp.float32)
