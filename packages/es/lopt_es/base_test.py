import jax
import jax.numpy as jnp
import numpy as np

from lopt_es.base import combine_task_gradients, perturbations, slot_keys


def test_combine_skips_invalid_tasks_and_can_normalise_each():
    per_task = {"w": jnp.asarray([[3.0, 4.0], [1.0, 0.0], [np.nan, 1.0]])}
    valid = jnp.asarray([True, True, False])
    grad, count = combine_task_gradients(per_task, valid, normalize=False)
    np.testing.assert_allclose(grad["w"], [2.0, 2.0])
    assert float(count) == 2
    grad, _ = combine_task_gradients(per_task, valid, normalize=True)
    np.testing.assert_allclose(grad["w"], [(0.6 + 1.0) / 2, 0.8 / 2], rtol=1e-6)
    grad, count = combine_task_gradients(per_task, jnp.zeros(3, bool), normalize=True)
    assert float(count) == 0 and np.all(np.asarray(grad["w"]) == 0)


def test_normalisation_uses_the_norm_over_all_leaves():
    per_task = {"a": jnp.asarray([[3.0]]), "b": jnp.asarray([[0.0, 4.0]])}
    grad, _ = combine_task_gradients(per_task, jnp.asarray([True]), normalize=True)
    np.testing.assert_allclose(grad["a"], [0.6], rtol=1e-6)
    np.testing.assert_allclose(grad["b"], [0.0, 0.8], rtol=1e-6)


def test_perturbations_depend_only_on_the_global_slot():
    theta = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(())}
    key = jax.random.PRNGKey(0)
    all_slots = perturbations(key, theta, 6, 0.1)
    second_half = perturbations(key, theta, 3, 0.1, first_slot=3)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a[3:], b), all_slots, second_half)
    assert all_slots["w"].shape == (6, 2, 3) and all_slots["b"].shape == (6,)
    np.testing.assert_allclose(np.std(np.asarray(perturbations(key, {"x": jnp.zeros(10000)}, 1, 0.1)["x"])), 0.1,
                               rtol=0.05)
    assert not np.array_equal(slot_keys(key, 2), slot_keys(key, 2, first_slot=1))
