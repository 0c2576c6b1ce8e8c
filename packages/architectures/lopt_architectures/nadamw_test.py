import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_architectures.nadamw import NAdamWHyperparameters, nadamw, sample_nadamw_hyperparameters
from lopt_architectures._numpy_reference import numpy_schedule


def numpy_nadamw(params, grad_steps, hp, num_steps):
    """App. F.1, equations 13–21, in float64 numpy."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    out = []
    for t, grads in enumerate(grad_steps):
        lr = numpy_schedule(t, num_steps, hp.learning_rate, hp.warmup_fraction, hp.constant_fraction,
                            hp.min_learning_rate_mult)
        for k in p:
            g = np.asarray(grads[k], np.float64) + 2 * hp.l2_weight_decay * p[k]
            m[k] = hp.beta1 * m[k] + (1 - hp.beta1) * g
            v[k] = hp.beta2 * v[k] + (1 - hp.beta2) * g**2
            m_hat = m[k] / (1 - hp.beta1 ** (t + 1))
            v_hat = v[k] / (1 - hp.beta2 ** (t + 1))
            if hp.use_nesterov:
                u = (hp.beta1 * m_hat + (1 - hp.beta1) * g) / (np.sqrt(v_hat) + hp.epsilon)
            else:
                u = m_hat / (np.sqrt(v_hat) + hp.epsilon)
            p[k] = p[k] - lr * u - lr * hp.adamw_weight_decay * p[k]
        out.append({k: x.copy() for k, x in p.items()})
    return out


HYPERPARAMETERS = [
    NAdamWHyperparameters(),
    NAdamWHyperparameters(learning_rate=0.05, beta1=0.5, beta2=0.99, epsilon=1e-3, l2_weight_decay=0.01,
                          adamw_weight_decay=0.02, use_nesterov=False, warmup_fraction=0.2,
                          constant_fraction=0.1, min_learning_rate_mult=0.01),
    NAdamWHyperparameters(learning_rate=0.01, use_nesterov=True, constant_fraction=0.0, min_learning_rate_mult=0.0),
]


@pytest.mark.parametrize("hp", HYPERPARAMETERS)
def test_matches_numpy(hp):
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.standard_normal((4, 3)), jnp.float32), "s": jnp.asarray(0.5, jnp.float32)}
    grads = [{k: jnp.asarray(rng.standard_normal(np.shape(v)), jnp.float32) for k, v in params.items()}
             for _ in range(6)]
    opt = nadamw(**hp._asdict())
    state = opt.init(params, num_steps=10)
    expected = numpy_nadamw(params, grads, hp, 10)
    for g, want in zip(grads, expected):
        state = jax.jit(opt.update)(state, g)
        for k in params:
            np.testing.assert_allclose(opt.get_params(state)[k], want[k], rtol=2e-5, atol=1e-6)


def test_l2_regularisation_pulls_towards_zero():
    # With zero gradient, only the ℓ2 term of eq. 13 acts: parameters must shrink.
    opt = nadamw(learning_rate=0.1, l2_weight_decay=0.1)
    state = opt.init({"w": jnp.asarray([2.0, -3.0])}, num_steps=10)
    state = opt.update(state, {"w": jnp.zeros(2)})
    assert np.all(np.abs(opt.get_params(state)["w"]) < np.asarray([2.0, 3.0]))


def test_search_space_draws_are_in_range_and_vmap():
    hps = jax.vmap(sample_nadamw_hyperparameters)(jax.random.split(jax.random.PRNGKey(0), 2000))
    assert np.all((hps.learning_rate >= 1e-5) & (hps.learning_rate <= 1.0))
    assert np.all((1 - hps.beta1 >= 1e-3 * 0.999) & (1 - hps.beta1 <= 1.0 + 1e-6))
    assert np.all((hps.epsilon >= 1e-8 * 0.999) & (hps.epsilon <= 1e4 * 1.001))
    assert set(np.unique(hps.use_nesterov)) == {0.0, 1.0}
    both_zero = (hps.l2_weight_decay == 0) & (hps.adamw_weight_decay == 0)
    assert not np.any(both_zero)
    assert abs(np.mean(hps.l2_weight_decay == 0) - 1 / 3) < 0.05
    assert abs(np.mean(hps.warmup_fraction == 0) - 0.5) < 0.05
    assert abs(np.mean(hps.min_learning_rate_mult == 0) - 0.5) < 0.05
    assert np.all((hps.constant_fraction >= 0) & (hps.constant_fraction <= 1))
    # A vmapped search: one optimizer per draw, one compiled step.
    params = {"w": jnp.ones(3)}

    def one_step(hp):
        opt = nadamw(**hp._asdict())
        return opt.get_params(opt.update(opt.init(params, num_steps=100), {"w": jnp.ones(3)}))["w"]

    steps = jax.jit(jax.vmap(one_step))(jax.tree.map(lambda x: x[:8], hps))
    assert steps.shape == (8, 3) and np.all(np.isfinite(steps))


def test_requires_num_steps():
    with pytest.raises(ValueError, match="nadamw.init: num_steps is required"):
        nadamw().init({"w": jnp.ones(2)})
