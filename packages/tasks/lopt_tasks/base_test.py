import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.base import SingleTaskFamily, Task, TaskConfig, TaskFamily, group_by_structure, stack_configs
from lopt_tasks.data import ArrayDataset


@dataclasses.dataclass(frozen=True)
class Quadratic(Task):
    """loss = scale · ‖p − batch["target"]‖²; a toy task to exercise the interfaces."""

    dim: int = 3
    scale: float | jax.Array = 1.0

    @property
    def name(self):
        return "quadratic"

    def init(self, key):
        return {"p": jax.random.normal(key, (self.dim,))}

    def loss(self, params, key, batch):
        return self.scale * jnp.sum((params["p"] - batch["target"]) ** 2)

    @property
    def datasets(self):
        targets = np.arange(4 * self.dim, dtype=np.float32).reshape(4, self.dim)
        return {"train": ArrayDataset({"target": targets}, batch_size=1, name="quadratic/train")}

    @property
    def normalizer(self):
        return 1.0


@dataclasses.dataclass(frozen=True)
class QuadraticFamily(TaskFamily):
    @property
    def name(self):
        return "quadratic_family"

    def sample_structure(self, key):
        return int(jax.random.randint(key, (), 2, 4))  # the dimension

    def sample_values(self, key, structure):
        return {"log_scale": jax.random.uniform(key, (), minval=-1.0, maxval=1.0)}

    def task(self, cfg):
        return Quadratic(dim=cfg.structure, scale=jnp.exp(cfg.values["log_scale"]))


def test_config_is_a_pytree_whose_structure_is_static():
    cfg = TaskConfig(structure=("mlp", 32), values={"b": jnp.ones(()), "a": jnp.zeros(2)})
    leaves, treedef = jax.tree_util.tree_flatten(cfg)
    assert len(leaves) == 2
    assert jax.tree_util.tree_unflatten(treedef, leaves).structure == ("mlp", 32)
    other = TaskConfig(structure=("mlp", 64), values=cfg.values)
    assert jax.tree_util.tree_structure(other) != treedef


def test_sample_batch_vmaps_init_loss_and_grad_in_one_call():
    family = QuadraticFamily()
    cfgs = family.sample_batch(jax.random.PRNGKey(0), 4)
    assert cfgs.values["log_scale"].shape == (4,)
    batch = {"target": jnp.ones((4, cfgs.structure))}

    @jax.jit
    def init_and_grad(cfg, key, batch):
        task = family.task(cfg)
        params = task.init(key)
        return jax.value_and_grad(task.loss)(params, key, batch)

    losses, grads = jax.vmap(init_and_grad)(cfgs, jax.random.split(jax.random.PRNGKey(1), 4), batch)
    assert losses.shape == (4,) and grads["p"].shape == (4, cfgs.structure)
    for i in range(4):
        one = jax.tree.map(lambda x: x[i], cfgs)
        want, _ = init_and_grad(one, jax.random.split(jax.random.PRNGKey(1), 4)[i], {"target": jnp.ones(cfgs.structure)})
        np.testing.assert_allclose(losses[i], want, rtol=1e-6)


def test_stacking_needs_one_structure():
    a = TaskConfig(2, {"x": jnp.ones(())})
    b = TaskConfig(3, {"x": jnp.ones(())})
    assert stack_configs([a, a]).values["x"].shape == (2,)
    with pytest.raises(ValueError, match="2 different structures"):
        stack_configs([a, b])
    groups = group_by_structure([a, b, a])
    assert groups[2].values["x"].shape == (2,) and groups[3].values["x"].shape == (1,)


def test_sampling_is_deterministic_given_the_key():
    family = QuadraticFamily()
    one, two = family.sample(jax.random.PRNGKey(5)), family.sample(jax.random.PRNGKey(5))
    assert one.structure == two.structure and float(one.values["log_scale"]) == float(two.values["log_scale"])


def test_single_task_family_and_stateless_default():
    task = Quadratic()
    family = SingleTaskFamily(task)
    assert family.task(family.sample(jax.random.PRNGKey(0))) is task
    params, state = task.init_with_state(jax.random.PRNGKey(0))
    loss, state = task.loss_with_state(params, None, None, {"target": jnp.zeros(3)})
    assert state is None and math.isfinite(float(loss))
    with pytest.raises(ValueError, match="task 'quadratic' has no model state"):
        task.loss_with_state(params, {"bn": 1}, None, {"target": jnp.zeros(3)})
