import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lopt_architectures.lstm import LSTMState, init_lstm, linear, lstm_step, tile_state


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_lstm_step_matches_numpy_and_haiku():
    params = init_lstm(jax.random.PRNGKey(0), 5, 3)
    params = {"w": params["w"], "b": params["b"] + 0.1}
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 5))
    state = LSTMState(jax.random.normal(jax.random.PRNGKey(2), (4, 3)), jax.random.normal(jax.random.PRNGKey(3), (4, 3)))
    out, new = lstm_step(params, x, state)

    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    gates = np.concatenate([np.asarray(x), np.asarray(state.hidden)], -1) @ w + b
    i, g, f, o = np.split(gates, 4, -1)
    c = sigmoid(f + 1) * np.asarray(state.cell) + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new.cell, c, rtol=1e-5, atol=1e-6)

    # The same parameters, named as haiku names them, give haiku's LSTM.
    module = hk.without_apply_rng(hk.transform(lambda x, s: hk.LSTM(3, name="rnn")(x, s)))
    hk_out, hk_state = module.apply({"rnn/linear": params}, x, hk.LSTMState(state.hidden, state.cell))
    np.testing.assert_allclose(out, hk_out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(new.cell, hk_state.cell, rtol=1e-6, atol=1e-7)


def test_linear_and_tile():
    params = {"w": jnp.ones((2, 3)), "b": jnp.arange(3.0)}
    np.testing.assert_allclose(linear(params, jnp.ones((1, 2))), [[2.0, 3.0, 4.0]])
    state = tile_state({"hidden": jnp.ones((1, 4)), "cell": jnp.zeros((1, 4))}, 3)
    assert state.hidden.shape == (3, 4) and float(state.cell.sum()) == 0.0
