import jax.numpy as jnp
import numpy as np
import pytest

from lopt_es.meta_loss import MetaLoss


def test_clip_divide_and_reduce():
    losses = jnp.asarray([[3.0, 1.0], [2.0, 4.0], [1.0, 0.5]])  # [steps, members]
    normalizer = jnp.asarray(2.5)
    per_step = MetaLoss().per_step(losses, normalizer)
    np.testing.assert_allclose(per_step, [[2.5, 1.0], [2.0, 2.5], [1.0, 0.5]])
    np.testing.assert_allclose(MetaLoss().reduce(per_step), [5.5 / 3, 4.0 / 3])
    np.testing.assert_allclose(MetaLoss(kind="final").reduce(per_step), [1.0, 0.5])
    np.testing.assert_allclose(MetaLoss(clip_at_normalizer=False).per_step(losses, normalizer), losses)
    np.testing.assert_allclose(MetaLoss(divide_by_normalizer=True).per_step(losses, normalizer)[0], [1.0, 0.4])


def test_log_values():
    losses = jnp.asarray([[3.0, 0.02], [0.0, 0.01]])
    per_step = MetaLoss(log=True).per_step(losses, jnp.asarray(2.5))
    np.testing.assert_allclose(per_step, np.log([[2.5, 0.02], [1e-8, 0.01]]), rtol=1e-6)
    # Halving the loss late counts as much as halving it early.
    early, late = MetaLoss(log=True).per_step(jnp.asarray([2.0, 1.0, 0.01, 0.005]), jnp.asarray(10.0)).reshape(2, 2)
    np.testing.assert_allclose(early[0] - early[1], late[0] - late[1], rtol=1e-5)


def test_non_finite_losses_score_as_the_normalizer():
    losses = jnp.asarray([[np.nan, 1.0], [np.inf, -np.inf], [0.5, 4.0]])
    normalizer = jnp.asarray(2.0)
    dropped = MetaLoss().per_step(losses, normalizer)
    assert np.isnan(dropped[0, 0]) and np.isnan(MetaLoss().reduce(dropped)[0])
    scored = MetaLoss(non_finite="normalizer").per_step(losses, normalizer)
    np.testing.assert_allclose(scored, [[2.0, 1.0], [2.0, 2.0], [0.5, 2.0]])
    # Divided and logged like a loss equal to the normalizer: log(2/2) = 0.
    logged = MetaLoss(non_finite="normalizer", divide_by_normalizer=True, log=True).per_step(losses, normalizer)
    np.testing.assert_allclose(logged, np.log([[1.0, 0.5], [1.0, 1.0], [0.25, 1.0]]), atol=1e-7)


def test_bad_settings():
    with pytest.raises(ValueError, match="kind must be 'mean' or 'final'"):
        MetaLoss(kind="median")
    with pytest.raises(ValueError, match="split must be 'train' or 'valid'"):
        MetaLoss(split="test")
    with pytest.raises(ValueError, match="non_finite must be 'drop' or 'normalizer'"):
        MetaLoss(non_finite="zero")
    with pytest.raises(ValueError, match="needs clip_at_normalizer=True"):
        MetaLoss(non_finite="normalizer", clip_at_normalizer=False)


@pytest.mark.parametrize("divide", [False, True])
def test_a_log_loss_is_used_as_it_is(divide):
    # A task whose loss is c·log(q) must score like a task whose loss is q itself.
    q = jnp.asarray([[0.5, 0.02], [3e-3, 1e-4]])  # all below 1: the log losses are negative
    q0 = jnp.asarray(0.8)
    meta_loss = MetaLoss(log=True, divide_by_normalizer=divide)
    expected = meta_loss.per_step(q, q0)
    for c in (1.0, 0.01, 250.0):
        scored = meta_loss.per_step(c * jnp.log(q), c * jnp.log(q0), log_loss_scale=c)
        np.testing.assert_allclose(scored, expected, rtol=1e-5, atol=1e-5)
    # Without the scale, negative log losses all sit at the floor (no signal), or, divided by the negative
    # normalizer, rank backwards: a smaller q scores worse.
    wrong = np.asarray(meta_loss.per_step(jnp.log(q), jnp.log(q0))).ravel()
    assert np.all(np.diff(wrong[np.argsort(np.asarray(q).ravel())]) < 0) if divide else np.unique(wrong).size == 1
    # Clipped at the normalizer like any loss; non-log meta-losses ignore the scale.
    np.testing.assert_allclose(MetaLoss(log=True).per_step(jnp.asarray(0.0), jnp.asarray(-1.0), log_loss_scale=1.0),
                               -1.0)
    np.testing.assert_allclose(MetaLoss().per_step(jnp.log(q), jnp.log(q0), log_loss_scale=1.0),
                               jnp.minimum(jnp.log(q), jnp.log(q0)))


def test_last_fraction_weights_and_its_range():
    late = MetaLoss(last_fraction=0.25)
    weights = np.asarray(late.step_weight(jnp.arange(200), 200))
    np.testing.assert_array_equal(weights, (np.arange(200) >= 150).astype(np.float32))
    assert np.all(np.asarray(MetaLoss().step_weight(jnp.arange(7), 7)) == 1)
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="last_fraction must be in"):
            MetaLoss(last_fraction=bad)
