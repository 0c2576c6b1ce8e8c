import math

import jax
import numpy as np

from lopt_tasks.families.checks import all_finite, num_params, run_batch
from lopt_tasks.families.conv import ImageConvFamily

FAMILY = ImageConvFamily()


def test_a_vmapped_batch_of_sampled_tasks_starts_near_chance():
    cfgs, losses, grads = run_batch(FAMILY, jax.random.PRNGKey(1), 4)
    assert losses.shape == (4,) and all_finite(grads)
    assert np.all((0.5 * math.log(10) < losses) & (losses < 2 * math.log(10)))
    assert len(cfgs.structure.channels) > 0  # this key draws a real conv net


def test_sampling_is_deterministic_and_structures_vary():
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(40)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert {len(s.channels) for s in structures} == {0, 1, 2}
    assert len({s.channels for s in structures}) > 5
    assert {s.strides.count(2) for s in structures} == {0, 1, 2}
    for s in structures:
        assert len(s.strides) == len(s.channels) and s.strides == tuple(sorted(s.strides, reverse=True))
    sizes = {num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)}
    assert len(sizes) > 3 and min(sizes) >= 10 + 1  # a linear layer on the pooled single channel, at least
