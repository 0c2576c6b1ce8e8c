import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.autoencoder import AutoencoderFamily, AutoencoderStructure
from lopt_tasks.families.checks import all_finite, num_params, run_batch
from lopt_tasks.families.common import ACTIVATIONS
from lopt_tasks.image_task import ImageData

FAMILY = AutoencoderFamily()


def test_a_vmapped_batch_runs_and_sampling_varies():
    cfgs, losses, grads = run_batch(FAMILY, jax.random.PRNGKey(0), 4)
    assert losses.shape == (4,) and np.all(np.isfinite(losses)) and all_finite(grads)
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(60)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert {(s.center_data, s.constrain_output, s.log_loss) for s in structures} == set(itertools.product([False, True], repeat=3))
    assert {len(s.hidden_sizes) for s in structures} == {0, 1, 2}
    assert len({num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)}) > 5


def numpy_loss(structure, params, images):
    """The reconstruction loss re-derived in numpy from the haiku parameter tree."""
    x = images.reshape(len(images), -1).astype(np.float64)
    target = 2 * (x - 0.5) if structure.center_data else x
    h = target
    layers = sorted(params, key=lambda name: int(name.rsplit("_", 1)[1]))
    for i, name in enumerate(layers):
        h = h @ np.asarray(params[name]["w"], np.float64) + np.asarray(params[name]["b"], np.float64)
        if i < len(layers) - 1:
            h = np.asarray(ACTIVATIONS[structure.activation](jnp.asarray(h)), np.float64)
    if structure.constrain_output:
        h = np.tanh(h) if structure.center_data else 1 / (1 + np.exp(-h))
    per_example = np.mean((h - target) ** 2, axis=1)
    return np.mean(np.log(per_example + 1e-8) if structure.log_loss else per_example)


@pytest.mark.parametrize("center, constrain, log", [(False, False, False), (True, True, False), (False, True, True), (True, False, True)])
def test_the_loss_matches_a_numpy_derivation_and_zero_weights_give_the_normalizer(center, constrain, log):
    structure = AutoencoderStructure(ImageData("digits", 16), (12,), "tanh", "variance_normal", center, constrain, log)
    task = FAMILY.task(TaskConfig(structure, {"init_scale": jnp.float32(1.3)}))
    params = jax.jit(task.init)(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(0, 0)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_loss(structure, params, batch["image"]), rtol=2e-5)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    np.testing.assert_allclose(task.loss(zeros, None, batch), task.normalizer, rtol=1e-5)
    # A log loss declares itself, so that a log meta-loss uses it as it is: exp(loss) is the MSE's geometric mean.
    if log:
        assert task.log_loss_scale == 1.0
        raw = FAMILY.task(TaskConfig(dataclasses.replace(structure, log_loss=False), {"init_scale": jnp.float32(1.3)}))
        assert np.exp(task.loss(params, None, batch)) <= raw.loss(params, None, batch) + 1e-6
    else:
        assert task.log_loss_scale is None
