"""Celo and Celo-Adam against independent computations (parity with the authors' code is in lopt_pretrained)."""

import importlib

import jax
import jax.numpy as jnp
import lopt_features as lf
import numpy as np
import pytest

from lopt_architectures.base import num_meta_params
from lopt_architectures.celo import celo, celo_adam
from lopt_architectures.partial import partially_trained
from lopt_architectures.velo import mlp_step

celo_module = importlib.import_module("lopt_architectures.celo")
SHAPES = {"a": (), "b": (5,), "c": (4, 3), "k": (3, 3, 2, 2)}


def tree(rng, scale=1.0):
    return {k: jnp.asarray(scale * rng.standard_normal(s), jnp.float32) for k, s in SHAPES.items()}


def run(lopt, theta, params, grads, losses, num_steps=50):
    opt = lopt.optimizer(theta)
    state = opt.init(params, num_steps=num_steps)
    update = jax.jit(opt.update)
    for g, loss in zip(grads, losses):
        state = update(state, g, loss=loss)
    return opt, state


def test_released_configurations_meta_parameter_counts():
    assert num_meta_params(celo().init_meta_params(jax.random.PRNGKey(0))) == 37_089
    assert num_meta_params(celo_adam().init_meta_params(jax.random.PRNGKey(0))) == 36_865
    theta = celo().init_meta_params(jax.random.PRNGKey(0))
    assert set(theta) == {"scheduler", "update_rule"}
    assert num_meta_params(theta["update_rule"]) == 159  # 30·4 + 4 + 4·4 + 4 + 4·3 + 3


def test_scheduler_step_by_hand():
    """λ = 0.1·exp(w·h + b) of one LSTM step on [mix(x) max-pooled + input(x)], written out in numpy."""
    rng = np.random.default_rng(0)
    net = jax.tree.map(lambda x: x + 0.1 * jnp.asarray(rng.standard_normal(x.shape), jnp.float32),
                       celo_module.init_scheduler(jax.random.PRNGKey(1), 8, with_controls=False))
    x = rng.standard_normal(18).astype(np.float32)
    state = celo_module.initial_scheduler_state(net)
    lam, new = celo_module.scheduler_step(net, jnp.asarray(x), state)
    n = {k: {kk: np.asarray(vv, np.float64) for kk, vv in v.items()} for k, v in net.items()}
    sig = lambda z: 1 / (1 + np.exp(-z))
    inp = x @ n["input"]["w"] + n["input"]["b"] + np.maximum(x @ n["mix"]["w"] + n["mix"]["b"], 0)
    gates = np.concatenate([inp, n["lstm_init_state"]["hidden"][0]]) @ n["lstm"]["w"] + n["lstm"]["b"]
    i, g, f, o = np.split(gates, 4)
    c = sig(f + 1) * n["lstm_init_state"]["cell"][0] + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
    np.testing.assert_allclose(lam, 0.1 * np.exp(h @ n["step_size"]["w"][:, 0] + n["step_size"]["b"][0]), rtol=1e-5)
    np.testing.assert_allclose(new.hidden[0], h, rtol=1e-5, atol=1e-6)


def test_celo_is_the_update_rule_scaled_by_the_scheduler():
    """One Celo step = VeLO's MLP step with Celo's own weights, multiplied by λ; phase 1 (no scheduler) uses λ = 1."""
    rng = np.random.default_rng(1)
    lopt = celo()
    theta = lopt.init_meta_params(jax.random.PRNGKey(2))
    theta["scheduler"]["step_size"]["b"] = jnp.asarray([1.3])  # λ far from 1
    params, g = tree(rng), tree(rng, 0.1)
    opt, state = run(lopt, theta, params, [g], [2.0])
    _, state1 = run(celo(use_scheduler=False), theta, params, [g], [2.0])
    buffer = lf.loss_buffer_update(lf.loss_buffer_init(50), 2.0)
    features = lf.celo_scheduler_features(lf.fraction_trained_features(0.0), lf.loss_buffer_features(buffer))
    start = celo_module.initial_scheduler_state(theta["scheduler"])
    lam, _ = celo_module.scheduler_step(theta["scheduler"], features, start)
    mom, rms = lf.momentum((0.9, 0.99, 0.999)), lf.second_moment((0.999,))
    fac = lf.factored_second_moment((0.9, 0.99, 0.999))
    for k, p in params.items():
        m, v, f = mom.update(mom.init(p), g[k]).m, rms.update(rms.init(p), g[k]).v, fac.update(fac.init(p), g[k])
        for state_, mult in ((state, lam), (state1, 1.0)):
            want = mlp_step(theta["update_rule"], mult, p, g[k], m, v, f.v_row, f.v_col, f.v_diag,
                            exp_mult=0.001, step_mult=0.001)
            np.testing.assert_allclose(opt.get_params(state_)[k], want, rtol=1e-5, atol=1e-7, err_msg=k)
    assert not np.allclose(opt.get_params(state)["c"], opt.get_params(state1)["c"])


def test_celo_adam_is_bias_corrected_adam_at_the_scheduled_rate():
    rng = np.random.default_rng(3)
    lopt = celo_adam()
    theta = lopt.init_meta_params(jax.random.PRNGKey(3))
    params = tree(rng)
    grads = [tree(rng, 0.1) for _ in range(3)]
    losses = [2.0, 1.5, 1.7]
    opt, state = run(lopt, theta, params, grads, losses)
    # Replay: λ from the scheduler, Adam in numpy.
    buffer, lstm = lf.loss_buffer_init(50), celo_module.initial_scheduler_state(theta["scheduler"])
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    for t, (g, loss) in enumerate(zip(grads, losses), start=1):
        buffer = lf.loss_buffer_update(buffer, loss)
        features = lf.celo_scheduler_features(lf.fraction_trained_features((t - 1) / 50),
                                              lf.loss_buffer_features(buffer))
        lam, lstm = celo_module.scheduler_step(theta["scheduler"], features, lstm)
        for k in p:
            gk = np.asarray(g[k], np.float64)
            m[k] = 0.9 * m[k] + 0.1 * gk
            v[k] = 0.999 * v[k] + 0.001 * gk**2
            mh, vh = m[k] / (1 - 0.9**t), v[k] / (1 - 0.999**t)
            p[k] = p[k] - float(lam) * 1e-3 * mh / (1e-8 + np.sqrt(vh + 1e-10))
    for k in p:
        np.testing.assert_allclose(opt.get_params(state)[k], p[k], rtol=1e-5, atol=1e-7, err_msg=k)


def test_adam_floor_takes_vectors_and_scalars_and_leaves_matrices_to_the_rule():
    """adam_1d_step_mult: rank <= 1 leaves follow bias-corrected Adam at λ·c (replayed in numpy, phase 1 so λ = 1);
    rank >= 2 leaves are exactly what the released configuration gives them."""
    rng = np.random.default_rng(6)
    lopt = celo(use_scheduler=False, adam_1d_step_mult=0.02)
    theta = lopt.init_meta_params(jax.random.PRNGKey(6))
    params = tree(rng)
    grads = [tree(rng, 0.1) for _ in range(3)]
    losses = [2.0, 1.5, 1.7]
    opt, state = run(lopt, theta, params, grads, losses)
    _, released = run(celo(use_scheduler=False), theta, params, grads, losses)
    for k in ("a", "b"):
        p = np.asarray(params[k], np.float64)
        m = v = np.zeros_like(p)
        for t, g in enumerate(grads, start=1):
            gk = np.asarray(g[k], np.float64)
            m, v = 0.9 * m + 0.1 * gk, 0.999 * v + 0.001 * gk**2
            p = p - 0.02 * (m / (1 - 0.9**t)) / (1e-8 + np.sqrt(v / (1 - 0.999**t) + 1e-10))
        np.testing.assert_allclose(opt.get_params(state)[k], p, rtol=1e-5, atol=1e-7, err_msg=k)
        assert not np.allclose(opt.get_params(state)[k], opt.get_params(released)[k])
    for k in ("c", "k"):
        np.testing.assert_array_equal(opt.get_params(state)[k], opt.get_params(released)[k])


def test_a_zero_initialised_bias_barely_moves_under_the_learned_rule_alone():
    """Why the floor exists: the learned step is proportional to rms(φ), so a zero vector stays near zero."""
    rng = np.random.default_rng(7)
    params = {"w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32), "b": jnp.zeros(3, jnp.float32)}
    grads = [{"w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32), "b": jnp.ones(3, jnp.float32)}] * 20
    theta = celo().init_meta_params(jax.random.PRNGKey(7))
    opt, released = run(celo(use_scheduler=False), theta, params, grads, [1.0] * 20)
    _, floored = run(celo(use_scheduler=False, adam_1d_step_mult=0.01), theta, params, grads, [1.0] * 20)
    assert np.max(np.abs(opt.get_params(released)["b"])) < 1e-6
    np.testing.assert_allclose(opt.get_params(floored)["b"], -0.2, rtol=1e-3)  # 20 Adam steps of 0.01 against g = 1


def test_gradients_are_clipped_at_1000():
    rng = np.random.default_rng(4)
    lopt = celo_adam()
    theta = lopt.init_meta_params(jax.random.PRNGKey(4))
    params = tree(rng)
    g = tree(rng, 1.0)
    huge = jax.tree.map(lambda x: x * 0 + 1e6, g)
    clipped = jax.tree.map(lambda x: x * 0 + 1e3, g)
    _, s1 = run(lopt, theta, params, [huge, g], [1.0, 1.0])
    opt, s2 = run(lopt, theta, params, [clipped, g], [1.0, 1.0])
    jax.tree.map(np.testing.assert_array_equal, opt.get_params(s1), opt.get_params(s2))


def test_each_part_can_be_meta_trained_alone():
    lopt = celo()
    theta = lopt.init_meta_params(jax.random.PRNGKey(5))
    for part in ("update_rule", "scheduler"):
        wrapped = partially_trained(lopt, theta, trainable=(part,))
        assert set(wrapped.init_meta_params(jax.random.PRNGKey(0))) == {part}
    rng = np.random.default_rng(5)
    params, g = tree(rng), tree(rng, 0.1)
    wrapped = partially_trained(lopt, theta, trainable=("scheduler",))
    _, state = run(wrapped, wrapped.init_meta_params(None), params, [g], [1.0])
    opt, want = run(lopt, theta, params, [g], [1.0])
    jax.tree.map(np.testing.assert_array_equal, opt.get_params(state), opt.get_params(want))


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="3 momentum"):
        celo(momentum_decays=(0.9,))
    with pytest.raises(ValueError, match="lstm_hidden_size must be >= 1"):
        celo(lstm_hidden_size=0)
    with pytest.raises(ValueError, match="hidden_size must be >= 1"):
        celo(hidden_size=-2)
    with pytest.raises(ValueError, match="adam_1d_step_mult must be >= 0"):
        celo(adam_1d_step_mult=-0.1)
    with pytest.raises(ValueError, match="one momentum"):
        celo_adam(momentum_decays=(0.9, 0.99))
    opt = celo().optimizer(celo().init_meta_params(jax.random.PRNGKey(0)))
    with pytest.raises(ValueError, match="num_steps"):
        opt.init({"a": jnp.zeros(3)})
