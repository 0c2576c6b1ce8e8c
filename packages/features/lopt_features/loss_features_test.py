import jax
import jax.numpy as jnp
import numpy as np

from lopt_features.loss_features import (
    loss_buffer_features,
    loss_buffer_init,
    loss_buffer_update,
    loss_normalizer_corrected_mean,
    loss_normalizer_init,
    loss_normalizer_update,
    normalized_loss,
)

LOSSES = [2.3, 2.0, 2.6, 1.7, 1.5, 9.0, 1.2, 1.1]


def test_loss_normalizer_matches_numpy():
    decay = 0.9
    state = loss_normalizer_init()
    mean = var = 0.0
    for n, loss in enumerate(LOSSES, start=1):
        state = jax.jit(loss_normalizer_update, static_argnums=2)(state, loss, decay)
        mean = decay * mean + (1 - decay) * loss
        var = decay * var + (1 - decay) * (mean - loss) ** 2
        c = 1 / (1 - decay**n + 1e-8)
        want = np.clip((loss - mean * c) / np.sqrt(var * c + 1e-8), -5, 5)
        np.testing.assert_allclose(normalized_loss(state, loss, decay), want, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(loss_normalizer_corrected_mean(state, decay), mean * c, rtol=1e-5)
    assert int(state.updates) == len(LOSSES)


def test_a_constant_loss_normalises_to_zero():
    state = loss_normalizer_init()
    for _ in range(5):
        state = loss_normalizer_update(state, 3.0, 0.9)
    assert abs(float(normalized_loss(state, 3.0, 0.9))) < 1e-3
    assert float(normalized_loss(state, 300.0, 0.9)) == 5.0


def numpy_buffer(losses, num_steps):
    """The buffer in float32 numpy: its features divide small differences of averages,
    so a float64 reference would disagree with any float32 implementation."""
    f32 = np.float32
    decays = np.exp(f32(-1) / np.logspace(1, np.log10(num_steps), 10).astype(f32))
    means, running_min = np.zeros(10, f32), np.full(10, 999999999999.0, f32)
    features = []
    for k, loss in enumerate(losses):
        loss = f32(loss)
        corrected = means / (f32(1) - decays ** f32(k + 1))
        approx_max = loss if k == 0 else corrected.max()
        loss = min(abs(approx_max) * f32(2), loss)
        means = means * decays + loss * (f32(1) - decays)
        corrected = means / (f32(1) - decays ** f32(k + 1))
        running_min = np.minimum(running_min, corrected)
        den = np.maximum(f32(1e-8), corrected[1:] - running_min[:-1])
        f = np.clip((corrected[:-1] - running_min[:-1]) / den - f32(1), -1, 1)
        features.append((f * 0 if k + 1 <= 2 else f, den))
    return decays, features


def test_loss_buffer_matches_numpy():
    decays, want = numpy_buffer(LOSSES, 1000)
    state = loss_buffer_init(1000)
    np.testing.assert_allclose(state.decays, decays, rtol=1e-5)
    update = jax.jit(loss_buffer_update)
    checked = 0
    for k, loss in enumerate(LOSSES):
        state = update(state, jnp.asarray(loss, jnp.float32))
        features, den = want[k]
        # A feature divides differences of nearly equal float32 averages; where the
        # denominator is at rounding level (the loss just hit a new minimum) its value is
        # rounding noise in any float32 implementation, the reference's included.
        well_posed = den > 1e-3
        checked += well_posed.sum()
        np.testing.assert_allclose(np.asarray(loss_buffer_features(state))[well_posed], features[well_posed],
                                   rtol=1e-3, atol=1e-3)
    assert checked >= 25


def test_loss_buffer_spike_is_clipped_and_first_features_are_zero():
    state = loss_buffer_init(100)
    for loss in (1.0, 1.0):
        state = loss_buffer_update(state, loss)
    assert np.all(np.asarray(loss_buffer_features(state)) == 0)
    spiked = loss_buffer_update(state, 1e6)
    # The spike enters as at most 2·(largest average) ≈ 2.
    assert float(jnp.max(spiked.means / (1 - spiked.decays**3))) < 2.0


def test_corrected_mean_before_any_update_is_zero_under_jit():
    # Regression: XLA folds (1 − d^0) + 1e-8 to 0, making 0·(1/0) = NaN.
    state = loss_normalizer_init()
    assert float(jax.jit(lambda s: loss_normalizer_corrected_mean(s, 0.95))(state)) == 0.0
    assert float(jax.jit(lambda s: normalized_loss(s, 1.0, 0.9))(state)) == 5.0
