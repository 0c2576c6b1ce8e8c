import dataclasses

import jax.numpy as jnp
import numpy as np

from lopt_tasks import testing
from lopt_tasks.base import Task
from lopt_tasks.data import ArrayDataset


@dataclasses.dataclass(frozen=True)
class Regression(Task):
    """Least squares y ≈ x·w + b on fixed data: 3 + 1 parameters."""

    name: str = "regression"

    def init(self, key):
        return {"w": jnp.zeros(3), "b": jnp.zeros(())}

    def loss(self, params, key, batch):
        return jnp.mean((batch["x"] @ params["w"] + params["b"] - batch["y"]) ** 2)

    @property
    def datasets(self):
        x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
        return {"train": ArrayDataset({"x": x, "y": x @ np.array([1.0, -2.0, 0.5], np.float32) + 1}, batch_size=16)}

    @property
    def normalizer(self):
        return 1.0


def test_param_count():
    assert testing.param_count(Regression()) == 4


def test_adam_losses_first_step_is_the_initial_loss_and_training_helps():
    task = Regression()
    losses = testing.adam_losses(task, 200, learning_rate=0.05)
    first = task.loss(task.init(None), None, task.datasets["train"].batch(0, 0))
    np.testing.assert_allclose(losses[0], first, rtol=1e-6)
    assert losses.shape == (200,) and losses[-10:].mean() < 0.01 * losses[:10].mean()
