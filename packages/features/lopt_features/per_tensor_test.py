import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _testing
from lopt_features.per_tensor import (
    TENSOR_FEATURE_NAMES,
    clipped_log_abs,
    tensor_summary,
    tensor_summary_features,
)


def numpy_log(x, scale=0.5):
    return scale * np.clip(np.log(1e-8 + np.abs(x)), -5, 5)


def numpy_summary(p, g, m, v, scale=0.5):
    out = {}
    for key, x in (("g", g), ("m", m), ("p", p), ("rms", v)):
        mean = x.mean()
        out[f"mean_{key}_mag"] = numpy_log(mean, scale)
        out[f"mean_{key}_sign"] = np.sign(mean)
        out[f"var_{key}"] = numpy_log(((x - mean) ** 2).mean(), scale)
    out["mean_gabs_mag"] = numpy_log(np.abs(g).mean(), scale)
    return out


def test_names_are_sorted_and_cover_app_c1():
    assert list(TENSOR_FEATURE_NAMES) == sorted(TENSOR_FEATURE_NAMES)
    assert len(TENSOR_FEATURE_NAMES) == 13


def test_clipped_log_abs():
    np.testing.assert_allclose(
        clipped_log_abs(jnp.asarray([0.0, 1.0, -np.e, 1e30])), [-2.5, 0.0, 0.5, 2.5], rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(clipped_log_abs(jnp.asarray(np.e**2), scale=1.0), 2.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_matches_numpy(dtype):
    rng = np.random.default_rng(8)
    params = _testing.random_tree(rng, dtype)
    grads = _testing.random_tree(rng, dtype, scale=0.01)
    momenta = {k: jnp.asarray(rng.standard_normal(p.shape + (3,)) * 0.1, dtype) for k, p in params.items()}
    second = {k: jnp.asarray(rng.uniform(0, 1e-3, p.shape + (1,)), dtype) for k, p in params.items()}
    out = jax.jit(tensor_summary_features)(params, grads, momenta, second)
    for name in params:
        ref = numpy_summary(*(np.asarray(t[name], np.float64) for t in (params, grads, momenta, second)))
        expected = np.asarray([ref[n] for n in TENSOR_FEATURE_NAMES])
        assert out[name].shape == (13,) and out[name].dtype == dtype
        _testing.assert_close(out[name], expected, dtype, channel_axis=None)


def test_signs_and_log_scale():
    p = jnp.asarray([-2.0, -4.0])
    g = jnp.asarray([1.0, 3.0])
    out = dict(zip(TENSOR_FEATURE_NAMES, tensor_summary(p, g, -g, g * g, log_scale=1.0)))
    assert out["mean_p_sign"] == -1 and out["mean_g_sign"] == 1 and out["mean_m_sign"] == -1
    np.testing.assert_allclose(out["mean_p_mag"], np.log(3.0), rtol=1e-6)
    np.testing.assert_allclose(out["var_g"], np.log(1.0 + 1e-8), atol=1e-6)


def test_mismatched_trees_name_the_leaf():
    params = {"w": jnp.ones((2, 2))}
    with pytest.raises(ValueError, match=r"gradient leaf \['w'\] has shape \(2,\)"):
        tensor_summary_features(params, {"w": jnp.ones(2)}, params, params)
    with pytest.raises(ValueError, match=r"momentum tree does not match"):
        tensor_summary_features(params, params, {"v": jnp.ones(2)}, params)
