"""Celo2 against independent computations (parity with the authors' code is in lopt_pretrained)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lopt_architectures.base import num_meta_params
from lopt_architectures.celo2 import celo2, leaf_path, newton_schulz


def numpy_newton_schulz(x, coefficients=(3.4445, -4.7750, 2.0315), iterations=5, epsilon=1e-8):
    x = np.asarray(x, np.float64)
    wide = x.shape[0] <= x.shape[1]
    x = x if wide else x.T
    x = x / (np.linalg.norm(x) + epsilon)
    a, b, c = coefficients
    for _ in range(iterations):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x if wide else x.T


@pytest.mark.parametrize("shape", [(4, 7), (7, 4), (5, 5), (2, 3, 6)])
def test_newton_schulz_matches_numpy_per_matrix_and_flattens_the_spectrum(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    got = np.asarray(newton_schulz(jnp.asarray(x)))
    mats = x.reshape((-1,) + shape[-2:])
    want = np.stack([numpy_newton_schulz(m) for m in mats]).reshape(shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # The quintic iteration leaves singular values in roughly [0.7, 1.2] and keeps the singular vectors.
    s = np.linalg.svd(got.reshape(mats.shape), compute_uv=False)
    assert s.min() > 0.5 and s.max() < 1.3
    u_in = np.linalg.svd(mats[0])[0][:, 0]
    u_out = np.linalg.svd(got.reshape(mats.shape)[0])[0]
    assert np.max(np.abs(u_out.T @ u_in)) > 0.95


def test_newton_schulz_needs_a_matrix():
    with pytest.raises(ValueError, match="needs a matrix"):
        newton_schulz(jnp.ones(3))


def test_released_configuration():
    theta = celo2().init_meta_params(jax.random.PRNGKey(0))
    assert num_meta_params(theta) == 347
    assert theta["update_rule"]["w1"].shape == (8, 8)


def test_routing_by_name_and_the_adam_rule():
    """Leaves whose path matches go to Adam (no bias correction, ε inside the root, 20× the rate)."""
    params = {"mlp": {"linear_0": {"w": jnp.ones((3, 4)), "b": jnp.ones(4)}}, "scale": jnp.ones(())}
    lopt = celo2(learning_rate=0.01)
    assert [leaf_path(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]] == [
        "mlp/linear_0/b", "mlp/linear_0/w", "scale"]
    assert lopt.uses_adam(params) == [True, False, False]
    assert celo2(adam_pattern=None).uses_adam(params) == [False, False, False]
    theta = lopt.init_meta_params(jax.random.PRNGKey(1))
    opt = lopt.optimizer(theta)
    rng = np.random.default_rng(2)
    grads = [jax.tree.map(lambda x: jnp.asarray(rng.standard_normal(x.shape), jnp.float32), params) for _ in range(2)]
    state = opt.init(params)
    b, m, v = np.ones(4), np.zeros(4), np.zeros(4)
    for g in grads:
        state = opt.update(state, g)
        gb = np.asarray(g["mlp"]["linear_0"]["b"], np.float64)
        m, v = 0.9 * m + 0.1 * gb, 0.95 * v + 0.05 * gb**2
        b = b - 20 * 0.01 * m / np.sqrt(v + 1e-8)
    np.testing.assert_allclose(opt.get_params(state)["mlp"]["linear_0"]["b"], b, rtol=1e-5)


def test_learned_update_is_rms_normalised_and_orthogonal_for_matrices():
    """After Newton–Schulz and output normalisation a matrix step has RMS η and near-equal singular values."""
    lopt = celo2(learning_rate=0.1, adam_pattern=None)
    theta = lopt.init_meta_params(jax.random.PRNGKey(3))
    rng = np.random.default_rng(3)
    params = {"w": jnp.asarray(rng.standard_normal((6, 10)), jnp.float32), "k": jnp.ones((2, 3, 4)),
              "s": jnp.ones(())}
    opt = lopt.optimizer(theta)
    g = jax.tree.map(lambda x: jnp.asarray(rng.standard_normal(x.shape), jnp.float32), params)
    state = opt.update(opt.init(params), g)
    step = jax.tree.map(lambda a, b: np.asarray(a - b) / 0.1, params, opt.get_params(state))
    np.testing.assert_allclose(np.sqrt(np.mean(step["w"] ** 2)), 1.0, rtol=1e-4)
    for matrix in step["k"]:  # normalised per matrix of the last two axes
        np.testing.assert_allclose(np.sqrt(np.mean(matrix**2)), 1.0, rtol=1e-4)
    s = np.linalg.svd(step["w"], compute_uv=False)
    assert s.max() / s.min() < 2.0
    np.testing.assert_allclose(abs(step["s"]), 1.0, rtol=1e-4)  # a scalar's normalised step is ±η


def test_schedule_and_decoupled_weight_decay():
    """The rate at step t is schedule(t); weight decay subtracts λ·η·φ on top of the learned step."""
    schedule = optax.linear_schedule(0.1, 0.0, 4)
    rng = np.random.default_rng(4)
    params = {"w": jnp.asarray(rng.standard_normal((3, 5)), jnp.float32)}
    grads = [{"w": jnp.asarray(rng.standard_normal((3, 5)), jnp.float32)} for _ in range(3)]
    theta = celo2().init_meta_params(jax.random.PRNGKey(4))

    def opt(**config):
        return celo2(adam_pattern=None, **config).optimizer(theta)

    scheduled = opt(learning_rate=schedule)
    state = scheduled.init(params)
    for t, g in enumerate(grads):
        # The state holds no rate: a constant-rate Celo2 at schedule(t) takes the same step from it.
        constant = opt(learning_rate=float(schedule(t)))
        want = constant.update(state, g)
        state = scheduled.update(state, g)
        np.testing.assert_allclose(state.params["w"], want.params["w"], rtol=1e-6, err_msg=f"step {t}")
    plain, decayed = opt(learning_rate=0.1), opt(learning_rate=0.1, weight_decay=0.5)
    start = plain.init(params)
    diff = decayed.update(start, grads[0]).params["w"] - plain.update(start, grads[0]).params["w"]
    np.testing.assert_allclose(diff, -0.5 * 0.1 * params["w"], rtol=1e-4, atol=1e-6)


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="3 momentum"):
        celo2(momentum_decays=(0.9,))
    with pytest.raises(ValueError, match="not a regular expression"):
        celo2(adam_pattern="(")
    with pytest.raises(ValueError, match="hidden_size must be >= 1"):
        celo2(hidden_size=0)
