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


def test_fraction_features_let_the_lstm_read_how_far_training_is():
    # Only the 9 fraction rows feed the LSTM's cell candidate; input and output gates are open,
    # and the controls pass hidden unit 0 to the learning rate. One update at step s of T then moves
    # every tensor's transformed rate by 0.01·σ(30)·tanh(σ(30)·tanh(Σ_c w_c·tanh(10(s/T − c)))).
    lopt = nn_adam(fraction_features=True)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    assert lopt.num_lstm_inputs == 28 and theta["lstm"]["w"].shape == (28 + 32, 128)
    assert sum(x.size for x in jax.tree.leaves(theta)) == 6856 + 9 * 128
    centres = np.array([0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1])
    weights = np.linspace(-1.0, 1.0, 9)
    w = np.zeros((60, 128), np.float32)
    w[19:28, 32] = weights  # cell-candidate gate of hidden unit 0
    b = np.zeros(128, np.float32)
    b[0:32] = 30.0  # input gates open
    b[96:128] = 30.0  # output gates open
    theta["lstm"] = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
    theta["controls"]["w"] = theta["controls"]["w"].at[0, 0].set(1.0)
    opt = lopt.optimizer(theta)
    params = tree(np.random.default_rng(3))
    sigma = 1 / (1 + np.exp(-30.0))
    for step, num_steps in [(0, 200), (150, 200), (150, 1000), (199, 200)]:
        state = opt.init(params, num_steps=num_steps)._replace(step=jnp.asarray(step, jnp.int32))
        new = opt.update(state, tree(np.random.default_rng(4), 0.1))
        cell = sigma * np.tanh(weights @ np.tanh(10 * (step / num_steps - centres)))
        expected = 0.1 * np.log(1e-4) + 0.01 * sigma * np.tanh(cell)
        np.testing.assert_allclose(np.asarray(jax.tree.leaves(new.hparams.learning_rate)), expected, rtol=1e-5,
                                   err_msg=f"step {step} of {num_steps}")


def test_without_fraction_features_the_update_ignores_the_planned_length():
    lopt = nn_adam()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    theta["controls"] = {"w": jnp.ones((32, 4)), "b": jnp.zeros(4)}
    opt = lopt.optimizer(theta)
    params, grads = tree(np.random.default_rng(5)), tree(np.random.default_rng(6), 0.1)
    short, long = (opt.update(opt.init(params, num_steps=n), grads) for n in (10, 10_000))
    jax.tree.map(np.testing.assert_array_equal, short.hparams, long.hparams)


def test_a_learned_schedule_scales_each_steps_learning_rate():
    # Controls at zero: the Adam-like rule with α_t = α·exp(10·s(t/T)), s interpolating the knots.
    lopt = nn_adam(schedule_knots=3)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    assert np.all(theta["schedule"] == 0) and theta["schedule"].shape == (3,)
    theta["schedule"] = jnp.asarray([0.1, 0.0, -0.2])
    opt = lopt.optimizer(theta)
    rng = np.random.default_rng(7)
    params = tree(rng)
    num_steps = 4
    grads = [tree(rng, 0.1) for _ in range(num_steps)]
    state = opt.init(params, num_steps=num_steps)
    for g in grads:
        state = opt.update(state, g)
    b1, b2, eps = 0.9, 0.999, 1e-8
    knots = {0.0: 0.1, 0.25: 0.05, 0.5: 0.0, 0.75: -0.1}  # s at t/T for t = 0..3
    for k in SHAPES:
        p, m, v = np.asarray(params[k], np.float64), 0.0, 0.0
        for t, g in enumerate(grads):
            lr = 1e-4 * np.exp(10 * knots[t / num_steps])
            g = np.asarray(g[k], np.float64)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            p = p - lr * (1 + eps) / (eps + np.sqrt(v + 1e-10)) * m
        np.testing.assert_allclose(opt.get_params(state)[k], p, rtol=1e-5, atol=1e-7, err_msg=k)
    # The schedule scales the step, not the stored per-tensor rates the LSTM reads and changes.
    np.testing.assert_allclose(np.asarray(jax.tree.leaves(state.hparams.learning_rate)), 0.1 * np.log(1e-4), rtol=1e-6)
    with pytest.raises(ValueError, match="schedule_knots must be 0"):
        nn_adam(schedule_knots=1)
