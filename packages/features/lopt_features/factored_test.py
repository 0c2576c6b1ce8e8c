import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_features import _numpy_reference as ref
from lopt_features import _testing
from lopt_features.factored import (
    factored_dims,
    factored_normalized_gradient,
    factored_preconditioner,
    factored_second_moment,
    factored_tiled,
)

DECAYS = (0.0, 0.9, 0.999)


def test_factored_dims():
    assert factored_dims(()) is None
    assert factored_dims((5,)) is None
    assert factored_dims((3, 5)) == (0, 1)
    assert factored_dims((5, 3)) == (1, 0)
    assert factored_dims((4, 4)) == (0, 1)
    assert factored_dims((2, 3, 4)) == (1, 2)
    assert factored_dims((3, 3, 64, 32)) == (3, 2)
    for shape in _testing.SHAPES.values():
        assert factored_dims(shape) == ref.factored_dims(shape)


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_accumulators_match_numpy(dtype):
    rng = np.random.default_rng(3)
    params = _testing.random_tree(rng, dtype)
    steps = [_testing.random_tree(rng, dtype) for _ in range(3)]
    acc = factored_second_moment(DECAYS)
    state = acc.init(params)
    for g in steps:
        state = jax.jit(acc.update)(state, g)
    for name, p in params.items():
        dims, row, col, diag = ref.factored([np.asarray(s[name], np.float64) for s in steps], DECAYS, dtype)
        if dims is None:
            assert state.v_row[name].shape == state.v_col[name].shape == (0, 3)
            _testing.assert_close(state.v_diag[name], diag, dtype)
        else:
            assert state.v_diag[name].shape == (0, 3)
            _testing.assert_close(state.v_row[name], row, dtype)
            _testing.assert_close(state.v_col[name], col, dtype)
        for leaf in (state.v_row[name], state.v_col[name], state.v_diag[name]):
            assert leaf.dtype == dtype


@pytest.mark.parametrize("dtype", _testing.DTYPES.values(), ids=_testing.DTYPES.keys())
def test_preconditioner_and_tiles_match_numpy(dtype):
    rng = np.random.default_rng(4)
    params = _testing.random_tree(rng, dtype)
    steps = [_testing.random_tree(rng, dtype) for _ in range(2)]
    acc = factored_second_moment(DECAYS)
    state = acc.init(params)
    for g in steps:
        state = acc.update(state, g)
    precond = factored_preconditioner(state, params)
    normalized = factored_normalized_gradient(state, steps[-1])
    rows, cols = factored_tiled(state, params)
    for name, p in params.items():
        shape = p.shape
        dims = ref.factored_dims(shape)
        # Use the (already tested) stored accumulators as the numpy inputs.
        row, col, diag = (np.asarray(t[name], np.float64) for t in state)
        expected = ref.preconditioner(shape, dims, row, col, diag)
        expected_row, expected_col = ref.tiled(shape, dims, row, col, diag)
        _testing.assert_close(precond[name], expected, dtype)
        _testing.assert_close(normalized[name], np.asarray(steps[-1][name], np.float64)[..., None] * expected, dtype)
        _testing.assert_close(rows[name], expected_row, dtype)
        _testing.assert_close(cols[name], expected_col, dtype)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (2, 6, 3), (3, 3, 4, 8)])
def test_rank_one_second_moment_is_recovered_exactly(shape):
    # If g² is an outer product over the two factored dimensions, AdaFactor's
    # estimate v_row ⊗ v_col / mean(v_row) is exact, so g ⊙ P = sign(g).
    rng = np.random.default_rng(5)
    d1, d0 = ref.factored_dims(shape)
    a_shape = [1] * len(shape)
    b_shape = [1] * len(shape)
    for i, n in enumerate(shape):
        if i == d0:
            b_shape[i] = n
        elif i == d1:
            a_shape[i] = n
        else:  # other dimensions are independent copies of the same structure
            a_shape[i] = n
    a = rng.uniform(0.5, 2.0, a_shape)
    b = rng.uniform(0.5, 2.0, b_shape)
    g = np.sign(rng.standard_normal(shape)) * a * b
    acc = factored_second_moment([0.0])  # decay 0: the state is this step's statistics
    state = acc.update(acc.init({"w": jnp.zeros(shape)}), {"w": jnp.asarray(g, jnp.float32)})
    out = factored_normalized_gradient(state, {"w": jnp.asarray(g, jnp.float32)})["w"][..., 0]
    np.testing.assert_allclose(out, np.sign(g), rtol=1e-5)


def test_vector_is_normalised_by_its_own_second_moment():
    g = jnp.asarray([3.0, -4.0, 0.0])
    acc = factored_second_moment([0.0])
    state = acc.update(acc.init({"b": g}), {"b": g})
    out = factored_normalized_gradient(state, {"b": g})["b"][..., 0]
    np.testing.assert_allclose(out, [1.0, -1.0, 0.0], rtol=1e-6)


def test_traced_decays_and_vmap():
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}

    def step(decays, g):
        acc = factored_second_moment(decays)
        return acc.update(acc.init(params), g)

    grads = {"w": jnp.arange(12.0).reshape(2, 2, 3), "b": jnp.arange(6.0).reshape(2, 3)}
    batched = jax.jit(jax.vmap(step, in_axes=(None, 0)))(jnp.asarray([0.5, 0.9]), grads)
    for i in range(2):
        single = step(jnp.asarray([0.5, 0.9]), jax.tree.map(lambda x: x[i], grads))
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[i], b), batched, single)


def test_errors_name_the_leaf():
    acc = factored_second_moment(DECAYS)
    state = acc.init({"w": jnp.ones((3, 5)), "b": jnp.ones(5)})
    with pytest.raises(ValueError, match=r"gradient leaf \['w'\] has shape \(3, 6\)"):
        acc.update(state, {"w": jnp.ones((3, 6)), "b": jnp.ones(5)})
    with pytest.raises(ValueError, match=r"missing leaves \['b'\]"):
        acc.update(state, {"w": jnp.ones((3, 5))})
    with pytest.raises(TypeError, match=r"gradient leaf \['b'\] has dtype int32"):
        acc.update(state, {"w": jnp.ones((3, 5)), "b": jnp.ones(5, jnp.int32)})
    with pytest.raises(ValueError, match=r"parameter leaf \['b'\] has shape \(4,\)"):
        factored_tiled(state, {"w": jnp.ones((3, 5)), "b": jnp.ones(4)})
    with pytest.raises(ValueError, match="has 2 decays"):
        factored_second_moment([0.9, 0.99]).update(state, {"w": jnp.ones((3, 5)), "b": jnp.ones(5)})
