import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.augmentations._testing import CountingRegression, RegressionFamily, TanhRegression, batch_of, grad_of
from lopt_tasks.augmentations.reparam import RandomScales, ReparamAugmentation, ReparamWeights
from lopt_tasks.augmentations.wrapper import AugmentedFamily
from lopt_tasks.base import TaskConfig

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("scale", [10.0, 0.03, {"w": jnp.float32(0.1), "b": jnp.float32(30.0)}])
def test_the_represented_function_is_unchanged_and_gradients_scale(scale):
    base = TanhRegression()
    task = ReparamWeights(base, scale)
    scales = scale if isinstance(scale, dict) else {"w": scale, "b": scale}
    batch = batch_of(base)

    stored = task.init(KEY)
    w0 = base.init(KEY)
    # Stored parameters are w0 / s ...
    for name in w0:
        np.testing.assert_allclose(stored[name], w0[name] / scales[name], rtol=1e-6)
    # ... and the loss is the inner loss at s · stored, which is w0.
    loss, grads, _ = grad_of(task, stored, KEY, batch)
    represented = {k: stored[k] * scales[k] for k in stored}
    want_loss, want_grads, _ = grad_of(base, represented, KEY, batch)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_allclose(loss, base.loss(w0, KEY, batch), rtol=1e-5)
    # Chain rule: d/dv f(s v) = s ∇f(s v).
    for name in grads:
        np.testing.assert_allclose(grads[name], scales[name] * want_grads[name], rtol=1e-5)


def test_random_scales_are_log_uniform_per_element_and_per_tensor():
    params = {"w": jnp.zeros((40, 50)), "b": jnp.zeros((7,))}
    raw = jax.random.PRNGKey(1)
    per_element = RandomScales(raw, "parameter", 0.01, 100.0)(params)
    assert per_element["w"].shape == (40, 50) and per_element["b"].shape == (7,)
    logs = np.log10(np.asarray(per_element["w"])).ravel()
    assert logs.min() >= -2 and logs.max() <= 2
    assert abs(logs.mean()) < 0.1 and abs(logs.var() - 16 / 12) < 0.1  # uniform on [-2, 2]
    per_tensor = RandomScales(raw, "tensor")(params)
    assert per_tensor["w"].shape == () and per_tensor["b"].shape == ()
    again = RandomScales(raw, "parameter")(params)
    np.testing.assert_array_equal(per_element["w"], again["w"])


def test_per_element_scales_scale_each_gradient_entry():
    base = TanhRegression()
    scales = RandomScales(jax.random.PRNGKey(2), "parameter", 0.1, 10.0)
    task = ReparamWeights(base, scales)
    batch = batch_of(base)
    stored = task.init(KEY)
    s = scales(stored)
    _, grads, _ = grad_of(task, stored, KEY, batch)
    _, want, _ = grad_of(base, base.init(KEY), KEY, batch)
    for name in grads:
        np.testing.assert_allclose(grads[name], s[name] * want[name], rtol=1e-4, atol=1e-7)


def test_model_state_passes_through_and_mismatched_scales_are_rejected():
    task = ReparamWeights(CountingRegression(), 2.0)
    params, state = task.init_with_state(KEY)
    _, new_state = task.loss_with_state(params, state, KEY, batch_of(task))
    assert int(new_state["calls"]) == 1
    bad = ReparamWeights(TanhRegression(), {"w": 1.0})
    with pytest.raises(ValueError, match="does not match the parameter tree"):
        bad.init(KEY)


@pytest.mark.parametrize("level", ["global", "tensor", "parameter"])
def test_family_version_keeps_the_initial_loss_of_every_sampled_task(level):
    inner = RegressionFamily()
    family = AugmentedFamily(inner, (ReparamAugmentation(levels=(level,)),))
    cfgs = family.sample_batch(jax.random.PRNGKey(3), 4)
    assert cfgs.structure.augmentations == (("reparam", level),)
    keys = jax.random.split(KEY, 4)
    batch = batch_of(TanhRegression(d=cfgs.structure.inner))

    @jax.jit
    @jax.vmap
    def initial_losses(cfg, key):
        augmented, plain = family.task(cfg), inner.task(TaskConfig(cfg.structure.inner, cfg.values["inner"]))
        return augmented.loss(augmented.init(key), key, batch), plain.loss(plain.init(key), key, batch)

    augmented, plain = initial_losses(cfgs, keys)
    np.testing.assert_allclose(augmented, plain, rtol=1e-5)


def test_invalid_settings_are_named():
    with pytest.raises(ValueError, match="levels must be a non-empty subset"):
        ReparamAugmentation(levels=("layer",))
    with pytest.raises(ValueError, match="0 < low <= high"):
        ReparamAugmentation(scale_range=(1.0, 0.1))
