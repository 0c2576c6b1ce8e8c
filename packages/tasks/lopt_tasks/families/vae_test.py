import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.checks import all_finite, num_params, run_batch
from lopt_tasks.families.vae import VAEFamily, VAEStructure, gaussian_log_density, kl_to_standard_normal
from lopt_tasks.image_task import ImageData

FAMILY = VAEFamily()


def test_a_vmapped_batch_runs_and_sampling_varies():
    cfgs, losses, grads = run_batch(FAMILY, jax.random.PRNGKey(1), 4)
    assert losses.shape == (4,) and np.all(np.isfinite(losses)) and all_finite(grads)
    structures = [FAMILY.sample_structure(jax.random.PRNGKey(i)) for i in range(60)]
    assert FAMILY.sample_structure(jax.random.PRNGKey(3)) == structures[3]
    assert {(s.center_data, s.per_dim_loss) for s in structures} == {(a, b) for a in (0, 1) for b in (0, 1)}
    assert len({s.latent_size for s in structures}) > 8 and {len(s.decoder_sizes) for s in structures} == {0, 1, 2}
    assert len({num_params(FAMILY, FAMILY.sample(jax.random.PRNGKey(i))) for i in range(10)}) == 10


def test_closed_form_kl_and_density_match_monte_carlo_and_the_formula():
    mean, log_std = np.array([0.3, -1.0]), np.array([-0.5, 0.4])
    z = mean + np.exp(log_std) * np.random.default_rng(0).normal(size=(400_000, 2))
    log_q = -0.5 * np.log(2 * np.pi) - log_std - 0.5 * ((z - mean) / np.exp(log_std)) ** 2
    log_p = -0.5 * np.log(2 * np.pi) - 0.5 * z**2
    monte_carlo = np.mean(np.sum(log_q - log_p, axis=1))
    assert float(kl_to_standard_normal(jnp.asarray(mean), jnp.asarray(log_std))) == pytest.approx(monte_carlo, abs=5e-3)
    np.testing.assert_allclose(gaussian_log_density(z[:5], mean, log_std), log_q[:5], rtol=1e-6)


@pytest.mark.parametrize("center, per_dim", [(False, False), (True, True)])
def test_zero_weights_give_the_normalizer_and_the_loss_depends_on_the_key(center, per_dim):
    structure = VAEStructure(ImageData("digits", 16), (8,), (8,), 3, "relu", "variance_normal", center, per_dim)
    task = FAMILY.task(TaskConfig(structure, {"init_scale": jnp.float32(1.0)}))
    params = jax.jit(task.init)(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(0, 0)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    # q = prior (KL 0), p(x|z) = N(0, 1): only the quantisation noise separates the loss from the normalizer.
    np.testing.assert_allclose(task.loss(zeros, jax.random.PRNGKey(1), batch), task.normalizer, rtol=1e-3)
    assert task.normalizer == pytest.approx((0.5 * math.log(2 * math.pi) + math.log(255)) * (1 if per_dim else 64), rel=0.2)
    loss = jax.jit(task.loss)
    assert loss(params, jax.random.PRNGKey(1), batch) != loss(params, jax.random.PRNGKey(2), batch)
