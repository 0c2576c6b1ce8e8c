import jax
import numpy as np

from lopt_tasks.augmentations._testing import RegressionFamily
from lopt_tasks.families.checks import all_finite, first_task, num_params, run_batch


def test_run_batch_equals_running_each_task_alone():
    family = RegressionFamily()
    cfgs, losses, grads = run_batch(family, jax.random.PRNGKey(0), 3)
    init_keys = jax.random.split(jax.random.split(jax.random.PRNGKey(0))[1], 3)
    for i in range(3):
        task = family.task(jax.tree_util.tree_map(lambda x: x[i], cfgs))
        batch = task.datasets["train"].batch(0, i)
        loss, grad = jax.value_and_grad(task.loss)(task.init(init_keys[i]), init_keys[i], batch)
        np.testing.assert_allclose(losses[i], loss, rtol=1e-6)
        np.testing.assert_allclose(grads["w"][i], grad["w"], rtol=1e-5, atol=1e-7)
    assert all_finite(grads) and not all_finite({"x": np.array([1.0, np.nan])})
    d = cfgs.structure
    assert num_params(family, jax.tree_util.tree_map(lambda x: x[0], cfgs)) == d * 2 + 2
    assert first_task(family, cfgs).d == d
