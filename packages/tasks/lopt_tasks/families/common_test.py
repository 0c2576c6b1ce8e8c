import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks import random_pool
from lopt_tasks.base import TaskConfig
from lopt_tasks.families.common import (
    ACTIVATION_CHOICES,
    ACTIVATIONS,
    InitScaleFamily,
    SampledImageTask,
    dropout,
    initializer,
)
from lopt_tasks.image_task import ImageData


def init(name, scale, shape):
    """One parameter of `shape` from initialiser `name`, as a model's init draws it."""
    model = hk.transform(lambda: hk.get_parameter("w", shape, init=initializer(name, scale)))
    return random_pool.pooled(model.init, jax.random.PRNGKey(0))["~"]["w"]


@pytest.mark.parametrize("shape", [(30, 20), (20, 30), (3, 3, 4, 8)])
def test_orthogonal_is_orthogonal_times_scale(shape):
    w = np.asarray(init("orthogonal", 1.5, shape)).reshape(-1, shape[-1])
    small = min(w.shape)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 1.5**2 * np.eye(small), atol=1e-5)


@pytest.mark.parametrize("name, variance", [("variance_normal", 2.0 / 400), ("variance_uniform", 2.0 / 400), ("uniform_scaled", 4.0 / 400), ("normal", 4.0)])
def test_variances_follow_the_documented_rule(name, variance):
    w = np.asarray(init(name, 2.0, (400, 300)))
    assert w.var() == pytest.approx(variance, rel=0.02) and abs(w.mean()) < 0.01 * np.sqrt(variance)


def test_activation_weights_and_leaky_relu():
    assert ACTIVATION_CHOICES.count("relu") == 2 and len(ACTIVATION_CHOICES) == 12
    assert set(ACTIVATION_CHOICES) == set(ACTIVATIONS)
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu_-0.5"](jnp.array([-2.0, 3.0])), [1.0, 3.0])


def test_dropout():
    x = jnp.ones((200_000,))
    dropped = random_pool.pooled(lambda key: dropout(jnp.float32(0.25), x), jax.random.PRNGKey(0))
    assert abs(float(jnp.mean(dropped == 0)) - 0.25) < 0.005 and abs(float(dropped.mean()) - 1.0) < 0.01


@dataclasses.dataclass(frozen=True)
class _Task(SampledImageTask):
    pass


@dataclasses.dataclass(frozen=True)
class _Family(InitScaleFamily):
    task_type = _Task
    data_dir: str | None = "/data"
    name = "test_family"

    def sample_structure(self, key):
        return dataclasses.make_dataclass("S", [("image_data", ImageData)], frozen=True)(ImageData("digits", 3))


def test_init_scale_families_sample_a_uniform_scale_and_build_their_task_type():
    family = _Family()
    scales = np.asarray(family.sample_batch(jax.random.PRNGKey(0), 20_000).values["init_scale"])
    assert scales.min() >= 0.5 and scales.max() < 2.0
    assert abs(scales.mean() - 1.25) < 0.01 and abs(scales.var() - 1.5**2 / 12) < 0.005  # U(0.5, 2)
    structure = family.sample_structure(None)
    task = family.task(TaskConfig(structure, {"init_scale": jnp.float32(0.7)}))
    assert task == _Task(structure, jnp.float32(0.7), "/data") and task.image_data == ImageData("digits", 3)
