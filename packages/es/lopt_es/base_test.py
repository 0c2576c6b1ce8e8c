import jax
import jax.numpy as jnp
import numpy as np

from lopt_es.base import Metrics, combine_task_gradients, es_gradient, perturbations, pool_metrics, slot_keys


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


def test_metrics_read_as_the_record_of_metrics_jsonl():
    metrics = Metrics(meta_loss=0.5, inner_loss=1.5, non_finite_tasks=1, scored_tasks=3, restarted_runs=2,
                      inner_steps=40, group_meta_losses=(0.25, 0.75))
    assert {**metrics} == {"meta_loss": 0.5, "inner_loss": 1.5, "non_finite_tasks": 1, "scored_tasks": 3,
                           "restarted_runs": 2, "inner_steps": 40, "group0/meta_loss": 0.25, "group1/meta_loss": 0.75}
    assert list(metrics)[:2] == ["meta_loss", "inner_loss"] and metrics["inner_steps"] == 40


def test_pool_weights_the_meta_loss_by_scored_tasks_and_adds_counts():
    parts = [Metrics(1.0, 2.0, 0, 1, 1, 10), Metrics(4.0, 6.0, 2, 3, 0, 30), Metrics(float("nan"), 1.0, 4, 0, 4, 5)]
    pooled = pool_metrics(parts)
    assert pooled == Metrics(meta_loss=(1 * 1.0 + 3 * 4.0) / 4, inner_loss=3.0, non_finite_tasks=6, scored_tasks=4,
                             restarted_runs=5, inner_steps=45)
    assert np.isnan(pool_metrics(parts[2:]).meta_loss)


def test_es_gradient_weights_each_direction_by_its_loss_difference():
    directions = {"w": np.asarray([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], np.float32)}
    pos, neg = jnp.asarray([3.0, 1.0, np.nan]), jnp.asarray([1.0, 2.0, 0.0])
    std = 0.5
    grad, finite, used, meta = es_gradient(directions, jnp.concatenate([pos, neg]), std, normalize=False)
    expected = ((3.0 - 1.0) * np.asarray([1.0, 2.0]) + (1.0 - 2.0) * np.asarray([3.0, -1.0])) / (2 * std**2) / 2
    np.testing.assert_allclose(grad["w"], expected, rtol=1e-6)
    assert list(np.asarray(finite)) == [True, True, False] and int(used) == 2
    np.testing.assert_allclose(np.asarray(meta)[:2], [2.0, 1.5])
    grad, finite, used, meta = es_gradient(directions, pos, std, normalize=False, antithetic=False)
    np.testing.assert_allclose(grad["w"], (3.0 * np.asarray([1.0, 2.0]) + np.asarray([3.0, -1.0])) / std**2 / 2,
                               rtol=1e-6)
    assert int(used) == 2 and np.asarray(meta)[0] == 3.0
