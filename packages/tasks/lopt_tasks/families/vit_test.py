import math

import jax
import numpy as np

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.checks import all_finite, num_params, run_batch
from lopt_tasks.families.vit import ViTFamily

FAMILY = ViTFamily()


def test_a_vmapped_batch_starts_at_chance():
    cfgs, losses, grads = run_batch(FAMILY, jax.random.PRNGKey(0), 4)
    np.testing.assert_allclose(losses, math.log(10), rtol=1e-5)  # zero-initialised head
    assert all_finite(grads)
    assert cfgs.values["dropout"].shape == (4,)


def test_sampling_is_deterministic_and_structures_vary():
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(40)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert {s.num_layers for s in structures} == {1, 2} and {s.num_heads for s in structures} == {1, 2, 3, 4}
    assert {s.patch_size for s in structures} == {2, 4, 8}  # patches fit the 8×8 digits
    assert all(s.width % s.num_heads == 0 for s in structures)
    sizes = {num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)}
    assert len(sizes) == 10


def test_dropout_rates_are_values_zero_with_probability_three_tenths():
    values = FAMILY.sample_batch(jax.random.PRNGKey(1), 4000).values
    rates = np.asarray(values["dropout"])
    assert abs(np.mean(rates == 0) - 0.3) < 0.03 and rates.max() < 0.8
    np.testing.assert_array_equal(rates == 0, np.asarray(values["attention_dropout"]) == 0)


def test_dropout_makes_the_loss_depend_on_the_key():
    cfg = FAMILY.sample(jax.random.PRNGKey(2))
    task = FAMILY.task(TaskConfig(cfg.structure, dict(cfg.values, dropout=np.float32(0.5))))
    params = jax.jit(task.init)(jax.random.PRNGKey(0))
    leaves, treedef = jax.tree_util.tree_flatten(params)
    noise = [0.3 * jax.random.normal(jax.random.PRNGKey(i), p.shape) for i, p in enumerate(leaves)]
    params = jax.tree_util.tree_unflatten(treedef, [p + n for p, n in zip(leaves, noise)])  # head off zero
    batch = task.datasets["train"].batch(0, 0)
    loss = jax.jit(task.loss)
    a, b = loss(params, jax.random.PRNGKey(0), batch), loss(params, jax.random.PRNGKey(1), batch)
    assert a != b and loss(params, jax.random.PRNGKey(0), batch) == a
