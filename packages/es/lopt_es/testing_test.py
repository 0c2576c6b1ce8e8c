import jax
import jax.numpy as jnp
import numpy as np

from lopt_es.testing import LearnedLR, QuadraticFamily, QuadraticTask, gauss_hermite, quadratic_losses


def test_closed_form_matches_a_simulation():
    task = QuadraticTask()
    opt = LearnedLR().optimizer({"log_lr": jnp.asarray(np.log(0.3))})
    state = opt.init(task.init(jax.random.PRNGKey(0)), num_steps=5)
    losses = []
    for _ in range(5):
        loss, grads = jax.value_and_grad(task.loss)(opt.get_params(state), None, None)
        losses.append(float(loss))
        state = opt.update(state, grads)
    np.testing.assert_allclose(losses, quadratic_losses(np.full(5, np.log(0.3))), rtol=1e-6)
    assert quadratic_losses(np.zeros(1))[0] == task.normalizer


def test_family_values_scale_the_loss():
    family = QuadraticFamily()
    cfg = family.sample(jax.random.PRNGKey(0))
    task = family.task(cfg)
    scale = float(jnp.exp(cfg.values["log_scale"]))
    assert 0.5 <= scale <= 2.0
    np.testing.assert_allclose(float(task.loss(task.init(None), None, None)), scale * QuadraticTask().normalizer, rtol=1e-6)


def test_gauss_hermite_moments():
    assert abs(gauss_hermite(lambda x: x**2, 1.0, 0.5) - 1.25) < 1e-12
