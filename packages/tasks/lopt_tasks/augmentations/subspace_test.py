import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.augmentations._testing import RegressionFamily, TanhRegression, batch_of, grad_of
from lopt_tasks.augmentations.gradients import gradient_key
from lopt_tasks.augmentations.subspace import SubspaceAugmentation, SubspaceGradient, subspace_directions
from lopt_tasks.augmentations.wrapper import AugmentedFamily

KEY = jax.random.PRNGKey(0)
BASE = TanhRegression()  # 3·2 + 2 = 8 parameters
N = 8
PARAMS = BASE.init(KEY)


def flat(tree):
    return jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def grads(task, key, batch_index=0):
    return flat(grad_of(task, PARAMS, key, batch_of(BASE, batch_index))[1])


TRUE = np.asarray(grads(BASE, KEY))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_orthogonal_version_is_an_orthogonal_projection(k):
    p = np.asarray(grads(SubspaceGradient(BASE, directions=k), KEY))
    # g − Pg is orthogonal to Pg, so |Pg| <= |g|, and Pg is not the whole gradient.
    assert abs(np.dot(TRUE - p, p)) < 1e-6 * np.dot(TRUE, TRUE)
    assert np.linalg.norm(p) < np.linalg.norm(TRUE)
    # An independent computation: QR of the same Gaussian draw, in numpy.
    draw = np.asarray(jax.random.normal(gradient_key(KEY), (N, k), jnp.float32), np.float64)
    q, _ = np.linalg.qr(draw)
    np.testing.assert_allclose(p, q @ (q.T @ TRUE), rtol=1e-4, atol=1e-7)


def test_all_directions_recover_the_gradient_exactly():
    np.testing.assert_allclose(grads(SubspaceGradient(BASE, directions=N), KEY), TRUE, rtol=1e-5, atol=1e-7)
    # More directions than parameters are capped.
    np.testing.assert_allclose(grads(SubspaceGradient(BASE, directions=50), KEY), TRUE, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("orthogonal", [True, False])
def test_one_direction_gives_gradients_parallel_to_that_direction(orthogonal):
    task = SubspaceGradient(BASE, directions=1, orthogonal=orthogonal)
    u = np.asarray(subspace_directions(gradient_key(KEY), N, 1, orthogonal))[:, 0]
    for batch_index in (0, 1):
        p = np.asarray(grads(task, KEY, batch_index))
        np.testing.assert_allclose(np.abs(np.dot(p, u)), np.linalg.norm(p), rtol=1e-5)
    # (g·u) u, by hand.
    np.testing.assert_allclose(grads(task, KEY), np.dot(TRUE, u) * u, rtol=1e-5, atol=1e-8)
    signed = np.asarray(grads(SubspaceGradient(BASE, directions=1, orthogonal=orthogonal, sign=True), KEY))
    np.testing.assert_allclose(signed, np.sign(np.dot(TRUE, u)) * u, rtol=1e-5)


@pytest.mark.parametrize("orthogonal", [True, False])
def test_in_expectation_the_projection_is_k_over_n_of_the_gradient(orthogonal):
    k = 2
    task = SubspaceGradient(BASE, directions=k, orthogonal=orthogonal)
    keys = jax.random.split(jax.random.PRNGKey(1), 6000)
    samples = np.asarray(jax.jit(jax.vmap(lambda key: grads(task, key)))(keys))
    standard_error = samples.std(0) / np.sqrt(len(keys))
    np.testing.assert_array_less(np.abs(samples.mean(0) - k / N * TRUE), 4.5 * standard_error + 1e-7)


def test_the_loss_is_unchanged_and_the_family_version_runs_vmapped():
    key = jax.random.PRNGKey(5)
    assert grad_of(SubspaceGradient(BASE, 2), PARAMS, key, batch_of(BASE))[0] == BASE.loss(PARAMS, key, batch_of(BASE))
    family = AugmentedFamily(RegressionFamily(), (SubspaceAugmentation(max_directions=4),))
    cfgs = family.sample_batch(key, 3)
    (k, sign), = [static for _, static in cfgs.structure.augmentations]
    assert 1 <= k < 4 and sign is False
    batch = batch_of(TanhRegression(d=cfgs.structure.inner))
    out = jax.jit(jax.vmap(lambda cfg, key: grad_of(family.task(cfg), family.task(cfg).init(key), key, batch)[1]))(
        cfgs, jax.random.split(key, 3)
    )
    assert out["w"].shape == (3, cfgs.structure.inner, 2)


def test_directions_must_fit():
    with pytest.raises(ValueError, match="1 <= directions <= number of parameters"):
        subspace_directions(KEY, 3, 0, True)
