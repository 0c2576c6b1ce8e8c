import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.augmentations._testing import CountingRegression, RegressionFamily, TanhRegression, batch_of, grad_of
from lopt_tasks.augmentations.gradients import (
    NoisyGradient,
    NoisyGradientAugmentation,
    NormalizedGradient,
    NormalizedGradientAugmentation,
    global_norm,
)
from lopt_tasks.augmentations.wrapper import AugmentedFamily

KEY = jax.random.PRNGKey(0)
BASE = TanhRegression()
PARAMS = BASE.init(KEY)
BATCH = batch_of(BASE)


def flat(tree):
    return np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def flat_jax(tree):
    return jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def test_normalized_gradient_is_the_unit_vector_along_the_gradient_with_the_loss_unchanged():
    loss, grads, _ = grad_of(NormalizedGradient(BASE), PARAMS, KEY, BATCH)
    want_loss, want, _ = grad_of(BASE, PARAMS, KEY, BATCH)
    assert loss == want_loss
    g, w = flat(grads), flat(want)
    np.testing.assert_allclose(np.linalg.norm(g), 1.0, rtol=1e-6)
    np.testing.assert_allclose(g, w / np.linalg.norm(w), rtol=1e-5)
    zero = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}
    assert np.all(flat(NormalizedGradient(BASE).modify(zero, None, ())) == 0)


def test_noise_is_keyed_unbiased_and_has_the_requested_std():
    _, true_grads, _ = grad_of(BASE, PARAMS, KEY, BATCH)
    g = flat(true_grads)
    n = g.size

    def noisy_grads(task, key):
        return flat_jax(grad_of(task, PARAMS, key, BATCH)[1])

    keys = jax.random.split(jax.random.PRNGKey(1), 4000)
    for task, sigma in [
        (NoisyGradient(BASE, std=0.5, relative=False), 0.5),
        (NoisyGradient(BASE, std=2.0, relative=True), 2.0 * np.linalg.norm(g) / np.sqrt(n)),
    ]:
        samples = np.asarray(jax.jit(jax.vmap(lambda k: noisy_grads(task, k)))(keys))
        # Mean within 4 standard errors of the true gradient, std within 5%.
        np.testing.assert_array_less(np.abs(samples.mean(0) - g), 4 * sigma / np.sqrt(len(keys)))
        np.testing.assert_allclose(samples.std(0), sigma, rtol=0.05)
        np.testing.assert_allclose(noisy_grads(task, keys[0]), samples[0], rtol=1e-5, atol=1e-6)  # a function of the key
        assert not np.allclose(samples[0], samples[1])
        assert grad_of(task, PARAMS, keys[0], BATCH)[0] == grad_of(BASE, PARAMS, keys[0], BATCH)[0]


def test_modified_gradients_thread_model_state():
    task = NormalizedGradient(CountingRegression())
    params, state = task.init_with_state(KEY)
    _, grads, state = grad_of(task, params, KEY, BATCH, state)
    assert int(state["calls"]) == 1
    np.testing.assert_allclose(global_norm(grads), 1.0, rtol=1e-6)


def test_family_versions_vmap_with_traced_noise_levels():
    family = AugmentedFamily(RegressionFamily(), (NoisyGradientAugmentation((0.1, 1.0)), NormalizedGradientAugmentation()))
    cfgs = family.sample_batch(jax.random.PRNGKey(2), 4)
    assert [name for name, _ in cfgs.structure.augmentations] == ["noisy_grad", "normalized_grad"]
    batch = batch_of(TanhRegression(d=cfgs.structure.inner))

    @jax.jit
    @jax.vmap
    def run(cfg, key):
        task = family.task(cfg)
        return grad_of(task, task.init(key), key, batch)[:2]

    losses, grads = run(cfgs, jax.random.split(KEY, 4))
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(jax.vmap(global_norm)(grads), 1.0, rtol=1e-5)  # normalisation is outermost


def test_global_norm_matches_numpy():
    tree = {"a": jnp.arange(3.0), "b": [jnp.ones((2, 2)), jnp.full((1,), -2.0, jnp.bfloat16)]}
    assert float(global_norm(tree)) == pytest.approx(np.sqrt(0 + 1 + 4 + 4 + 4))
