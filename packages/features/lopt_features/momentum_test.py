import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _numpy_reference as ref
from lopt_features import _testing
from lopt_features.momentum import MomentumState, momentum

DECAYS = (0.1, 0.9, 0.999)


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_matches_numpy_over_several_steps(dtype):
    rng = np.random.default_rng(1)
    params = _testing.random_tree(rng, dtype)
    steps = [_testing.random_tree(rng, dtype) for _ in range(4)]
    acc = momentum(DECAYS)
    state = acc.init(params)
    update = jax.jit(acc.update)
    for g in steps:
        state = update(state, g)
    for name in params:
        expected = ref.momentum([np.asarray(s[name], np.float64) for s in steps], DECAYS, dtype)
        got = state.m[name]
        assert got.shape == params[name].shape + (3,)
        assert got.dtype == dtype
        _testing.assert_close(got, expected, dtype)


def test_decays_may_be_traced_meta_parameters():
    params = {"w": jnp.zeros((2, 2))}
    grads = {"w": jnp.full((2, 2), 3.0)}

    def first_momentum(decays):
        acc = momentum(decays)
        return acc.update(acc.init(params), grads).m["w"]

    out = jax.jit(first_momentum)(jnp.asarray([0.0, 0.5]))
    np.testing.assert_allclose(out[0, 0], [3.0, 1.5])
    # Unlike the second moment, momentum decays are not clipped.
    np.testing.assert_allclose(first_momentum(jnp.asarray([2.0]))[0, 0], [-3.0])


def test_storage_dtype_can_differ_from_parameters():
    acc = momentum([0.9], dtype=jnp.float32)
    state = acc.update(acc.init({"w": jnp.ones(3, jnp.bfloat16)}), {"w": jnp.ones(3, jnp.bfloat16)})
    assert state.m["w"].dtype == jnp.float32


def test_vmaps_over_a_batch_of_tasks():
    acc = momentum(DECAYS)
    batch = {"w": jnp.arange(12.0).reshape(4, 3)}
    states = jax.vmap(acc.init)(batch)
    states = jax.vmap(acc.update)(states, batch)
    for i in range(4):
        single = acc.update(acc.init({"w": batch["w"][i]}), {"w": batch["w"][i]})
        np.testing.assert_allclose(states.m["w"][i], single.m["w"])


def test_gradient_with_other_structure_names_the_leaves():
    acc = momentum(DECAYS)
    state = acc.init({"w": jnp.ones((2, 3)), "b": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"missing leaves \['b'\]"):
        acc.update(state, {"w": jnp.ones((2, 3))})
    with pytest.raises(ValueError, match=r"unexpected leaves \['c'\]"):
        acc.update(state, {"w": jnp.ones((2, 3)), "b": jnp.ones(3), "c": jnp.ones(1)})


def test_gradient_with_other_shape_names_the_leaf_and_shape():
    acc = momentum(DECAYS)
    state = acc.init({"w": jnp.ones((2, 3)), "b": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"gradient leaf \['w'\] has shape \(3, 2\); expected \(2, 3\)"):
        acc.update(state, {"w": jnp.ones((3, 2)), "b": jnp.ones(3)})


def test_non_float_inputs_are_rejected():
    acc = momentum(DECAYS)
    with pytest.raises(TypeError, match=r"parameter leaf \['steps'\] has dtype int32"):
        acc.init({"steps": jnp.ones(3, jnp.int32)})
    state = acc.init({"w": jnp.ones(3)})
    with pytest.raises(TypeError, match=r"gradient leaf \['w'\] has dtype int32"):
        acc.update(state, {"w": jnp.ones(3, jnp.int32)})


def test_state_from_other_decays_is_rejected():
    state = momentum([0.9, 0.99]).init({"w": jnp.ones(3)})
    with pytest.raises(ValueError, match=r"has 3 decays"):
        momentum(DECAYS).update(state, {"w": jnp.ones(3)})


def test_decays_must_be_a_vector():
    with pytest.raises(ValueError, match="decays must be a non-empty vector"):
        momentum(jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="decays must be a non-empty vector"):
        momentum([])


def test_state_is_a_pytree_of_the_parameters_structure():
    state = momentum(DECAYS).init({"a": {"b": jnp.ones(2)}})
    assert isinstance(state, MomentumState)
    assert jax.tree_util.tree_structure(state.m) == jax.tree_util.tree_structure({"a": {"b": 0}})
