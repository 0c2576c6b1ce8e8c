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
