import jax
import jax.numpy as jnp
import numpy as np

from lopt_architectures.mlp import apply_mlp, apply_mlp_elementwise, init_mlp


def numpy_mlp(params, x):
    layers = len([k for k in params if k.startswith("w")])
    for i in range(layers):
        x = x @ np.asarray(params[f"w{i}"], np.float64) + np.asarray(params[f"b{i}"], np.float64)
        if i < layers - 1:
            x = np.maximum(x, 0)
    return x


def test_init_shapes_and_truncated_normal_scale():
    params = init_mlp(jax.random.PRNGKey(0), (400, 300, 2))
    assert {k: v.shape for k, v in params.items()} == {"w0": (400, 300), "b0": (300,), "w1": (300, 2), "b1": (2,)}
    w = np.asarray(params["w0"]) * np.sqrt(400)
    assert np.all(np.abs(w) <= 2.0) and np.all(params["b0"] == 0)
    # A unit normal truncated at ±2 has standard deviation ≈ 0.880.
    assert abs(w.std() - 0.880) < 0.01


def test_apply_matches_numpy_and_elementwise_version():
    params = init_mlp(jax.random.PRNGKey(1), (5, 4, 4, 3))
    params = jax.tree.map(lambda x: x + 0.1, params)  # nonzero biases
    x = jax.random.normal(jax.random.PRNGKey(2), (7, 2, 5))
    np.testing.assert_allclose(apply_mlp(params, x), numpy_mlp(params, np.asarray(x, np.float64)), rtol=1e-5,
                               atol=1e-6)
    first = [x @ params["w0"][:, j] + params["b0"][j] for j in range(4)]
    out = jnp.stack(apply_mlp_elementwise(params, first), axis=-1)
    np.testing.assert_allclose(out, apply_mlp(params, x), rtol=1e-5, atol=1e-6)


def test_single_layer_has_no_activation():
    params = {"w0": -jnp.ones((2, 1)), "b0": jnp.zeros(1)}
    np.testing.assert_allclose(apply_mlp(params, jnp.ones(2)), [-2.0])
    np.testing.assert_allclose(apply_mlp_elementwise(params, [jnp.asarray(-2.0)])[0], -2.0)
