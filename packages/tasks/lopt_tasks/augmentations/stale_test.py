import jax
import numpy as np
import pytest

from lopt_tasks.augmentations._testing import CountingRegression, RegressionFamily, TanhRegression, batch_of, grad_of
from lopt_tasks.augmentations.stale import StaleGradients, StaleGradientsAugmentation
from lopt_tasks.augmentations.wrapper import AugmentedFamily

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("delay", [1, 2, 3])
def test_the_gradient_is_the_gradient_at_the_parameters_from_delay_steps_ago(delay):
    base = TanhRegression()
    task = StaleGradients(base, delay=delay)
    params, state = task.init_with_state(KEY)
    history = [params]
    step = jax.jit(lambda p, s, k, b: grad_of(task, p, k, b, s))
    for t in range(7):
        key, batch = jax.random.fold_in(KEY, t), batch_of(base, t)
        loss, grads, state = step(params, state, key, batch)
        stale = history[max(t - delay, 0)]
        want_loss, want_grads, _ = grad_of(base, stale, key, batch)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
        for name in grads:
            np.testing.assert_allclose(grads[name], want_grads[name], rtol=1e-5, atol=1e-6)
        params = jax.tree_util.tree_map(lambda p, g: p - 0.5 * g, params, grads)
        history.append(params)
    # The buffer holds the last `delay` parameters, oldest first.
    for i in range(delay):
        np.testing.assert_allclose(state["past_params"]["w"][i], history[len(history) - 1 - delay + i]["w"], rtol=1e-6)


def test_inner_state_is_threaded_and_the_stateless_api_is_refused():
    task = StaleGradients(CountingRegression(), delay=2)
    params, state = task.init_with_state(KEY)
    for _ in range(3):
        _, _, state = grad_of(task, params, KEY, batch_of(task), state)
    assert int(state["inner"]["calls"]) == 3
    with pytest.raises(ValueError, match="use init_with_state, not init"):
        task.init(KEY)
    with pytest.raises(ValueError, match="use loss_with_state, not loss"):
        task.loss(params, KEY, batch_of(task))
    with pytest.raises(ValueError, match="model_state must be"):
        task.loss_with_state(params, None, KEY, batch_of(task))
    with pytest.raises(ValueError, match="delay must be an int >= 1"):
        StaleGradients(TanhRegression(), delay=0)


def test_family_version_runs_vmapped_with_a_sampled_delay():
    family = AugmentedFamily(RegressionFamily(), (StaleGradientsAugmentation(delays=(2, 3)),))
    cfgs = family.sample_batch(jax.random.PRNGKey(4), 4)
    ((name, delay),) = cfgs.structure.augmentations
    assert name == "stale" and delay in (2, 3)
    batch = batch_of(TanhRegression(d=cfgs.structure.inner))

    @jax.jit
    @jax.vmap
    def run(cfg, key):
        task = family.task(cfg)
        params, state = task.init_with_state(key)
        return grad_of(task, params, key, batch, state)

    losses, _, state = run(cfgs, jax.random.split(KEY, 4))
    assert np.all(np.isfinite(losses))
    assert state["past_params"]["w"].shape == (4, delay, cfgs.structure.inner, 2)
