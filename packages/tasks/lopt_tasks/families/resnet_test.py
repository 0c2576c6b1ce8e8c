import math

import jax
import numpy as np

from lopt_tasks.families.checks import all_finite, num_params, run_batch
from lopt_tasks.families.resnet import ResNetFamily

FAMILY = ResNetFamily()


def test_a_vmapped_batch_starts_at_chance_and_updates_batch_norm_state():
    cfgs, losses, grads = run_batch(FAMILY, jax.random.PRNGKey(0), 4)
    # Zero-initialised logits: exactly uniform predictions.
    np.testing.assert_allclose(losses, math.log(10), rtol=1e-5)
    assert all_finite(grads)
    assert any(np.any(g != 0) for g in jax.tree_util.tree_leaves(grads))
    task = FAMILY.task(jax.tree_util.tree_map(lambda x: x[0], cfgs))
    params, state = jax.jit(task.init_with_state)(jax.random.PRNGKey(0))
    params = jax.tree_util.tree_map(lambda p: p + 0.01, params)  # logits off zero
    batch = task.datasets["train"].batch(0, 0)
    loss, new_state = jax.jit(task.loss_with_state)(params, state, jax.random.PRNGKey(0), batch)
    # Training-mode batch norm: the loss does not read the state, and it updates the moving averages.
    moved = jax.tree_util.tree_map(lambda s: s + 1.0, state)
    np.testing.assert_allclose(jax.jit(task.loss_with_state)(params, moved, jax.random.PRNGKey(0), batch)[0], loss, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(task.loss)(params, jax.random.PRNGKey(0), batch), loss, rtol=1e-6)
    assert jax.tree_util.tree_structure(new_state) == jax.tree_util.tree_structure(state)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(new_state)))


def test_sampling_is_deterministic_and_structures_vary():
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(40)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert {b for s in structures for b in s.blocks_per_group} == {1, 2}
    assert len({s.channels_per_group for s in structures}) > 10
    assert {s.initial_kernel for s in structures} == {3, 5, 7} and {s.max_pool for s in structures} == {True, False}
    sizes = {num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)}
    assert len(sizes) == 10
