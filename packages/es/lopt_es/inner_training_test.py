import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import lopt_architectures as la
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_es import inner_training
from lopt_es.inner_training import EVALUATION_KEYS, META_TRAINING_KEYS, RunKeys, StepKeys
from lopt_es.testing import QuadraticTask


@dataclasses.dataclass(frozen=True)
class NoisyCountingTask(lt.Task):
    """x ~ N(0, I) from the init key; loss = Σx² + u(key) with u uniform; the model state counts loss calls."""

    @property
    def name(self):
        return "noisy_counting"

    def init(self, key):
        return {"x": jax.random.normal(key, (3,))}

    def init_with_state(self, key):
        return self.init(key), jnp.zeros((), jnp.int32)

    def loss(self, params, key, batch):
        return jnp.sum(params["x"] ** 2) * batch["scale"] + jax.random.uniform(key)

    def loss_with_state(self, params, model_state, key, batch):
        return self.loss(params, key, batch), model_state + 1

    @property
    def datasets(self):
        return {}

    @property
    def normalizer(self):
        return 1.0


class SpyState(NamedTuple):
    params: Any
    model_state: Any
    step: jax.Array
    num_steps: jax.Array
    key: jax.Array  # the key the optimizer was last given
    loss: jax.Array  # the loss the optimizer was last given


def spy_sgd(learning_rate: float) -> la.Optimizer:
    """SGD that records the key and loss it is given."""

    def init(params, *, num_steps, key=None, model_state=None):
        return SpyState(params, model_state, jnp.zeros((), jnp.int32), jnp.asarray(num_steps), key, jnp.zeros(()))

    def update(state, grads, *, loss=None, key=None, model_state=None):
        params = jax.tree_util.tree_map(lambda p, g: p - learning_rate * g, state.params, grads)
        return SpyState(params, model_state, state.step + 1, state.num_steps, key, loss)

    return la.Optimizer(init, update, la.get_params)


def same_key(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b))


def test_meta_training_keys_split_the_run_key_as_documented():
    run_key, step = jax.random.PRNGKey(7), 5
    init_key, steps_key = jax.random.split(run_key)
    params_key, optimizer_key = jax.random.split(init_key)
    loss_key, heldout_key, update_key = jax.random.split(jax.random.fold_in(steps_key, step), 3)
    assert all(map(same_key, META_TRAINING_KEYS.run(run_key), RunKeys(params_key, optimizer_key)))
    keys = META_TRAINING_KEYS.step(run_key, jnp.asarray(step))
    assert all(map(same_key, keys, StepKeys(loss=loss_key, update=update_key, heldout=heldout_key)))
    assert len({tuple(np.asarray(k)) for k in (*META_TRAINING_KEYS.run(run_key), *keys)}) == 5  # all distinct


def test_evaluation_keys_use_the_seed_key_as_documented():
    seed_key, step = jax.random.PRNGKey(3), 11
    assert all(same_key(k, seed_key) for k in EVALUATION_KEYS.run(seed_key))
    keys = EVALUATION_KEYS.step(seed_key, jnp.asarray(step))
    assert same_key(keys.loss, jax.random.fold_in(seed_key, step)) and same_key(keys.update, keys.loss)
    assert same_key(keys.heldout, jax.random.fold_in(seed_key, 2**30 + step))


def test_sgd_on_a_quadratic_matches_the_closed_form():
    task, lr = QuadraticTask(), 0.3
    a, b, x0 = (np.asarray(v) for v in (task.curvature, task.target, task.start))
    seed_key = jax.random.PRNGKey(0)
    state = inner_training.init_run(task, la.sgd(lr), EVALUATION_KEYS.run(seed_key), num_steps=4)
    step = jax.jit(lambda s, t: inner_training.train_step(task, la.sgd(lr), s, {}, EVALUATION_KEYS.step(seed_key, t)))
    x = x0
    for t in range(4):
        state, loss = step(state, t)
        np.testing.assert_allclose(loss, 0.5 * np.sum(a * (x - b) ** 2), rtol=1e-6)
        x = x - lr * a * (x - b)  # the gradient of ½Σa(x−b)² is a(x−b)
        np.testing.assert_allclose(state.params["x"], x, rtol=1e-6)


@pytest.mark.parametrize("scheme", [META_TRAINING_KEYS, EVALUATION_KEYS], ids=lambda s: s.name)
def test_each_key_reaches_what_it_is_for(scheme):
    task, run_key = NoisyCountingTask(), jax.random.PRNGKey(4)
    optimizer = spy_sgd(0.1)
    run_keys, step_keys = scheme.run(run_key), scheme.step(run_key, jnp.asarray(2))
    state = inner_training.init_run(task, optimizer, run_keys, num_steps=10)
    x0 = np.asarray(jax.random.normal(run_keys.params, (3,)))
    np.testing.assert_array_equal(state.params["x"], x0)
    assert same_key(state.key, run_keys.optimizer) and int(state.model_state) == 0 and int(state.num_steps) == 10

    batch = {"scale": jnp.asarray(2.0)}
    new_state, loss = inner_training.train_step(task, optimizer, state, batch, step_keys)
    want_loss = 2.0 * np.sum(x0.astype(np.float64) ** 2) + float(jax.random.uniform(step_keys.loss))
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_allclose(new_state.loss, loss)  # the optimizer reads the step's loss
    np.testing.assert_allclose(new_state.params["x"], x0 - 0.1 * 4.0 * x0, rtol=1e-6)  # d(2Σx²)/dx = 4x
    assert same_key(new_state.key, step_keys.update) and int(new_state.model_state) == 1

    held = {"scale": jnp.asarray(0.5)}
    heldout = inner_training.heldout_loss(task, optimizer, new_state, held, step_keys.heldout)
    x1 = np.asarray(new_state.params["x"], np.float64)
    np.testing.assert_allclose(heldout, 0.5 * np.sum(x1**2) + float(jax.random.uniform(step_keys.heldout)), rtol=1e-6)
