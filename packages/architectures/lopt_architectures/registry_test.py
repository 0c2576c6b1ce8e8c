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
