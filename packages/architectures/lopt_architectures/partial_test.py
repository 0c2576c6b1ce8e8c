import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_architectures.nn_adam import nn_adam
from lopt_architectures.partial import PartiallyTrained, partially_trained
from lopt_architectures.small_fc_lopt import small_fc_lopt


def _run(opt, steps=3):
    """A few steps on a quadratic; returns the final parameters."""
    params = {"w": jnp.asarray([[1.0, -2.0], [0.5, 3.0]]), "b": jnp.asarray([0.3, -0.1])}
    state = opt.init(params, num_steps=steps, key=jax.random.PRNGKey(0))
    for i in range(steps):
        p = opt.get_params(state)
        grads = jax.tree_util.tree_map(lambda x: 2 * x, p)
        loss = sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(p))
        state = opt.update(state, grads, loss=loss, key=jax.random.PRNGKey(i + 1))
    return opt.get_params(state)


def test_only_the_named_entries_are_meta_parameters_and_the_rest_stay_fixed():
    base = nn_adam(schedule_knots=3, initial_learning_rate=1e-2)
    theta = base.init_meta_params(jax.random.PRNGKey(4))
    part = partially_trained(base, theta, ("schedule", "initial_hparams"))
    start = part.init_meta_params(jax.random.PRNGKey(99))  # the key is irrelevant: training starts at theta
    assert set(start) == {"schedule", "initial_hparams"}
    np.testing.assert_array_equal(start["schedule"], theta["schedule"])
    moved = {"schedule": jnp.asarray([0.1, 0.0, -0.2]), "initial_hparams": start["initial_hparams"]}
    by_hand = {**theta, "schedule": moved["schedule"]}  # the whole θ written out independently
    got, want = _run(part.optimizer(moved)), _run(base.optimizer(by_hand))
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    # ... and the schedule does change the run, so the comparison above means something.
    other = _run(base.optimizer(theta))
    assert not np.allclose(other["w"], want["w"])


def test_all_entries_by_default_start_training_at_the_given_theta():
    base = small_fc_lopt()
    theta = jax.tree_util.tree_map(lambda x: x + 0.5, base.init_meta_params(jax.random.PRNGKey(0)))
    part = partially_trained(base, theta)
    assert part.trainable == tuple(sorted(theta))
    jax.tree_util.tree_map(np.testing.assert_array_equal, part.init_meta_params(jax.random.PRNGKey(1)), theta)
    assert part.name == f"small_fc_lopt[{','.join(sorted(theta))}]"


def test_usable_as_a_static_argument_of_jit():
    base = nn_adam(schedule_knots=2)
    part = partially_trained(base, base.init_meta_params(jax.random.PRNGKey(0)), ["schedule"])
    assert isinstance(part, PartiallyTrained)
    step = jax.jit(lambda lopt, theta: lopt.full(theta)["schedule"] * 2, static_argnums=0)
    np.testing.assert_allclose(step(part, {"schedule": jnp.ones(2)}), [2.0, 2.0])


def test_errors_name_the_problem():
    base = nn_adam(schedule_knots=2)
    theta = base.init_meta_params(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"θ has no entry 'schedul'; its entries are controls, initial_hparams"):
        partially_trained(base, theta, ["schedul"])
    with pytest.raises(ValueError, match="names 'schedule' more than once"):
        partially_trained(base, theta, ["schedule", "schedule"])
    with pytest.raises(ValueError, match="trainable is empty"):
        partially_trained(base, theta, [])
    with pytest.raises(ValueError, match="theta is not a nn_adam meta-parameter tree"):
        partially_trained(base, nn_adam().init_meta_params(jax.random.PRNGKey(0)), ["controls"])
    part = partially_trained(base, theta, ["schedule"])
    with pytest.raises(ValueError, match=r"expected meta-parameters \['schedule'\], got \['controls'\]"):
        part.full({"controls": theta["controls"]})
