import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import optax
import pytest

from lopt_pretrained.checkpoints import save_reference_checkpoint
from lopt_pretrained.velo_optax import VELO_CHECKPOINT, velo_optax

# Random but fixed meta-parameters of the released configuration: the
# published weights cannot be downloaded here.
THETA = la.velo().init_meta_params(jax.random.PRNGKey(42))

X = jax.random.normal(jax.random.PRNGKey(0), (64, 4))
Y = jnp.tanh(X @ jnp.asarray([1.0, -1.0, 0.5, 2.0]))


def loss_fn(params):
    hidden = jnp.tanh(X @ params["w1"] + params["b1"])
    return jnp.mean((hidden @ params["w2"] - Y) ** 2)


def train(tx, steps):
    params = {"w1": 0.5 * jax.random.normal(jax.random.PRNGKey(1), (4, 8)), "b1": jnp.zeros(8),
              "w2": 0.5 * jax.random.normal(jax.random.PRNGKey(2), (8,))}
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = tx.update(grads, state, params, loss=loss)
        return optax.apply_updates(params, updates), state, loss

    losses = []
    for _ in range(steps):
        params, state, loss = step(params, state)
        losses.append(float(loss))
    return params, state, losses


def test_trains_a_small_model_inside_an_optax_loop():
    params, state, losses = train(velo_optax(20, weights=THETA), 20)
    assert all(np.isfinite(losses))
    assert losses[-1] != losses[0]
    assert int(state.opt_state.step) == 20


def test_weights_from_a_reference_format_file(tmp_path):
    save_reference_checkpoint(tmp_path / "params", "velo", THETA)
    from_file, _, _ = train(velo_optax(5, weights=tmp_path / "params"), 5)
    from_tree, _, _ = train(velo_optax(5, weights=THETA), 5)
    jax.tree.map(np.testing.assert_array_equal, from_file, from_tree)


def test_long_runs_accumulate_gradients_and_weight_decay_wraps():
    tx = velo_optax(400, weights=THETA, weight_decay=1e-4, max_training_steps=100)
    _, state, losses = train(tx, 8)
    inner = state.opt_state  # weight decay wraps accumulation, which wraps VeLO
    assert isinstance(inner, la.AccumulationState)
    assert int(inner.inner.num_steps) == 100 and int(inner.inner.step) == 2
    assert losses[0] == losses[1] == losses[2] == losses[3]  # parameters move every 4th step


def test_missing_weights_name_the_file_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LOPT_VELO_WEIGHTS", str(tmp_path / "nowhere" / "params"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError) as error:
        velo_optax(100)
    message = str(error.value)
    assert VELO_CHECKPOINT in message and str(tmp_path / "nowhere" / "params") in message
    assert "storage.googleapis.com" in message and "weights=" in message
    with pytest.raises(FileNotFoundError, match="no VeLO weights file at"):
        velo_optax(100, weights=tmp_path / "absent")
