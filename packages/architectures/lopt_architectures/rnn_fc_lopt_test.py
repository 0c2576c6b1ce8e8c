import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_architectures.rnn_fc_lopt import _clip_gradients, DynamicClipState, record_validation_loss, rnn_fc_lopt

SHAPES = {"a": (), "b": (5,), "c": (4, 3), "k": (3, 3, 2, 2)}


def make(seed=0):
    lopt = rnn_fc_lopt()
    return lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(seed)))


def tree(rng, scale=1.0):
    return {k: jnp.asarray(scale * rng.standard_normal(s), jnp.float32) for k, s in SHAPES.items()}


def test_default_has_35799_meta_parameters():
    theta = rnn_fc_lopt().init_meta_params(jax.random.PRNGKey(0))
    assert sum(x.size for x in jax.tree.leaves(theta)) == 35799
    assert theta["lstm"]["w"].shape == (116, 256) and theta["ff_mlp"]["w0"].shape == (54, 32)


def test_dynamic_clip_matches_numpy():
    state = DynamicClipState(jnp.asarray(1.0), jnp.asarray(0.01))
    grads = {"a": jnp.asarray([100.0, -0.5]), "b": jnp.asarray([3.0])}
    new, clipped = _clip_gradients(state, grads)
    amount = 0.01 / (1 - 0.99) * 10  # = 10
    np.testing.assert_allclose(clipped["a"], [amount, -0.5], rtol=2e-6)
    mean_square = (np.mean(np.asarray([amount, -0.5]) ** 2) + 9.0) / 2
    np.testing.assert_allclose(new.value, 0.99 * 0.01 + 0.01 * np.sqrt(1e-8 + mean_square), rtol=1e-6)
    assert float(new.iteration) == 2.0


def test_runs_jitted_on_every_rank_and_stays_finite():
    opt = make()
    rng = np.random.default_rng(0)
    state = opt.init(tree(rng), num_steps=100)
    update = jax.jit(opt.update)
    for t in range(4):
        state = update(state, tree(rng, 0.1), loss=2.0 - 0.1 * t)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state))
    assert int(state.step) == 4 and state.lstm_state.hidden.shape == (4, 64)


def test_validation_loss_feeds_the_next_update():
    opt = make()
    rng = np.random.default_rng(1)
    params, grads = tree(rng), tree(rng, 0.1)
    state = opt.update(opt.init(params, num_steps=10), grads, loss=2.0)
    with_valid = record_validation_loss(state, 5.0)
    assert int(with_valid.step) == 2 and int(with_valid.valid_loss.updates) == 1
    a = opt.get_params(opt.update(state, grads, loss=2.0))
    b = opt.get_params(opt.update(with_valid, grads, loss=2.0))
    assert any(not np.allclose(a[k], b[k]) for k in a)


def test_a_non_finite_validation_loss_is_skipped_and_counted():
    opt = make()
    state = opt.init({"w": jnp.ones(3)}, num_steps=10)
    state = record_validation_loss(state, 4.0)
    skipped = record_validation_loss(state, jnp.nan)
    assert int(skipped.skipped_steps) == 1 and int(skipped.step) == 1
    jax.tree.map(np.testing.assert_array_equal, skipped._replace(skipped_steps=0), state._replace(skipped_steps=0))


def test_errors():
    opt = make()
    state = opt.init({"w": jnp.ones(3)}, num_steps=5)
    with pytest.raises(ValueError, match="rnn_fc_lopt.update: this optimizer reads the training loss"):
        opt.update(state, {"w": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"parameter \['w'\] has rank 5"):
        opt.init({"w": jnp.ones((1, 1, 1, 1, 2))}, num_steps=5)
    with pytest.raises(ValueError, match="rnn_fc_lopt.init: num_steps is required"):
        opt.init({"w": jnp.ones(3)})


def test_vmap_over_tasks_matches_single_runs():
    opt = make(3)
    rng = np.random.default_rng(4)
    batch = [tree(rng) for _ in range(2)]
    grads = [tree(rng, 0.1) for _ in range(2)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *batch)
    stacked_grads = jax.tree.map(lambda *x: jnp.stack(x), *grads)

    def one(p, g, loss):
        return opt.get_params(opt.update(opt.init(p, num_steps=10), g, loss=loss))

    out = jax.jit(jax.vmap(one))(stacked, stacked_grads, jnp.asarray([2.0, 3.0]))
    for i in range(2):
        single = one(batch[i], grads[i], jnp.asarray([2.0, 3.0])[i])
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-6), out, single)
