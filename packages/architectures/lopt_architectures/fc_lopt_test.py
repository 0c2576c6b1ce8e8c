import jax
import jax.numpy as jnp
import numpy as np
import pytest
from lopt_features import _numpy_reference as feature_ref

from lopt_architectures.fc_lopt import FcLOpt, fc_lopt

TIMESCALES = np.asarray([1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000], np.float64)
DECAYS = (0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)


def test_default_has_1762_meta_parameters():
    theta = fc_lopt().init_meta_params(jax.random.PRNGKey(0))
    assert jax.tree.map(jnp.shape, theta) == {
        "mlp": {"w0": (19, 32), "b0": (32,), "w1": (32, 32), "b1": (32,), "w2": (32, 2), "b2": (2,)}
    }
    assert sum(x.size for x in jax.tree.leaves(theta)) == 1762


def test_two_steps_match_numpy():
    lopt = fc_lopt()
    theta = jax.tree.map(lambda x: x + 0.05, lopt.init_meta_params(jax.random.PRNGKey(1)))
    rng = np.random.default_rng(0)
    shapes = {"s": (), "v": (6,), "k": (3, 3, 2, 2)}
    params = {k: jnp.asarray(rng.standard_normal(s), jnp.float32) for k, s in shapes.items()}
    grads = [{k: jnp.asarray(0.1 * rng.standard_normal(s), jnp.float32) for k, s in shapes.items()} for _ in range(2)]
    opt = lopt.optimizer(theta)
    state = opt.init(params, num_steps=10)
    for g in grads:
        state = jax.jit(opt.update)(state, g)
    mlp = {k: np.asarray(v, np.float64) for k, v in theta["mlp"].items()}
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    for t in range(2):
        new = {}
        for k in p:
            seen = [np.asarray(g[k], np.float64) for g in grads[: t + 1]]
            m = feature_ref.momentum(seen, DECAYS, jnp.float32)
            x = np.concatenate([seen[-1][..., None], p[k][..., None], m], -1)
            x = x / np.sqrt(np.mean(x**2, axis=tuple(range(p[k].ndim)), keepdims=True) + 1e-5)
            x = np.concatenate([x, np.broadcast_to(np.tanh(t / TIMESCALES - 1), p[k].shape + (11,))], -1)
            h = np.maximum(x @ mlp["w0"] + mlp["b0"], 0)
            h = np.maximum(h @ mlp["w1"] + mlp["b1"], 0)
            out = h @ mlp["w2"] + mlp["b2"]
            new[k] = p[k] - out[..., 0] * np.exp(0.001 * out[..., 1]) * 0.001
        p = new
    for k in params:
        np.testing.assert_allclose(opt.get_params(state)[k], p[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_bfloat16_parameters_stay_bfloat16():
    lopt = fc_lopt()
    opt = lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0)))
    state = opt.init({"w": jnp.ones((2, 3), jnp.bfloat16)}, num_steps=3)
    state = opt.update(state, {"w": jnp.ones((2, 3), jnp.bfloat16)})
    assert opt.get_params(state)["w"].dtype == jnp.bfloat16


def test_error_paths():
    lopt = fc_lopt()
    opt = lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0)))
    with pytest.raises(ValueError, match="fc_lopt.init: num_steps is required"):
        opt.init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match=r"expects \(19, 32\)"):
        lopt.optimizer(FcLOpt(hidden_size=8).init_meta_params(jax.random.PRNGKey(0)))
    state = opt.init({"w": jnp.ones(2)}, num_steps=3)
    with pytest.raises(TypeError, match=r"gradient leaf \['w'\] has dtype int32"):
        opt.update(state, {"w": jnp.ones(2, jnp.int32)})
