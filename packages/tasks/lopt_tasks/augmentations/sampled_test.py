import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.augmentations._testing import RegressionFamily
from lopt_tasks.augmentations.sampled import DEFAULT_AUGMENTATIONS, randomly_augmented


def run_batch(family, cfgs, n):
    """init_with_state + value_and_grad of loss_with_state for n stacked configs, in one jit(vmap)."""
    task = family.task(jax.tree_util.tree_map(lambda x: x[0], cfgs))
    batch = jax.tree_util.tree_map(lambda x: jnp.stack([jnp.asarray(x)] * n), task.datasets["train"].batch(0, 0))

    @jax.jit
    @jax.vmap
    def run(cfg, key, batch):
        task = family.task(cfg)
        params, state = task.init_with_state(key)
        (loss, _), grads = jax.value_and_grad(task.loss_with_state, has_aux=True)(params, state, key, batch)
        return loss, grads

    return run(cfgs, jax.random.split(jax.random.PRNGKey(1), n), batch)


def test_all_default_augmentations_compose_on_one_task():
    family = randomly_augmented(RegressionFamily(), probability=1.0)
    cfgs = family.sample_batch(jax.random.PRNGKey(0), 3)
    assert [name for name, _ in cfgs.structure.augmentations] == [a.name for a in DEFAULT_AUGMENTATIONS]
    losses, grads = run_batch(family, cfgs, 3)
    assert losses.shape == (3,) and np.all(np.isfinite(np.float32(losses)))
    assert all(g.dtype == jnp.bfloat16 for g in jax.tree_util.tree_leaves(grads))
    norms = jnp.sqrt(sum(jnp.sum(jnp.square(g.astype(jnp.float32)), axis=tuple(range(1, g.ndim))) for g in jax.tree_util.tree_leaves(grads)))
    np.testing.assert_allclose(norms, 1.0, rtol=2e-2)  # gradient normalisation is last


def test_random_subsets_vary_and_each_runs():
    family = randomly_augmented(RegressionFamily(), probability=0.25)
    structures = [family.sample_structure(jax.random.PRNGKey(i)) for i in range(400)]
    counts = np.mean([len(s.augmentations) for s in structures])
    assert abs(counts - 2.0) < 0.25  # 8 augmentations × 0.25
    assert len({s.augmentations for s in structures}) > 100
    for key in range(2):
        cfgs = family.sample_batch(jax.random.PRNGKey(100 + key), 2)
        losses, _ = run_batch(family, cfgs, 2)
        assert np.all(np.isfinite(np.float32(losses)))
