import dataclasses

import jax
import jax.numpy as jnp
import pytest

from lopt_architectures.base import LearnedOptimizer, Optimizer
from lopt_architectures.registry import HAND_DESIGNED, LEARNED, make_learned_optimizer, make_optimizer


def test_every_hand_designed_optimizer_takes_a_step():
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    grads = {"w": jnp.full((3, 2), 0.5), "b": jnp.full(2, -0.5)}
    for name in HAND_DESIGNED:
        opt = make_optimizer(name, learning_rate=0.1)
        assert isinstance(opt, Optimizer)
        new = opt.get_params(opt.update(opt.init(params, num_steps=10), grads))
        assert not jnp.allclose(new["w"], params["w"]), name


def test_learned_optimizers():
    assert sorted(LEARNED) == [
        "celo", "celo2", "celo_adam", "fc_lopt", "nn_adam", "rnn_fc_lopt", "small_fc_lopt", "velo"]
    lopt = make_learned_optimizer("small_fc_lopt", hidden_size=8)
    assert isinstance(lopt, LearnedOptimizer) and lopt.hidden_size == 8


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="unknown hand-designed optimizer 'adamm'; known: adabelief, adafactor"):
        make_optimizer("adamm", learning_rate=1.0)
    with pytest.raises(KeyError, match="unknown learned optimizer 'velo2'; known: celo, celo2, celo_adam, fc_lopt"):
        make_learned_optimizer("velo2")


#: Every integer size of every learned optimizer's configuration and its smallest value (0 hidden layers: a
#: linear update rule; 0 Newton-Schulz iterations: no orthogonalisation). nn_adam's schedule_knots has its own rule.
SIZES = {
    "celo": {"lstm_hidden_size": 1, "hidden_size": 1},
    "celo2": {"hidden_size": 1, "ns_iterations": 0},
    "celo_adam": {"lstm_hidden_size": 1},
    "fc_lopt": {"hidden_size": 1, "hidden_layers": 0},
    "nn_adam": {"lstm_hidden_size": 1},
    "rnn_fc_lopt": {"hidden_size": 1, "hidden_layers": 0, "from_mlp_size": 1, "from_lstm_size": 1, "lstm_to_ff": 1,
                    "lstm_hidden_size": 1},
    "small_fc_lopt": {"hidden_size": 1, "hidden_layers": 0},
    "velo": {"lstm_hidden_size": 1, "bank_size": 1, "hidden_size": 1},
}


def test_the_size_table_covers_every_integer_field():
    for name in LEARNED:
        lopt = make_learned_optimizer(name)
        integers = {f.name for f in dataclasses.fields(lopt)
                    if f.init and type(getattr(lopt, f.name)) is int and f.name != "schedule_knots"}
        assert integers == set(SIZES[name]), name


@pytest.mark.parametrize("name,field,minimum", [(n, f, m) for n, sizes in SIZES.items() for f, m in sizes.items()])
def test_sizes_below_their_minimum_are_refused_naming_the_field(name, field, minimum):
    for value in (minimum - 1, -3):
        with pytest.raises(ValueError, match=f"^{name}: {field} must be >= {minimum}, got {value}.$"):
            make_learned_optimizer(name, **{field: value})
    # The smallest allowed value builds a θ with no empty array.
    theta = jax.eval_shape(make_learned_optimizer(name, **{field: minimum}).init_meta_params, jax.random.PRNGKey(0))
    assert all(leaf.size > 0 for leaf in jax.tree_util.tree_leaves(theta))
