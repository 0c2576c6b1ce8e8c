import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.augmentations._testing import CountingRegression, TanhRegression, batch_of
from lopt_tasks.training import loss_and_grad


def numpy_loss_and_grad(params, batch, scale):
    """TanhRegression's loss scale·mean((tanh(x w) + b − y)²) and its gradient, by the chain rule in float64."""
    x, y = (np.asarray(batch[k], np.float64) for k in ("x", "y"))
    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    hidden = np.tanh(x @ w)
    residual = hidden + b - y
    d_out = 2.0 * scale * residual / residual.size
    return scale * np.mean(residual**2), {"w": x.T @ (d_out * (1.0 - hidden**2)), "b": d_out.sum(axis=0)}


def test_loss_and_gradient_match_the_chain_rule():
    task = TanhRegression(scale=1.7)
    params, batch = task.init(jax.random.PRNGKey(3)), batch_of(task, index=2, seed=1)
    loss, model_state, grads = loss_and_grad(task, params, None, jax.random.PRNGKey(0), batch)
    want_loss, want_grads = numpy_loss_and_grad(params, batch, 1.7)
    assert model_state is None
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    for name in ("w", "b"):
        np.testing.assert_allclose(grads[name], want_grads[name], rtol=1e-4, atol=1e-6)


def test_the_model_state_is_threaded_through_and_not_differentiated():
    task = CountingRegression()
    params, state = task.init_with_state(jax.random.PRNGKey(0))
    batch = batch_of(task)
    loss, state, grads = jax.jit(lambda p, s: loss_and_grad(task, p, s, jax.random.PRNGKey(0), batch))(params, state)
    assert int(state["calls"]) == 1
    want_loss, want_grads = numpy_loss_and_grad(params, batch, 1.0)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(grads["b"], want_grads["b"], rtol=1e-4, atol=1e-6)
    assert set(grads) == {"w", "b"} and jnp.result_type(grads["w"]) == jnp.float32
