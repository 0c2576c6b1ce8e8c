"""`lopt_pretrained.optax`: every source of θ, weight decay and gradient accumulation, against the bare optimizer."""

import os
import warnings

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import optax
import pytest

import lopt_pretrained
from lopt_pretrained import horizon_contract, registry
from lopt_pretrained.flax_msgpack import CheckpointFormatError

NAME = "small_fc_lopt_digits_mlp"  # meta-trained on 200-step runs, evaluated at 200 and 1,000 steps
X = jax.random.normal(jax.random.PRNGKey(0), (32, 3))
Y = jnp.sin(X @ jnp.asarray([1.0, -2.0, 0.5]))


def loss_fn(params):
    return jnp.mean((jnp.tanh(X @ params["w"] + params["b"]) @ params["v"] - Y) ** 2)


def initial_params():
    return {"w": 0.5 * jax.random.normal(jax.random.PRNGKey(1), (3, 6)), "b": jnp.zeros(6),
            "v": 0.5 * jax.random.normal(jax.random.PRNGKey(2), (6,))}


def train(tx, steps, extra_args=False):
    """An ordinary optax loop; the loss goes in as a keyword or, as the reference's code does, in `extra_args`."""
    params = initial_params()
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        kwargs = {"extra_args": {"loss": loss}} if extra_args else {"loss": loss}
        updates, state = tx.update(grads, state, params, **kwargs)
        return optax.apply_updates(params, updates), state, loss

    losses = []
    for _ in range(steps):
        params, state, loss = step(params, state)
        losses.append(float(loss))
    return params, state, losses


def direct(opt, steps, num_steps, decay=0.0):
    """The same run with the lopt Optimizer itself, weight decay written out by hand (no optax in between)."""
    state = opt.init(initial_params(), num_steps=num_steps, key=jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(0)
    for _ in range(steps):
        params = opt.get_params(state)
        loss, grads = jax.value_and_grad(loss_fn)(params)
        loss = loss + decay * sum(jnp.sum(p**2) for p in jax.tree.leaves(params))
        grads = jax.tree.map(lambda g, p: g + decay * p, grads, params)
        key, step_key = jax.random.split(key)
        state = opt.update(state, grads, loss=loss, key=step_key)
    return opt.get_params(state)


def close(a, b):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-7), a, b)


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(horizon_contract, "_WARNED", set())


def test_a_registry_entry_runs_as_its_optimizer_does():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 200 steps: its own horizon, no warning
        tx = lopt_pretrained.optax(NAME, num_training_steps=200)
    params, _, losses = train(tx, 6)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    lopt, theta, _ = lopt_pretrained.load(NAME)
    close(params, direct(lopt.optimizer(theta), 6, 200))
    close(train(lopt_pretrained.pretrained_optax(NAME, 200), 6)[0], params)  # the old name is the same drop-in


def test_every_source_of_the_same_theta_gives_the_same_run(tmp_path):
    """An entry's directory, a reference-format file and the tree itself (θ directories: theta_dir_test.py)."""
    _, theta, _ = lopt_pretrained.load(NAME)
    expected = train(lopt_pretrained.optax(NAME, 200), 4)[0]
    lopt_pretrained.save_reference_checkpoint(tmp_path / "params", "small_fc_lopt", theta)
    for source, architecture in ((os.path.join(registry.registry_dir(), NAME), None),
                                 (tmp_path / "params", "small_fc_lopt"), (theta, "small_fc_lopt")):
        close(train(lopt_pretrained.optax(source, 200, architecture=architecture), 4)[0], expected)


def test_weight_decay_is_added_to_gradients_and_to_the_loss_the_optimizer_reads():
    lopt, theta, _ = lopt_pretrained.load(NAME)
    expected = direct(lopt.optimizer(theta), 5, 200, decay=0.05)
    close(train(lopt_pretrained.optax(NAME, 200, weight_decay=0.05), 5)[0], expected)
    close(train(lopt_pretrained.optax(NAME, 200, weight_decay=0.05), 5, extra_args=True)[0], expected)
    # What the wrapped transformation receives, in closed form: g + 0.1·φ and loss + 0.1·Σφ² = 1 + 0.1·(1 + 4 + 9).
    seen = []

    def probe_update(updates, state, params=None, *, loss=None, extra_args=None):
        seen.append((updates, loss, extra_args))
        return updates, state

    tx = lopt_pretrained.with_weight_decay(optax.GradientTransformationExtraArgs(optax.init_empty_state, probe_update),
                                           0.1)
    params, grads = {"a": jnp.asarray([1.0, 2.0]), "b": jnp.asarray(3.0)}, {"a": jnp.ones(2), "b": jnp.asarray(-1.0)}
    tx.update(grads, tx.init(params), params, loss=jnp.asarray(1.0))
    tx.update(grads, tx.init(params), params, extra_args={"loss": jnp.asarray(1.0)})
    for updates, loss, extra_args in seen:
        np.testing.assert_allclose(updates["a"], [1.1, 1.2], rtol=1e-6)
        np.testing.assert_allclose(updates["b"], -0.7, rtol=1e-6)
        np.testing.assert_allclose(loss if loss is not None else extra_args["loss"], 2.4, rtol=1e-6)


def test_long_runs_accumulate_and_the_horizon_checked_is_the_number_of_updates():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 2,000 steps in updates of 10: 200 updates, inside the contract
        tx = lopt_pretrained.optax(NAME, 2000, max_training_steps=200)
    _, state, losses = train(tx, 12)
    assert isinstance(state.opt_state, la.AccumulationState)
    assert int(state.opt_state.inner.num_steps) == 200 and int(state.opt_state.inner.step) == 1
    assert losses[:10] == [losses[0]] * 10 and losses[10] != losses[0]  # the parameters move every 10th step


def test_what_cannot_be_loaded_says_why(tmp_path):
    with pytest.raises(lopt_pretrained.UnknownPretrainedError, match="no pretrained optimizer 'celo3'; known: "):
        lopt_pretrained.optax("celo3", 100)
    with pytest.raises(ValueError, match="num_training_steps must be positive"):
        lopt_pretrained.optax(NAME, 0)
    with pytest.raises(CheckpointFormatError, match="neither a registry entry"):
        lopt_pretrained.optax(tmp_path, 100)
    theta = la.small_fc_lopt().init_meta_params(jax.random.PRNGKey(0))
    lopt_pretrained.save_reference_checkpoint(tmp_path / "params", "small_fc_lopt", theta)
    with pytest.raises(ValueError, match="is a weights file; say which architecture"):
        lopt_pretrained.optax(tmp_path / "params", 100)
    with pytest.raises(ValueError, match="θ given as a tree needs architecture="):
        lopt_pretrained.optax(theta, 100)
    with pytest.raises(ValueError, match=f"'{NAME}' is a small_fc_lopt, not a velo"):
        lopt_pretrained.optax(NAME, 100, architecture="velo")
