import math

import jax.numpy as jnp
import numpy as np

from lopt_tasks import losses


def test_softmax_cross_entropy_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 7)).astype(np.float32)
    labels = rng.integers(0, 7, size=(3, 4))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    want = -np.mean(np.log(np.take_along_axis(probs, labels[..., None], -1)))
    np.testing.assert_allclose(losses.softmax_cross_entropy(jnp.asarray(logits), jnp.asarray(labels)), want, rtol=1e-5)
    assert math.isclose(float(losses.softmax_cross_entropy(jnp.zeros((2, 10)), jnp.array([3, 4]))), math.log(10), rel_tol=1e-6)


def test_sigmoid_mean_squared_error_matches_numpy():
    rng = np.random.default_rng(1)
    logits, targets = rng.normal(size=(5, 6)), rng.uniform(size=(5, 6))
    want = np.mean((targets - 1 / (1 + np.exp(-logits))) ** 2)
    np.testing.assert_allclose(losses.sigmoid_mean_squared_error(jnp.asarray(logits), jnp.asarray(targets)), want, rtol=1e-5)
