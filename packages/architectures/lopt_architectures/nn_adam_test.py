import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_architectures.nn_adam import NNAdam, nn_adam

SHAPES = {"a": (), "b": (5,), "c": (4, 3), "k": (3, 3, 2, 2)}


def tree(rng, scale=1.0, dtype=jnp.float32):
    return {k: jnp.asarray(scale * rng.standard_normal(s), dtype) for k, s in SHAPES.items()}


def test_default_has_6856_meta_parameters_and_zero_controls():
    theta = nn_adam().init_meta_params(jax.random.PRNGKey(0))
    assert sum(x.size for x in jax.tree.leaves(theta)) == 6856
    assert jax.tree.map(jnp.shape, theta["lstm"]) == {"w": (51, 128), "b": (128,)}
    assert np.all(theta["controls"]["w"] == 0)


def test_with_zero_controls_it_is_the_adam_like_rule_with_fixed_hyperparameters():
    lopt = nn_adam()
    opt = lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0)))
    rng = np.random.default_rng(0)
    params = tree(rng)
    grads = [tree(rng, 0.1) for _ in range(3)]
    state = opt.init(params, num_steps=10)
    for g in grads:
        state = jax.jit(opt.update)(state, g, loss=1.0)
    lr, b1, b2, eps = 1e-4, 0.9, 0.999, 1e-8
    for k in SHAPES:
        p, m, v = np.asarray(params[k], np.float64), 0.0, 0.0
        for g in grads:
            g = np.asarray(g[k], np.float64)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            p = p - lr * (1 + eps) / (eps + np.sqrt(v + 1e-10)) * m
        np.testing.assert_allclose(opt.get_params(state)[k], p, rtol=1e-6, atol=1e-7, err_msg=k)


def test_controls_move_the_hyperparameters_within_their_ranges():
    lopt = nn_adam()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    theta["controls"] = {"w": jnp.full((32, 4), 50.0), "b": jnp.full((4,), 100.0)}
    opt = lopt.optimizer(theta)
    state = opt.init(tree(np.random.default_rng(1)), num_steps=10)
    for _ in range(3):
        state = opt.update(state, tree(np.random.default_rng(2), 0.1))
    lr = np.asarray(jax.tree.leaves(state.hparams.learning_rate))
    beta = np.asarray(jax.tree.leaves(state.hparams.beta1))
    assert np.all(lr > np.log(1e-4) * 0.1)  # increased from the initial value …
    assert np.all(np.exp(10 * lr) <= 1e3 * (1 + 1e-5))  # … but no further than the maximum
    assert np.all(1 - np.exp(np.clip(10 * beta, -10, 0)) >= 0.0)


def test_bfloat16_vmap_and_errors():
    lopt = nn_adam()
    opt = lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0)))
    state = opt.init({"w": jnp.ones((2, 3), jnp.bfloat16)}, num_steps=3)
    state = opt.update(state, {"w": jnp.ones((2, 3), jnp.bfloat16)})
    assert opt.get_params(state)["w"].dtype == jnp.bfloat16

    def one(p):
        s = opt.init({"w": p}, num_steps=3)
        return opt.get_params(opt.update(s, {"w": jnp.ones(3)}))["w"]

    out = jax.vmap(one)(jnp.stack([jnp.ones(3), 2 * jnp.ones(3)]))
    np.testing.assert_allclose(out[1] - 2, out[0] - 1, atol=1e-6)  # the same step from either start
    with pytest.raises(ValueError, match="nn_adam.init: num_steps is required"):
        opt.init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match=r"gradient leaf \['w'\] has shape"):
        opt.update(opt.init({"w": jnp.ones(2)}, num_steps=2), {"w": jnp.ones(3)})


def test_configuration_is_hashable():
    assert hash(NNAdam()) == hash(nn_adam())
