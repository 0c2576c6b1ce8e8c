"""Features of the training loss's history, for learned optimizers that read the loss.

Two accumulators of scalar losses:

- `loss_normalizer_*` (rnn_fc_lopt; Metz et al. 2020): an EMA of the loss and
  of its squared deviation, so a loss can be expressed in standard
  deviations from its recent mean, clip((L − μ̂)/√(σ̂² + 1e-8), −5, 5), with
  bias-corrected μ̂, σ̂².
- `loss_buffer_*` (VeLO, Metz et al. 2022b, §3.1): 10 EMAs of the loss with
  half-lives log-spaced from 10 steps to the length of training, and the
  running minimum of each; its 9 features compare each average with the next
  longer one relative to the best loss so far, which says whether training is
  still improving at each timescale. Losses above twice the largest average
  are clipped first, so one spike does not poison every average.

Both follow the reference implementation's arithmetic exactly (its
`_LossNormalizer` and `BufferLossAccumulators`), so trained meta-parameters
see the inputs they were trained on.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int


class LossNormalizerState(NamedTuple):
    mean: Float[Array, ""]
    var: Float[Array, ""]
    updates: Int[Array, ""]


def loss_normalizer_init() -> LossNormalizerState:
    return LossNormalizerState(jnp.asarray(0.0, jnp.float32), jnp.asarray(0.0, jnp.float32), jnp.asarray(0, jnp.int32))


def loss_normalizer_update(state: LossNormalizerState, loss: ArrayLike, decay: float) -> LossNormalizerState:
    """μ ← d·μ + (1 − d)·L, then σ² ← d·σ² + (1 − d)·(μ − L)² (with the new μ)."""
    mean = decay * state.mean + (1.0 - decay) * loss
    var = decay * state.var + (1.0 - decay) * jnp.square(mean - loss)
    return LossNormalizerState(mean, var, state.updates + 1)


def _bias_correction(state: LossNormalizerState, decay: float) -> Array:
    # 1/(1 − d^n + 1e-8). Written as max(·, 0) + 1e-8 (equal, as d^n ≤ 1) because XLA
    # folds (1 − x) + 1e-8 into (1 + 1e-8) − x = 1 − x in float32, which is 0 before
    # the first update and would turn the corrected mean 0·(1/0) into NaN under jit.
    return 1.0 / (jnp.maximum(1 - decay ** jnp.asarray(state.updates, jnp.float32), 0.0) + 1e-8)


def loss_normalizer_corrected_mean(state: LossNormalizerState, decay: float) -> Array:
    """The bias-corrected mean μ̂ = μ/(1 − d^updates)."""
    return state.mean * _bias_correction(state, decay)


def normalized_loss(state: LossNormalizerState, loss: ArrayLike, decay: float) -> Array:
    """clip((L − μ̂)/√(σ̂² + 1e-8), −5, 5)."""
    c = _bias_correction(state, decay)
    return jnp.clip((loss - state.mean * c) * jax.lax.rsqrt(state.var * c + 1e-8), -5, 5)


class LossBufferState(NamedTuple):
    means: Float[Array, " 10"]
    iteration: Int[Array, ""]
    running_min: Float[Array, " 10"]
    decays: Float[Array, " 10"]


def loss_buffer_init(num_steps: ArrayLike) -> LossBufferState:
    """Half-lives logspace(1, log10(num_steps), 10); decay = exp(−1/half-life)."""
    halflife = jnp.logspace(1, jnp.log10(num_steps), 10)
    decays = jnp.exp(-1.0 / halflife)
    return LossBufferState(
        means=jnp.zeros((10,), jnp.float32),
        iteration=jnp.asarray(0, jnp.int32),
        running_min=999999999999.0 * jnp.ones((10,), jnp.float32),
        decays=decays,
    )


def loss_buffer_update(state: LossBufferState, loss: ArrayLike) -> LossBufferState:
    """Folds in one loss (clipped above at 2·|largest bias-corrected average|)."""
    decays = state.decays
    corrected = state.means / (1 - decays ** (state.iteration + 1))
    approx_max = jnp.where(state.iteration == 0, loss, jnp.max(corrected))
    loss = jnp.minimum(jnp.abs(approx_max) * 2, loss)
    means = state.means * decays + loss * (1.0 - decays)
    corrected = means / (1 - decays ** (state.iteration + 1))
    return LossBufferState(means, state.iteration + 1, jnp.minimum(state.running_min, corrected), decays)


def loss_buffer_features(state: LossBufferState) -> Float[Array, " 9"]:
    """clip((μ̂_j − min_j)/max(1e-8, μ̂_{j+1} − min_j) − 1, −1, 1), j = 0..8; zeros for the first 2 losses."""
    corrected = state.means / (1 - state.decays**state.iteration)
    longer = corrected[1:]
    running_min = state.running_min[:-1]
    denominator = jnp.maximum(1e-8, longer - running_min)
    features = jnp.clip((corrected[:-1] - running_min) / denominator - 1.0, -1, 1)
    return jnp.where(state.iteration <= 2, features * 0, features)
