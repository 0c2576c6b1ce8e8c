import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_architectures.hand_designed import sgd
from lopt_architectures.optax_interop import as_optax
from lopt_architectures.small_fc_lopt import small_fc_lopt
from lopt_architectures.wrappers import gradient_accumulation, weight_decay


def test_gradient_accumulation_applies_the_mean_gradient_every_k_steps():
    opt = gradient_accumulation(sgd(0.5), 3)
    state = opt.init({"w": jnp.zeros(2)}, num_steps=9)
    assert int(state.inner.num_steps) == 3
    grads = [jnp.asarray([1.0, 0.0]), jnp.asarray([2.0, 3.0]), jnp.asarray([3.0, 0.0]), jnp.asarray([5.0, 5.0])]
    seen = []
    for g in grads:
        state = jax.jit(opt.update)(state, {"w": g}, loss=1.0)
        seen.append(np.asarray(opt.get_params(state)["w"]))
    np.testing.assert_allclose(seen[0], [0.0, 0.0])
    np.testing.assert_allclose(seen[1], [0.0, 0.0])
    np.testing.assert_allclose(seen[2], [-0.5 * 2.0, -0.5 * 1.0])  # mean of the three, one SGD step
    np.testing.assert_allclose(seen[3], seen[2])  # accumulating again
    assert state.inner.params is None  # the parameters are held once


def test_gradient_accumulation_feeds_the_mean_loss():
    lopt = small_fc_lopt()
    opt = gradient_accumulation(lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0))), 2)
    state = opt.init({"w": jnp.ones(3)}, num_steps=10)
    state = opt.update(state, {"w": jnp.ones(3)}, loss=2.0)
    assert float(state.loss_sum) == 2.0
    state = opt.update(state, {"w": jnp.ones(3)}, loss=4.0)
    assert float(state.loss_sum) == 0.0 and int(state.inner.step) == 1


def test_gradient_accumulation_rejects_zero():
    with pytest.raises(ValueError, match="num_average must be at least 1"):
        gradient_accumulation(sgd(0.1), 0)


def test_weight_decay_adds_decay_times_params_to_the_gradient():
    opt = weight_decay(sgd(1.0), 0.1)
    state = opt.init({"w": jnp.asarray([2.0, -4.0])}, num_steps=3)
    state = opt.update(state, {"w": jnp.asarray([1.0, 1.0])}, loss=0.0)
    np.testing.assert_allclose(opt.get_params(state)["w"], [2.0 - (1.0 + 0.2), -4.0 - (1.0 - 0.4)])


def test_wrapped_optimizers_run_through_optax():
    tx = as_optax(gradient_accumulation(weight_decay(sgd(0.5), 0.01), 2), num_steps=4)
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    for _ in range(2):
        updates, state = tx.update({"w": jnp.ones(2)}, state, params, loss=1.0)
        params = jax.tree.map(lambda p, u: p + u, params, updates)
    np.testing.assert_allclose(params["w"], 1.0 - 0.5 * 1.01, rtol=1e-6)
