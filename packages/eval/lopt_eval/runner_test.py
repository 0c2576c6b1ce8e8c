import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_eval.runner import train


def sgd_by_hand(task, lr, steps, seed):
    params = task.init(jax.random.PRNGKey(seed))
    source = task.datasets["train"]
    losses = []
    for t in range(steps):
        loss, grads = jax.value_and_grad(task.loss)(params, jax.random.fold_in(jax.random.PRNGKey(seed), t),
                                                    source.batch(t, seed))
        losses.append(float(loss))
        params = jax.tree.map(lambda p, g: p - lr * g, params, grads)
    return np.asarray(losses)


@pytest.mark.parametrize("scan_unroll", [1, 3])
def test_matches_a_plain_training_loop_for_every_configuration_and_seed(scan_unroll):
    task = lt.get_task("digits_mlp", batch_size=16)
    lrs = jnp.asarray([0.05, 0.3])
    curves = train(task, lambda h: la.sgd(h), 7, [0, 3], hyperparameters=lrs, steps_per_call=3, scan_unroll=scan_unroll)
    assert curves.train_loss.shape == (2, 2, 7) and curves.meta_loss.shape == (2, 2)
    for k, lr in enumerate([0.05, 0.3]):
        for s, seed in enumerate([0, 3]):
            np.testing.assert_allclose(curves.train_loss[k, s], sgd_by_hand(task, lr, 7, seed), rtol=2e-5, atol=1e-6)
    clipped = np.minimum(curves.train_loss, task.normalizer)
    np.testing.assert_allclose(curves.meta_loss, clipped.mean(-1), rtol=1e-6)
    assert curves.step_seconds > 0


def test_validation_losses_and_a_learned_optimizer():
    task = lt.get_task("digits_mlp", batch_size=16)
    lopt = la.small_fc_lopt()
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    reports = []
    curves = train(task, lambda h: lopt.optimizer(theta), 10, [0], valid_every=4, steps_per_call=3,
                   progress=lambda done, total: reports.append((done, total)))
    assert curves.valid_steps == [0, 4, 8] and curves.valid_loss.shape == (1, 1, 3)
    # One report per compiled chunk: chunks of 3 steps, cut at every validation step.
    assert reports == [(3, 10), (4, 10), (7, 10), (8, 10), (10, 10)]
    assert abs(curves.valid_loss[0, 0, 0] - np.log(10)) < 0.3


def test_bad_arguments():
    with pytest.raises(ValueError, match="need num_steps"):
        train(lt.get_task("digits_mlp"), lambda h: la.sgd(0.1), 0, [0])
    with pytest.raises(ValueError, match="scan_unroll must be ≥ 1, got 0"):
        train(lt.get_task("digits_mlp"), lambda h: la.sgd(0.1), 3, [0], scan_unroll=0)
