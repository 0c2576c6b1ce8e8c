import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.haiku_task import HaikuTask


@dataclasses.dataclass(frozen=True)
class LinearRegression(HaikuTask):
    """Mean squared error of a haiku linear layer; `counting` adds a state that counts the calls."""

    counting: bool = False
    name: str = "linear_regression"
    datasets = {}
    normalizer = 1.0

    def forward(self, batch):
        loss = jnp.mean(jnp.square(hk.Linear(1)(batch["x"])[:, 0] - batch["y"]))
        if self.counting:
            count = hk.get_state("count", [], init=jnp.zeros)
            hk.set_state("count", count + 1)
            loss = loss + count
        return loss

    def example_batch(self):
        return {"x": jnp.zeros((2, 3)), "y": jnp.zeros((2,))}


BATCH = {"x": np.arange(12.0, dtype=np.float32).reshape(4, 3) / 10, "y": np.array([1.0, -1.0, 0.5, 2.0], np.float32)}


def test_loss_matches_numpy_and_a_stateless_model_has_no_state():
    task = LinearRegression()
    params, state = task.init_with_state(jax.random.PRNGKey(0))
    assert state is None
    w, b = np.asarray(params["linear"]["w"], np.float64), np.asarray(params["linear"]["b"], np.float64)
    expected = np.mean(np.square(BATCH["x"] @ w[:, 0] + b[0] - BATCH["y"]))
    np.testing.assert_allclose(task.loss(params, None, BATCH), expected, rtol=1e-6)
    loss, next_state = task.loss_with_state(params, None, None, BATCH)
    assert next_state is None and float(loss) == float(task.loss(params, None, BATCH))


def test_a_model_without_pooled_randomness_initialises_as_haiku_does():
    key = jax.random.PRNGKey(3)
    task = LinearRegression()
    expected = hk.transform(task.forward).init(key, task.example_batch())
    jax.tree_util.tree_map(np.testing.assert_array_equal, task.init(key), expected)
    assert not np.array_equal(task.init(key)["linear"]["w"], task.init(jax.random.PRNGKey(4))["linear"]["w"])


def test_state_is_threaded_and_loss_uses_the_zero_initial_state():
    task = LinearRegression(counting=True)
    params, state = task.init_with_state(jax.random.PRNGKey(0))
    assert float(state["~"]["count"]) == 0.0
    plain = task.loss(dataclasses.replace(task, counting=False).init(jax.random.PRNGKey(0)), None, BATCH)
    assert float(task.loss(params, None, BATCH)) == pytest.approx(float(plain))
    loss, next_state = task.loss_with_state(params, {"~": {"count": jnp.float32(5.0)}}, None, BATCH)
    assert float(loss) == pytest.approx(float(plain) + 5.0) and float(next_state["~"]["count"]) == 6.0
