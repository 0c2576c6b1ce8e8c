import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lopt_architectures.hand_designed import adam, sgd
from lopt_architectures.optax_interop import as_optax, from_optax
from lopt_architectures.rnn_fc_lopt import rnn_fc_lopt
from lopt_architectures.small_fc_lopt import small_fc_lopt

X = jax.random.normal(jax.random.PRNGKey(0), (32, 3))
Y = X @ jnp.asarray([1.0, -2.0, 0.5]) + 0.3


def loss_fn(params):
    return jnp.mean((X @ params["w"] + params["b"] - Y) ** 2)


def optax_loop(tx, params, steps=20):
    """A plain optax training loop, as a user would write it."""
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
    return params, losses


PARAMS = {"w": jnp.zeros(3), "b": jnp.zeros(())}


def test_as_optax_of_adam_trains_like_optax_adam():
    ours, our_losses = optax_loop(as_optax(adam(0.1), num_steps=20), PARAMS)
    theirs, _ = optax_loop(optax.with_extra_args_support(optax.adam(0.1)), PARAMS)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), ours, theirs)
    assert our_losses[-1] < 0.1 * our_losses[0]


def test_as_optax_of_a_learned_optimizer_matches_its_own_loop():
    lopt = small_fc_lopt()
    theta = jax.tree.map(lambda x: x + 0.1, lopt.init_meta_params(jax.random.PRNGKey(0)))
    opt = lopt.optimizer(theta)
    through_optax, _ = optax_loop(as_optax(opt, num_steps=20), PARAMS, steps=5)
    state = opt.init(PARAMS, num_steps=20)
    for _ in range(5):
        loss, grads = jax.value_and_grad(loss_fn)(opt.get_params(state))
        state = opt.update(state, grads, loss=loss)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                 through_optax, opt.get_params(state))


def test_as_optax_state_does_not_hold_a_second_copy_of_the_parameters():
    state = as_optax(adam(0.1), num_steps=5).init(PARAMS)
    assert state.opt_state.params is None


def test_as_optax_composes_in_a_chain():
    tx = optax.chain(optax.clip_by_global_norm(1.0), as_optax(sgd(0.5), num_steps=10))
    params, losses = optax_loop(tx, PARAMS, steps=10)
    assert losses[-1] < losses[0]


def test_as_optax_requires_params():
    tx = as_optax(sgd(0.1), num_steps=5)
    with pytest.raises(ValueError, match="update needs params"):
        tx.update(PARAMS, tx.init(PARAMS))


def test_from_optax_errors_name_the_problem():
    opt = from_optax(optax.adam(0.1), "adam")
    with pytest.raises(ValueError, match="adam.init: num_steps is required"):
        opt.init(PARAMS)
    state = opt.init(PARAMS, num_steps=3)
    with pytest.raises(ValueError, match=r"gradient leaf \['w'\] has shape \(2,\); expected \(3,\)"):
        opt.update(state, {"w": jnp.zeros(2), "b": jnp.zeros(())})


def test_reference_style_extra_args():
    lopt = rnn_fc_lopt()  # reads the loss, so it must arrive either way
    opt = lopt.optimizer(lopt.init_meta_params(jax.random.PRNGKey(0)))
    tx = as_optax(opt, num_steps=5)
    grads = {"w": jnp.ones(3), "b": jnp.ones(())}
    a, _ = tx.update(grads, tx.init(PARAMS), PARAMS, loss=1.0)
    b, _ = tx.update(grads, tx.init(PARAMS), PARAMS, extra_args={"loss": 1.0})
    jax.tree.map(np.testing.assert_array_equal, a, b)
    with pytest.raises(ValueError, match="reads the training loss"):
        tx.update(grads, tx.init(PARAMS), PARAMS)
