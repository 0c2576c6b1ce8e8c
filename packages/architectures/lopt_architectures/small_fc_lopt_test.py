import jax
import jax.numpy as jnp
import lopt_features as lf
import numpy as np
import pytest
from lopt_features import _numpy_reference as feature_ref

from lopt_architectures.small_fc_lopt import SmallFcLOpt, learned_decay, small_fc_lopt

SHAPES = {"a_scalar": (), "b_vector": (7,), "c_matrix": (4, 6), "d_rank3": (2, 5, 3), "e_conv": (3, 3, 2, 4)}
TIMESCALES = np.asarray([1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000], np.float64)


def random_theta(lopt, seed, scale=0.1):
    """Meta-parameters with nonzero biases and decay offsets and a large last layer."""
    theta = lopt.init_meta_params(jax.random.PRNGKey(seed))
    rng = np.random.default_rng(seed)
    theta = jax.tree.map(lambda x: x + jnp.asarray(scale * rng.standard_normal(x.shape), jnp.float32), theta)
    last = f"w{lopt.hidden_layers}"
    theta["mlp"][last] = theta["mlp"][last] * 100
    return theta


def random_tree(rng, dtype, scale=1.0):
    return {k: jnp.asarray(scale * rng.standard_normal(s), dtype) for k, s in SHAPES.items()}


def run(lopt, theta, params, grad_steps):
    opt = lopt.optimizer(theta)
    state = opt.init(params, num_steps=100)
    update = jax.jit(opt.update)
    trajectory = []
    for g in grad_steps:
        state = update(state, g)
        trajectory.append(opt.get_params(state))
    return trajectory


def test_default_has_197_meta_parameters():
    theta = small_fc_lopt().init_meta_params(jax.random.PRNGKey(0))
    shapes = jax.tree.map(jnp.shape, theta)
    assert shapes == {
        "decays": {"factored": (3,), "momentum": (3,), "second_moment": (1,)},
        "mlp": {"w0": (39, 4), "b0": (4,), "w1": (4, 4), "b1": (4,), "w2": (4, 2), "b2": (2,)},
    }
    assert sum(x.size for x in jax.tree.leaves(theta)) == 197
    assert all(np.all(x == 0) for x in jax.tree.leaves(theta["decays"]))


@pytest.mark.parametrize("hidden_size,hidden_layers", [(4, 2), (8, 1), (2, 3), (16, 2)])
def test_meta_parameter_count_formula(hidden_size, hidden_layers):
    lopt = SmallFcLOpt(hidden_size=hidden_size, hidden_layers=hidden_layers)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    h, layers = hidden_size, hidden_layers
    # The paper's count: (28 + 11)·H + H + (L − 1)(H² + H) + 2H + 2 + 7.
    assert sum(x.size for x in jax.tree.leaves(theta)) == 39 * h + h + (layers - 1) * (h * h + h) + 2 * h + 2 + 7


def test_learned_decay_parameterisation():
    offsets = jnp.asarray([0.0, 0.1, -0.2])
    np.testing.assert_allclose(
        learned_decay((0.9, 0.99, 0.999), offsets),
        1 - np.asarray([0.1, 0.01, 0.001]) * np.exp(10 * np.asarray([0.0, 0.1, -0.2])),
        rtol=1e-5,
    )


def numpy_step(theta, params, grad_steps, lopt):
    """Parameters after the given steps, from numpy features and a numpy MLP (float64)."""
    d = {k: np.asarray(v, np.float64) for k, v in theta["decays"].items()}
    mom_d = 1 - (1 - np.asarray(lopt.momentum_decays)) * np.exp(10 * d["momentum"])
    rms_d = 1 - (1 - np.asarray(lopt.second_moment_decays)) * np.exp(10 * d["second_moment"])
    fac_d = 1 - (1 - np.asarray(lopt.factored_decays)) * np.exp(10 * d["factored"])
    mlp = {k: np.asarray(v, np.float64) for k, v in theta["mlp"].items()}
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    for t in range(len(grad_steps)):
        seen = [{k: np.asarray(g[k], np.float64) for k in p} for g in grad_steps[: t + 1]]
        new_p = {}
        for k in p:
            grads = [s[k] for s in seen]
            g = grads[-1]
            m = feature_ref.momentum(grads, mom_d, jnp.float32)
            v = feature_ref.second_moment(grads, rms_d, jnp.float32)
            dims, row, col, diag = feature_ref.factored(grads, fac_d, jnp.float32)
            row_t, col_t = feature_ref.tiled(g.shape, dims, row, col, diag)
            fac_g = g[..., None] * feature_ref.preconditioner(g.shape, dims, row, col, diag)
            fac_m = m * feature_ref.preconditioner(g.shape, dims, row, col, diag, diag_epsilon=1e-6)
            x = np.concatenate([g[..., None], p[k][..., None], m, v, m / np.sqrt(v + 1e-6), 1 / np.sqrt(v + 1e-6),
                                fac_g, row_t, col_t, 1 / np.sqrt(row_t + 1e-8), 1 / np.sqrt(col_t + 1e-8), fac_m], -1)
            x = x / np.sqrt(np.mean(x**2, axis=tuple(range(g.ndim)), keepdims=True) + 1e-5)
            x = np.concatenate([x, np.broadcast_to(np.tanh(t / TIMESCALES - 1), g.shape + (11,))], -1)
            for i in range(lopt.hidden_layers + 1):
                x = x @ mlp[f"w{i}"] + mlp[f"b{i}"]
                if i < lopt.hidden_layers:
                    x = np.maximum(x, 0)
            new_p[k] = p[k] - x[..., 0] * np.exp(0.001 * x[..., 1]) * 0.001
        p = new_p
    return p


@pytest.mark.parametrize("fused", [True, False])
def test_matches_numpy(fused):
    lopt = SmallFcLOpt(fused=fused)
    theta = random_theta(lopt, 0)
    rng = np.random.default_rng(1)
    params = random_tree(rng, jnp.float32)
    grads = [random_tree(rng, jnp.float32, 0.1) for _ in range(3)]
    got = run(lopt, theta, params, grads)[-1]
    want = numpy_step(theta, params, grads, lopt)
    for k in params:
        assert np.max(np.abs(want[k] - np.asarray(params[k]))) > 1e-3
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=2e-6, err_msg=k)


@pytest.mark.parametrize("config", [{}, {"hidden_size": 8, "hidden_layers": 1}, {"hidden_size": 2, "hidden_layers": 3}])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["float32", "bfloat16"])
def test_fused_update_equals_straightforward(config, dtype):
    fused, plain = SmallFcLOpt(fused=True, **config), SmallFcLOpt(fused=False, **config)
    theta = random_theta(fused, 2)
    rng = np.random.default_rng(3)
    params = random_tree(rng, dtype)
    grads = [random_tree(rng, dtype, 0.1) for _ in range(3)]
    for got, want in zip(run(fused, theta, params, grads), run(plain, theta, params, grads)):
        for k in params:
            assert got[k].dtype == dtype
            if dtype == jnp.float32:
                np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6, err_msg=k)
            else:  # both round to bfloat16: a few units in the last place of the leaf's scale
                want32 = np.asarray(want[k], np.float32)
                np.testing.assert_allclose(np.asarray(got[k], np.float32), want32, rtol=2**-7,
                                           atol=2**-7 * np.max(np.abs(want32)), err_msg=k)


def test_vmap_over_meta_parameters_and_over_tasks():
    lopt = small_fc_lopt()
    thetas = jax.tree.map(lambda *x: jnp.stack(x), random_theta(lopt, 4), random_theta(lopt, 5))
    params = {"w": jnp.ones((3, 4)), "b": jnp.zeros(4)}
    grads = {"w": jnp.full((3, 4), 0.3), "b": jnp.full(4, -0.1)}

    def one_step(theta, p, g):
        opt = lopt.optimizer(theta)
        return opt.get_params(opt.update(opt.init(p, num_steps=10), g))

    batched = jax.jit(jax.vmap(one_step, in_axes=(0, None, None)))(thetas, params, grads)
    for i in range(2):
        single = one_step(jax.tree.map(lambda x: x[i], thetas), params, grads)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[i], b, rtol=1e-6), batched, single)
    tasks = jax.tree.map(lambda x: jnp.stack([x, 2 * x, 3 * x]), params)
    out = jax.vmap(one_step, in_axes=(None, 0, None))(random_theta(lopt, 4), tasks, grads)
    assert out["w"].shape == (3, 3, 4)


def test_state_carries_model_state_and_counts_steps():
    opt = small_fc_lopt().optimizer(small_fc_lopt().init_meta_params(jax.random.PRNGKey(0)))
    state = opt.init({"w": jnp.ones(2)}, num_steps=5, model_state={"bn": jnp.zeros(2)})
    state = opt.update(state, {"w": jnp.ones(2)}, model_state={"bn": jnp.ones(2)})
    assert int(state.step) == 1 and int(state.num_steps) == 5
    np.testing.assert_array_equal(state.model_state["bn"], [1.0, 1.0])


def test_error_paths():
    lopt = small_fc_lopt()
    opt = lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0)))
    with pytest.raises(ValueError, match="small_fc_lopt.init: num_steps is required"):
        opt.init({"w": jnp.ones(2)})
    state = opt.init({"w": jnp.ones((2, 3))}, num_steps=5)
    with pytest.raises(ValueError, match=r"gradient leaf \['w'\] has shape \(3, 2\); expected \(2, 3\)"):
        opt.update(state, {"w": jnp.ones((3, 2))})
    with pytest.raises(ValueError, match=r"missing leaves \['w'\]"):
        opt.update(state, {"v": jnp.ones((2, 3))})
    with pytest.raises(ValueError, match=r"\['mlp'\]\['w0'\] has shape \(39, 8\); this configuration expects \(39, 4\)"):
        lopt.optimizer(SmallFcLOpt(hidden_size=8).init_meta_params(jax.random.PRNGKey(0)))


def test_feature_names_are_lopt_features():
    assert small_fc_lopt().feature_names == lf.SMALL_FC_LOPT_FEATURE_NAMES
