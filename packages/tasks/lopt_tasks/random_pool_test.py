import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks import random_pool


def draws(key):
    """Three differently-shaped requests, as a model's initialisers make them."""
    return random_pool.standard_normal((2, 3)), random_pool.uniform((4,), -1.0, 1.0), random_pool.bernoulli((5,), 0.25)


def test_requests_are_consecutive_slices_of_one_draw():
    a, u, b = random_pool.pooled(draws, jax.random.PRNGKey(0))
    pool = jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(0), random_pool.POOL_SALT), (15,))
    np.testing.assert_array_equal(a, pool[:6].reshape(2, 3))
    np.testing.assert_allclose(u, -1 + 2 * jax.scipy.stats.norm.cdf(pool[6:10]), rtol=1e-6)
    np.testing.assert_array_equal(b, pool[10:] < jax.scipy.stats.norm.ppf(0.25))


def test_pooled_results_are_the_same_vmapped_jitted_or_not():
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    batched = jax.jit(jax.vmap(lambda k: random_pool.pooled(draws, k)))(keys)
    for i, key in enumerate(keys):
        for got, want in zip(jax.tree_util.tree_map(lambda x: x[i], batched), random_pool.pooled(draws, key)):
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_distributions():
    def many(key):
        return random_pool.standard_normal((100_000,)), random_pool.uniform((100_000,), 2.0, 4.0), random_pool.bernoulli((100_000,), 0.3)

    z, u, b = random_pool.pooled(many, jax.random.PRNGKey(2))
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01
    assert 2.0 <= float(u.min()) and float(u.max()) <= 4.0 and abs(float(u.mean()) - 3.0) < 0.01
    assert abs(float(u.var()) - 4 / 12) < 0.01 and abs(float(b.mean()) - 0.3) < 0.01


def test_outside_a_pool_haiku_keys_are_used_and_a_missing_key_is_named():
    out = hk.transform(lambda: random_pool.standard_normal((3,))).apply({}, jax.random.PRNGKey(0))
    assert out.shape == (3,)
    assert random_pool.pooled(lambda key: jnp.ones(2), None).shape == (2,)  # no randomness, no key needed
    with pytest.raises(ValueError, match="draws: needs 15 random numbers, but the key is None"):
        random_pool.pooled(draws, None)
