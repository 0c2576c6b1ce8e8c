"""Losses shared by tasks: mean softmax cross-entropy and the auto-encoders' sigmoid squared error."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def softmax_cross_entropy(logits: Float[Array, "*batch classes"], labels: Int[Array, "*batch"]) -> Float[Array, ""]:
    """Mean over all leading axes of −log softmax(logits)[label]."""
    log_probs = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[..., None], axis=-1))


def sigmoid_mean_squared_error(logits: Float[Array, "batch features"], targets: Float[Array, "batch features"]) -> Float[Array, ""]:
    """Mean over examples and features of (target − sigmoid(logit))².

    The auto-encoder loss of the tradeoffs paper (App. E.1, "mean squared
    error"): the reconstruction is sigmoid(logits), so it lies in [0, 1] like
    the images.
    """
    return jnp.mean(jnp.square(targets - jax.nn.sigmoid(logits)))
