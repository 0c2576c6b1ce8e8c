import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lopt_architectures.base import all_finite, keep_unless, num_meta_params, require_loss, require_num_steps
from lopt_architectures.hand_designed import adam
from lopt_architectures.optax_interop import as_optax
from lopt_architectures.registry import LEARNED, make_learned_optimizer


def test_require_num_steps():
    assert require_num_steps(7, "opt").dtype == jnp.int32
    with pytest.raises(ValueError, match="opt.init: num_steps is required"):
        require_num_steps(None, "opt")


def test_require_loss():
    assert require_loss(2, "opt").dtype == jnp.float32
    with pytest.raises(ValueError, match="opt.update: this optimizer reads the training loss"):
        require_loss(None, "opt")
    with pytest.raises(ValueError, match=r"loss must be a scalar, got shape \(2,\)"):
        require_loss(jnp.ones(2), "opt")


def test_num_meta_params():
    assert num_meta_params({"a": jnp.ones((3, 4)), "b": [jnp.ones(2), jnp.ones(())]}) == 15


def test_all_finite():
    tree = {"a": jnp.ones((2, 3)), "b": jnp.zeros(2, jnp.bfloat16)}
    assert bool(all_finite(tree)) and bool(all_finite(tree, 1.0)) and bool(all_finite({}))
    assert not bool(all_finite({**tree, "b": jnp.asarray([0.0, jnp.inf], jnp.bfloat16)}))
    assert not bool(all_finite(tree, jnp.nan)) and not bool(all_finite({}, -jnp.inf))
    np.testing.assert_array_equal(jax.vmap(all_finite)({"a": jnp.asarray([[1.0, 2.0], [1.0, jnp.nan]])}),
                                  [True, False])


class _State(NamedTuple):
    params: Any
    model_state: Any
    skipped_steps: jax.Array


def test_keep_unless():
    old = _State({"w": jnp.zeros(2)}, None, jnp.asarray(3))
    new = _State({"w": jnp.ones(2)}, {"mean": jnp.ones(2)}, None)
    kept = keep_unless(jnp.asarray(False), new, old)
    np.testing.assert_array_equal(kept.params["w"], [0.0, 0.0])
    assert int(kept.skipped_steps) == 4
    # A model state that did not exist before has nothing to fall back to.
    np.testing.assert_array_equal(kept.model_state["mean"], [1.0, 1.0])
    applied = keep_unless(jnp.asarray(True), new._replace(model_state=None), old)
    np.testing.assert_array_equal(applied.params["w"], [1.0, 1.0])
    assert int(applied.skipped_steps) == 3 and applied.skipped_steps.dtype == old.skipped_steps.dtype


# The NaN-containment contract (module docstring), for every learned optimizer. Small LSTMs keep compilation fast;
# the containment is the same wrapper whatever the configuration.
SMALL = {"celo": {"lstm_hidden_size": 8}, "celo_adam": {"lstm_hidden_size": 8}, "nn_adam": {"lstm_hidden_size": 8},
         "rnn_fc_lopt": {"lstm_hidden_size": 8}, "velo": {"lstm_hidden_size": 8, "bank_size": 4}}
RNG = np.random.default_rng(0)
PARAMS = {"b": jnp.asarray(RNG.standard_normal(5), jnp.float32),
          "w": jnp.asarray(RNG.standard_normal((4, 5)), jnp.float32)}
GRADS = [jax.tree.map(lambda x: jnp.asarray(RNG.standard_normal(x.shape), jnp.float32), PARAMS) for _ in range(2)]


@functools.cache
def learned(name):
    """The learned optimizer `name` with random meta-parameters (faster to make than its initial ones)."""
    lopt = make_learned_optimizer(name, **SMALL.get(name, {}))
    shapes = jax.eval_shape(lopt.init_meta_params, jax.random.PRNGKey(0))
    rng = np.random.default_rng(2)
    return lopt.optimizer(jax.tree.map(lambda x: 0.1 * rng.standard_normal(x.shape).astype(x.dtype), shapes))


def with_element(tree, value):
    """`tree` with one element of its matrix set to `value`."""
    return {**tree, "w": tree["w"].at[2, 3].set(value)}


def assert_same_but_counter(state, expected):
    chex.assert_trees_all_equal(state._replace(skipped_steps=0), expected._replace(skipped_steps=0))


LOSSES = [jnp.float32(1.0), jnp.float32(0.5)]  # one dtype throughout: one compilation per test
NON_FINITE = [  # (gradients, loss) of a step to skip
    (with_element(GRADS[1], jnp.nan), LOSSES[1]),
    (GRADS[1], jnp.float32(jnp.nan)),
    (with_element(GRADS[1], jnp.inf), LOSSES[1]),
    (GRADS[1], jnp.float32(-jnp.inf)),
]


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_a_non_finite_loss_or_gradient_is_skipped_and_counted(name):
    opt = learned(name)
    update = jax.jit(opt.update)
    state = opt.init(PARAMS, num_steps=10)
    assert int(state.skipped_steps) == 0
    state = update(state, GRADS[0], loss=LOSSES[0])  # accumulators, LSTM state and loss statistics are now nonzero
    skipped = state
    for count, (grads, loss) in enumerate(NON_FINITE, start=1):
        skipped = update(skipped, grads, loss=loss)
        assert int(skipped.skipped_steps) == count
        assert_same_but_counter(skipped, state)
    # The next finite step is the one that would have followed without the skipped ones.
    after, direct = update(skipped, GRADS[1], loss=LOSSES[1]), update(state, GRADS[1], loss=LOSSES[1])
    assert int(after.skipped_steps) == len(NON_FINITE) and int(after.step) == 2
    assert_same_but_counter(after, direct)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(opt.get_params(after)))
    assert not np.array_equal(after.params["w"], state.params["w"])


def test_containment_is_per_member_under_vmap():
    opt = learned("small_fc_lopt")
    stack = lambda *trees: jax.tree.map(lambda *xs: jnp.stack(xs), *trees)  # noqa: E731
    states = jax.vmap(lambda p: opt.init(p, num_steps=10))(stack(PARAMS, PARAMS))
    states = jax.jit(jax.vmap(lambda s, g: opt.update(s, g, loss=LOSSES[0])))(
        states, stack(with_element(GRADS[0], jnp.nan), GRADS[0]))
    np.testing.assert_array_equal(states.skipped_steps, [1, 0])
    alone = jax.jit(opt.update)(opt.init(PARAMS, num_steps=10), GRADS[0], loss=LOSSES[0])
    chex.assert_trees_all_equal(jax.tree.map(lambda x: x[0], states.params), PARAMS)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[1], states.params), alone.params, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["small_fc_lopt", "velo"])
def test_containment_through_as_optax_in_an_optax_chain(name):
    tx = optax.chain(optax.add_decayed_weights(0.0), as_optax(learned(name), num_steps=10))
    update = jax.jit(lambda g, s, p, loss: tx.update(g, s, p, loss=loss))
    state = tx.init(PARAMS)
    _, state = update(GRADS[0], state, PARAMS, LOSSES[0])
    inner = state[1].opt_state
    for grads, loss in NON_FINITE:
        updates, state = update(grads, state, PARAMS, loss)
        chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, PARAMS))
    assert int(state[1].opt_state.skipped_steps) == len(NON_FINITE)
    assert_same_but_counter(state[1].opt_state, inner)
    updates, state = update(GRADS[1], state, PARAMS, LOSSES[1])
    assert all(np.all(np.isfinite(u)) and np.any(u != 0) for u in jax.tree.leaves(updates))


@pytest.mark.parametrize("name", sorted(LEARNED))
def test_an_empty_parameter_tree_is_a_no_op_like_adam(name):
    for opt in (adam(1e-3), learned(name)):
        state = opt.update(opt.init({}, num_steps=10), {}, loss=1.0)
        assert opt.get_params(state) == {} and int(state.step) == 1
    state = opt.update(state, {}, loss=jnp.nan)  # the learned optimizer's contract holds here too
    assert int(state.step) == 1 and int(state.skipped_steps) == 1
    with pytest.raises(ValueError, match=r"update: the gradient tree does not match the parameters"):
        opt.update(state, {"w": jnp.ones(2)}, loss=1.0)


def test_hand_designed_optimizers_keep_optax_behaviour():
    """Adam does not skip: a NaN gradient element makes that one parameter NaN, the others step as usual."""
    opt = adam(0.1)
    state = opt.update(opt.init(PARAMS, num_steps=10), with_element(GRADS[0], jnp.nan), loss=1.0)
    nan = np.isnan(np.asarray(state.params["w"]))
    assert nan[2, 3] and nan.sum() == 1 and not hasattr(state, "skipped_steps")
