"""Small tasks for the augmentations' tests (no datasets to load, milliseconds to run)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.base import Task, TaskFamily
from lopt_tasks.data import ArrayDataset


def regression_data(n: int = 64, d: int = 3, m: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return {"x": x, "y": np.tanh(x @ rng.normal(size=(d, m))).astype(np.float32)}


@dataclasses.dataclass(frozen=True)
class TanhRegression(Task):
    """loss = scale · mean((tanh(x w) + b − y)²), params {"w": [d, m], "b": [m]}; non-quadratic on purpose."""

    d: int = 3
    m: int = 2
    batch_size: int = 8
    scale: float | jax.Array = 1.0

    @property
    def name(self):
        return "tanh_regression"

    def init(self, key):
        return {"w": jax.random.normal(key, (self.d, self.m)), "b": jnp.full((self.m,), 0.1)}

    def loss(self, params, key, batch):
        prediction = jnp.tanh(batch["x"] @ params["w"]) + params["b"]
        return self.scale * jnp.mean(jnp.square(prediction - batch["y"]))

    @property
    def datasets(self):
        return {"train": ArrayDataset(regression_data(d=self.d, m=self.m), self.batch_size, name="regression/train")}

    @property
    def normalizer(self):
        return 1.0


@dataclasses.dataclass(frozen=True)
class CountingRegression(TanhRegression):
    """`TanhRegression` with a model state that counts loss calls (to check state is threaded through)."""

    @property
    def name(self):
        return "counting_regression"

    def init_with_state(self, key):
        return self.init(key), {"calls": jnp.zeros((), jnp.int32)}

    def loss_with_state(self, params, model_state, key, batch):
        return self.loss(params, key, batch), {"calls": model_state["calls"] + 1}


@dataclasses.dataclass(frozen=True)
class RegressionFamily(TaskFamily):
    """Structure: the input dimension d in {2, 3, 4}; values: a log loss scale."""

    @property
    def name(self):
        return "regression_family"

    def sample_structure(self, key):
        return int(jax.random.randint(key, (), 2, 5))

    def sample_values(self, key, structure):
        return {"log_scale": jax.random.uniform(key, (), minval=-1.0, maxval=1.0)}

    def task(self, cfg):
        return TanhRegression(d=cfg.structure, scale=jnp.exp(cfg.values["log_scale"]))


def batch_of(task: Task, index: int = 0, seed: int = 0):
    return jax.tree_util.tree_map(jnp.asarray, task.datasets["train"].batch(index, seed))


def grad_of(task: Task, params, key, batch, state=None):
    """(loss, grads, new state) of `task.loss_with_state`."""
    (loss, new_state), grads = jax.value_and_grad(task.loss_with_state, has_aux=True)(params, state, key, batch)
    return loss, grads, new_state
