import math

import jax
import numpy as np
import pytest

from lopt_tasks.families.checks import all_finite, first_task, num_params, run_batch
from lopt_tasks.families.mlp import ImageMLPFamily

FAMILY = ImageMLPFamily()


def test_a_vmapped_batch_of_sampled_tasks_starts_near_chance():
    cfgs, losses, grads = run_batch(FAMILY, jax.random.PRNGKey(0), 4)
    assert losses.shape == (4,) and all_finite(grads)
    assert np.all((0.5 * math.log(10) < losses) & (losses < 2 * math.log(10)))
    assert cfgs.structure.image_data.dataset == "digits"
    # Task 0 alone (no vmap) gives the same loss: its init and batch do not depend on the others.
    task = first_task(FAMILY, cfgs)
    init_key = jax.random.split(jax.random.split(jax.random.PRNGKey(0))[1], 4)[0]
    params = jax.jit(task.init)(init_key)
    np.testing.assert_allclose(task.loss(params, init_key, task.datasets["train"].batch(0, 0)), losses[0], rtol=1e-5)


def test_sampling_is_deterministic_and_structures_vary():
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(40)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert len({s.hidden_sizes for s in structures}) > 5
    assert {len(s.hidden_sizes) for s in structures} == {0, 1, 2}
    assert len({s.activation for s in structures}) > 5 and len({s.initializer for s in structures}) == 4
    widths = [w for s in structures for w in s.hidden_sizes]
    assert min(widths) >= 8 and max(widths) < 32
    sizes = [num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)]
    assert min(sizes) >= 64 * 10 + 10  # at least the linear classifier


def test_init_scale_is_a_value_that_scales_the_first_layer():
    cfg = FAMILY.sample(jax.random.PRNGKey(1))
    task = FAMILY.task(cfg)
    small = FAMILY.task(type(cfg)(cfg.structure, {"init_scale": cfg.values["init_scale"] * 0 + 0.5}))
    large = FAMILY.task(type(cfg)(cfg.structure, {"init_scale": cfg.values["init_scale"] * 0 + 2.0}))
    w_small = jax.tree_util.tree_leaves(small.init(jax.random.PRNGKey(0)))
    w_large = jax.tree_util.tree_leaves(large.init(jax.random.PRNGKey(0)))
    ratios = [float(np.std(b) / np.std(a)) for a, b in zip(w_small, w_large) if np.std(a) > 0]
    # scale multiplies the weights (orthogonal, uniform_scaled: ratio 4) or their variance (ratio 2).
    expected = 4.0 if cfg.structure.initializer in ("orthogonal", "uniform_scaled") else 2.0
    np.testing.assert_allclose(ratios, expected, rtol=1e-4)
    assert task.normalizer == pytest.approx(math.log(10))


def test_reference_ranges_and_bad_datasets():
    reference = ImageMLPFamily.reference()
    s = reference.sample_structure(jax.random.PRNGKey(0))
    assert s.image_data.dataset in ("mnist", "fashion_mnist", "cifar10", "imagenet16") and s.image_data.image_size is not None
    with pytest.raises(ValueError, match="must be a non-empty subset"):
        ImageMLPFamily(datasets=("svhn",)).sample_structure(jax.random.PRNGKey(0))
