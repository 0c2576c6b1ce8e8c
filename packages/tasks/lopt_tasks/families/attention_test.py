import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks import random_pool
from lopt_tasks.families.attention import attention, transformer_block
from lopt_tasks.families.common import initializer


def apply(fn, x):
    model = hk.transform(fn)
    params = random_pool.pooled(model.init, jax.random.PRNGKey(0), x)
    return lambda inputs: random_pool.pooled(lambda k, i: model.apply(params, k, i), jax.random.PRNGKey(1), inputs)


@pytest.mark.parametrize("causal", [True, False])
def test_causal_blocks_do_not_look_ahead(causal):
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 6, 8))
    block = apply(lambda x: transformer_block(x, 2, 16, initializer("variance_normal", 1.0), causal=causal, name="b"), x)
    changed = x.at[:, 4:].set(jax.random.normal(jax.random.PRNGKey(5), (2, 2, 8)))
    before, after = block(x), block(changed)
    assert np.allclose(before[:, :4], after[:, :4]) == causal
    assert not np.allclose(before[:, 4:], after[:, 4:])


def test_one_head_attention_matches_a_numpy_computation():
    x = jax.random.normal(jax.random.PRNGKey(3), (1, 4, 6))
    model = hk.transform(lambda x: attention(x, 1, initializer("variance_normal", 1.0), causal=True))
    params = random_pool.pooled(model.init, jax.random.PRNGKey(0), x)
    got = model.apply(params, None, x)
    p = {name.split("_")[-1]: value for name, value in params.items()}
    q, k, v = (np.asarray(x[0]) @ np.asarray(p[n]["w"]) + np.asarray(p[n]["b"]) for n in ("query", "key", "value"))
    logits = q @ k.T / np.sqrt(6) + np.triu(np.full((4, 4), -np.inf), 1)
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    want = (weights @ v) @ np.asarray(p["out"]["w"]) + np.asarray(p["out"]["b"])
    np.testing.assert_allclose(got[0], want, rtol=1e-4, atol=1e-5)


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="not divisible by 4 heads"):
        hk.transform(lambda x: attention(x, 4, initializer("normal", 1.0), causal=False)).init(jax.random.PRNGKey(0), jnp.ones((1, 2, 6)))
