"""Augmentations on real sampled families: every default augmentation composed, in one jit(vmap)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.augmentations import DEFAULT_AUGMENTATIONS, randomly_augmented
from lopt_tasks.families import FAMILIES
from lopt_tasks.families.checks import all_finite, run_batch


#: Narrow ranges keep the compile short; the point is the composition, checked on a stateless and a stateful model.
SMALL = {"mlp": {}, "resnet": {"max_blocks_per_group": (1, 2), "widths": (8, 9), "initial_channels": (4, 5)}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_all_augmentations_at_once_on_a_sampled_family(name):
    family = randomly_augmented(FAMILIES[name](**SMALL[name]), probability=1.0)
    cfgs, losses, grads = run_batch(family, jax.random.PRNGKey(0), 2)
    assert [a for a, _ in cfgs.structure.augmentations] == [a.name for a in DEFAULT_AUGMENTATIONS]
    assert np.all(np.isfinite(np.asarray(losses, np.float32))) and all_finite(grads)
    assert all(g.dtype == jnp.bfloat16 for g in jax.tree_util.tree_leaves(grads))
