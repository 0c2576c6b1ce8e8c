import jax
import jax.numpy as jnp
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_es import unroll
from lopt_es.meta_loss import MetaLoss
from lopt_es.testing import LearnedLR, QuadraticTask, quadratic_losses


def test_members_follow_their_own_meta_parameters_and_keep_state_across_calls():
    lopt, family = LearnedLR(), lt.SingleTaskFamily(QuadraticTask())
    log_lrs = np.log([0.1, 0.3, 0.5])
    thetas = {"log_lr": jnp.asarray(log_lrs, jnp.float32)}
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    states = unroll.init_members(lopt, family, "quadratic", thetas, {}, keys, jnp.full((3,), 8, jnp.int32))
    batches = {"unused": np.zeros((4, 3, 1, 1), np.float32)}
    losses = []
    for first in (0, 4):  # two calls of 4 steps continue one run
        states, step_losses, objectives = unroll.unroll(lopt, family, "quadratic", MetaLoss(), thetas, states, {},
                                                        keys, jnp.full((3,), first, jnp.int32), batches)
        losses.append(np.asarray(step_losses))
    want = quadratic_losses(np.repeat(log_lrs[:, None], 8, 1))
    np.testing.assert_allclose(np.concatenate(losses).T, want, rtol=1e-5)
    assert int(states.step[0]) == 8


def test_shared_meta_parameters_and_member_limit():
    lopt, family = LearnedLR(), lt.SingleTaskFamily(QuadraticTask())
    theta = {"log_lr": jnp.asarray(np.log(0.2), jnp.float32)}
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    states = unroll.init_members(lopt, family, "quadratic", theta, {}, keys, jnp.full((2,), 3, jnp.int32),
                                 theta_batched=False)
    states, losses, _ = unroll.unroll(lopt, family, "quadratic", MetaLoss(), theta, states, {}, keys,
                                      jnp.zeros(2, jnp.int32), {"unused": np.zeros((3, 2, 1, 1), np.float32)},
                                      theta_batched=False)
    np.testing.assert_allclose(np.asarray(losses)[:, 0], np.asarray(losses)[:, 1])
    too_many = jnp.zeros((unroll.MAX_MEMBERS + 1, 2), jnp.uint32)
    with pytest.raises(ValueError, match="at most 32768 are computed correctly"):
        unroll.unroll_members(lopt, family, "quadratic", MetaLoss(), theta, None, {}, too_many, None, None,
                              theta_batched=False)


class LogQuadraticTask(QuadraticTask):
    """log of the quadratic's loss (negative once it is below 1), declared as a log loss."""

    def loss(self, params, key, batch):
        return jnp.log(super().loss(params, key, batch))

    @property
    def normalizer(self):
        return float(np.log(super().normalizer))

    @property
    def log_loss_scale(self):
        return 1.0


def test_a_log_loss_task_gives_a_log_meta_loss_its_values():
    # A log meta-loss on a declared log loss uses the loss itself (clipped), not the floored log of a negative number.
    lopt, task = LearnedLR(), LogQuadraticTask()
    family = lt.SingleTaskFamily(task)
    theta = {"log_lr": jnp.asarray(np.log(0.5), jnp.float32)}
    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    states = unroll.init_members(lopt, family, "quadratic", theta, {}, keys, jnp.full((1,), 12, jnp.int32),
                                 theta_batched=False)
    _, losses, per_step = unroll.unroll(lopt, family, "quadratic", MetaLoss(log=True), theta, states, {}, keys,
                                        jnp.zeros(1, jnp.int32), {"unused": np.zeros((12, 1, 1, 1), np.float32)},
                                        theta_batched=False)
    losses, per_step = np.asarray(losses), np.asarray(per_step)
    assert losses.min() < -2.0 and losses.max() > task.normalizer  # negative, and (oscillating) above the clip
    np.testing.assert_allclose(per_step, np.minimum(losses, task.normalizer), rtol=1e-6)
    assert np.unique(per_step).size > 6


def test_last_fraction_counts_only_the_end_of_each_run():
    # Two members with runs of 10 and 20 steps, unrolled over steps 4..15 of their runs: with
    # last_fraction=0.5 a step counts from step 5 of the first run and from step 10 of the second.
    lopt, family = LearnedLR(), lt.SingleTaskFamily(QuadraticTask())
    theta = {"log_lr": jnp.asarray(np.log(0.1), jnp.float32)}
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    lengths = jnp.asarray([10, 20], jnp.int32)
    batches = {"unused": np.zeros((12, 2, 1, 1), np.float32)}
    outputs = {}
    for fraction in (1.0, 0.5):
        states = unroll.init_members(lopt, family, "quadratic", theta, {}, keys, lengths, theta_batched=False)
        _, _, outputs[fraction] = unroll.unroll(lopt, family, "quadratic", MetaLoss(last_fraction=fraction), theta,
                                                states, {}, keys, jnp.full((2,), 4, jnp.int32), batches,
                                                theta_batched=False)
    every, late = np.asarray(outputs[1.0]), np.asarray(outputs[0.5])
    steps = 4 + np.arange(12)
    counted = np.stack([steps >= 5, steps >= 10], axis=1)
    assert np.all(every > 0)
    np.testing.assert_array_equal(late, np.where(counted, every, 0.0))
