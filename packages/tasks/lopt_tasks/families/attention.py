"""Pre-layer-norm transformer blocks shared by the transformer language model and the ViT families.

A block is x + Dropout(Attention(LN(x))) followed by x + Dropout(MLP(LN(x))),
with GELU in the MLP (reference: tasks/transformer.py and the
vision_transformer package the reference's ViT uses). Dropout rates may be
traced (they are sampled config values for the ViT); random numbers come
from `random_pool`.
"""

from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp

from lopt_tasks.families.common import dropout


def layer_norm(x: jax.Array, name: str) -> jax.Array:
    return hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, name=name)(x)


def attention(
    x: jax.Array,
    num_heads: int,
    w_init,
    *,
    causal: bool,
    attention_dropout: Any = 0.0,
    name: str = "attention",
) -> jax.Array:
    """Multi-head self-attention over axis 1 of x [B, T, D]; key size D // num_heads."""
    batch, length, width = x.shape
    if width % num_heads:
        raise ValueError(f"attention {name!r}: width {width} is not divisible by {num_heads} heads.")
    key_size = width // num_heads

    def project(label):
        y = hk.Linear(width, w_init=w_init, name=f"{name}_{label}")(x)
        return y.reshape(batch, length, num_heads, key_size)

    q, k, v = project("query"), project("key"), project("value")
    logits = jnp.einsum("bthd,bshd->bhts", q, k) / jnp.sqrt(jnp.asarray(key_size, x.dtype))
    if causal:
        logits = jnp.where(jnp.tril(jnp.ones((length, length), bool)), logits, jnp.finfo(logits.dtype).min)
    weights = jax.nn.softmax(logits)
    if not isinstance(attention_dropout, (int, float)) or attention_dropout > 0:
        weights = dropout(attention_dropout, weights)
    out = jnp.einsum("bhts,bshd->bthd", weights, v).reshape(batch, length, width)
    return hk.Linear(width, w_init=w_init, name=f"{name}_out")(out)


def transformer_block(
    x: jax.Array,
    num_heads: int,
    mlp_width: int,
    w_init,
    *,
    causal: bool,
    rate: Any = 0.0,
    attention_rate: Any = 0.0,
    name: str,
) -> jax.Array:
    """One pre-LN block; `rate` is the residual-branch dropout, `attention_rate` that of the attention weights."""
    use_dropout = not isinstance(rate, (int, float)) or rate > 0
    h = attention(layer_norm(x, f"{name}_ln1"), num_heads, w_init, causal=causal, attention_dropout=attention_rate, name=f"{name}_attn")
    x = x + (dropout(rate, h) if use_dropout else h)
    h = layer_norm(x, f"{name}_ln2")
    h = hk.Linear(mlp_width, w_init=w_init, name=f"{name}_mlp_in")(h)
    h = hk.Linear(x.shape[-1], w_init=w_init, name=f"{name}_mlp_out")(jax.nn.gelu(h))
    return x + (dropout(rate, h) if use_dropout else h)
