import jax
import jax.numpy as jnp
import lopt_features as lf
import numpy as np
import pytest

from lopt_architectures.velo import VeLO, _mix_bank, _per_param_step, velo

SMALL = VeLO(lstm_hidden_size=16, bank_size=4)
SHAPES = {"a": (), "b": (5,), "c": (4, 3), "k": (3, 3, 2, 2)}


def tree(rng, scale=1.0, dtype=jnp.float32):
    return {k: jnp.asarray(scale * rng.standard_normal(s), dtype) for k, s in SHAPES.items()}


def run(lopt, theta, params, grads, losses):
    opt = lopt.optimizer(theta)
    state = opt.init(params, num_steps=50)
    update = jax.jit(opt.update)
    for g, loss in zip(grads, losses):
        state = update(state, g, loss=loss, key=jax.random.PRNGKey(0))
    return opt, state


def test_released_configuration_has_2320385_meta_parameters():
    shapes = jax.eval_shape(velo().init_meta_params, jax.random.PRNGKey(0))
    assert sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)) == 2_320_385
    assert shapes["per_tensor"]["lstm"]["w"].shape == (1024, 2048)
    assert shapes["per_param_bank"]["w0"]["fac_m"].shape == (256, 3, 4)


def test_mix_bank_is_100_times_the_coefficient_weighted_mean():
    rng = np.random.default_rng(0)
    bank = {"w": jnp.asarray(rng.standard_normal((4, 3, 2)), jnp.float32), "b": jnp.asarray(rng.standard_normal((4, 2)))}
    c = jnp.asarray([0.5, -1.0, 2.0, 0.0])
    mixed = _mix_bank(bank, c)
    want = 100 / 4 * np.einsum("k,kij->ij", np.asarray(c), np.asarray(bank["w"]))
    np.testing.assert_allclose(mixed["w"], want, rtol=1e-5)
    np.testing.assert_allclose(mixed["b"], 100 / 4 * np.asarray(c) @ np.asarray(bank["b"]), rtol=1e-5)


def test_fused_per_parameter_step_equals_a_straightforward_mlp():
    rng = np.random.default_rng(1)
    theta = SMALL.init_meta_params(jax.random.PRNGKey(1))
    bank = jax.tree.map(lambda x: x + 0.05 * jnp.asarray(rng.standard_normal(x.shape), jnp.float32),
                        theta["per_param_bank"])
    coefficients = jnp.asarray(rng.standard_normal(4), jnp.float32)
    for shape in SHAPES.values():
        p = jnp.asarray(rng.standard_normal(shape), jnp.float32)
        g = jnp.asarray(0.1 * rng.standard_normal(shape), jnp.float32)
        mom, rms, fac = lf.momentum((0.9, 0.99, 0.999)), lf.second_moment((0.999,)), lf.factored_second_moment((0.9, 0.99, 0.999))
        m, v, f = mom.update(mom.init(p), g).m, rms.update(rms.init(p), g).v, fac.update(fac.init(p), g)
        got = _per_param_step(SMALL, bank, coefficients, 1.7, p, g, m, v, f.v_row, f.v_col, f.v_diag)
        # Straightforward: normalise each group, concatenate, matrix products.
        mlp = {k: np.asarray(x, np.float64) for k, x in _mix_bank(bank, coefficients).items() if k != "w0"}
        w0 = np.concatenate([np.asarray(_mix_bank(bank, coefficients)["w0"][n]) for n, _ in SMALL.channel_groups])
        x = np.concatenate([np.asarray(gr, np.float64) for gr in lf.velo_channel_groups(p, g, m, v, f.v_row, f.v_col, f.v_diag)], -1)
        x = x / np.sqrt(np.mean(x**2, axis=tuple(range(len(shape))), keepdims=True) + 1e-5)
        h = np.maximum(x @ w0 + mlp["b0"], 0)
        h = np.maximum(h @ mlp["w1"] + mlp["b1"], 0)
        out = h @ mlp["w2"] + mlp["b2"]
        scale = np.sqrt(np.mean(np.asarray(p, np.float64) ** 2) + 1e-9)
        want = np.asarray(p) - 1.7 * out[..., 0] * scale * np.exp(0.001 * out[..., 1]) * 0.001
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=str(shape))


def test_unused_mix_layer_has_no_effect_and_lstm_state_is_carried():
    rng = np.random.default_rng(2)
    theta = SMALL.init_meta_params(jax.random.PRNGKey(2))
    params, grads = tree(rng), [tree(rng, 0.1) for _ in range(3)]
    opt, state = run(SMALL, theta, params, grads, [2.0, 1.8, 1.7])
    changed = jax.tree.map(lambda x: x, theta)
    changed["per_tensor"]["unused_mix"] = jax.tree.map(lambda x: x + 1.0, theta["per_tensor"]["unused_mix"])
    _, state2 = run(SMALL, changed, params, grads, [2.0, 1.8, 1.7])
    jax.tree.map(np.testing.assert_array_equal, opt.get_params(state), opt.get_params(state2))
    assert not np.allclose(state.lstm_state.hidden, 0)


def test_step_size_head_scales_the_step():
    rng = np.random.default_rng(3)
    theta = SMALL.init_meta_params(jax.random.PRNGKey(3))
    params, grads = tree(rng), [tree(rng, 0.1)]
    steps = []
    for bias in (1.0, 3.0):
        theta["per_tensor"]["step_size"] = {"w": jnp.zeros((16, 1)), "b": jnp.full((1,), bias)}
        opt, state = run(SMALL, theta, params, grads, [2.0])
        steps.append({k: np.asarray(opt.get_params(state)[k]) - np.asarray(params[k]) for k in params})
    for k in params:
        np.testing.assert_allclose(steps[1][k], 3 * steps[0][k], rtol=1e-4, atol=1e-8)


def test_bfloat16_and_vmap_over_tasks():
    theta = SMALL.init_meta_params(jax.random.PRNGKey(4))
    opt = SMALL.optimizer(theta)
    state = opt.init({"w": jnp.ones((3, 4), jnp.bfloat16)}, num_steps=10)
    state = opt.update(state, {"w": jnp.ones((3, 4), jnp.bfloat16)}, loss=1.0)
    assert opt.get_params(state)["w"].dtype == jnp.bfloat16

    def one(p, loss):
        s = opt.init({"w": p}, num_steps=10)
        return opt.get_params(opt.update(s, {"w": 0.1 * p}, loss=loss))["w"]

    batch = jnp.stack([jnp.ones((3, 4)), -jnp.ones((3, 4))])
    out = jax.jit(jax.vmap(one))(batch, jnp.asarray([1.0, 2.0]))
    np.testing.assert_allclose(out[0], one(batch[0], 1.0), rtol=1e-6)


def test_errors():
    opt = SMALL.optimizer(SMALL.init_meta_params(jax.random.PRNGKey(0)))
    with pytest.raises(ValueError, match="velo.init: num_steps is required"):
        opt.init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="velo.update: this optimizer reads the training loss"):
        opt.update(opt.init({"w": jnp.ones(2)}, num_steps=3), {"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="needs 3 momentum, 1 second-moment and 3 AdaFactor decays"):
        VeLO(momentum_decays=(0.9,))
