"""Optimizers by name, for binaries and configuration files.

`make_optimizer("adam", learning_rate=1e-3)` builds a hand-designed
optimizer; `make_learned_optimizer("small_fc_lopt", hidden_size=8)` a learned
one. An unknown name raises a KeyError that lists the known ones.
"""

from collections.abc import Callable

from lopt_architectures import hand_designed
from lopt_architectures.base import LearnedOptimizer, Optimizer
from lopt_architectures.celo import celo, celo_adam
from lopt_architectures.celo2 import celo2
from lopt_architectures.fc_lopt import fc_lopt
from lopt_architectures.nadamw import nadamw
from lopt_architectures.nn_adam import nn_adam
from lopt_architectures.rnn_fc_lopt import rnn_fc_lopt
from lopt_architectures.small_fc_lopt import small_fc_lopt
from lopt_architectures.velo import velo

#: Hand-designed optimizer constructors, each taking learning_rate= first.
HAND_DESIGNED: dict[str, Callable[..., Optimizer]] = {
    "adabelief": hand_designed.adabelief,
    "adafactor": hand_designed.adafactor,
    "adagrad": hand_designed.adagrad,
    "adam": hand_designed.adam,
    "adamw": hand_designed.adamw,
    "fromage": hand_designed.fromage,
    "lamb": hand_designed.lamb,
    "lars": hand_designed.lars,
    "nadamw": nadamw,
    "radam": hand_designed.radam,
    "rmsprop": hand_designed.rmsprop,
    "sgd": hand_designed.sgd,
    "sgdm": hand_designed.sgdm,
    "sm3": hand_designed.sm3,
    "yogi": hand_designed.yogi,
}

#: Learned optimizer constructors (configuration overrides as keywords).
LEARNED: dict[str, Callable[..., LearnedOptimizer]] = {
    "celo": celo,
    "celo2": celo2,
    "celo_adam": celo_adam,
    "fc_lopt": fc_lopt,
    "nn_adam": nn_adam,
    "rnn_fc_lopt": rnn_fc_lopt,
    "small_fc_lopt": small_fc_lopt,
    "velo": velo,
}


def _lookup(table: dict, name: str, kind: str):
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}") from None


def make_optimizer(name: str, **hyperparameters) -> Optimizer:
    """The hand-designed optimizer `name` with the given hyperparameters."""
    return _lookup(HAND_DESIGNED, name, "hand-designed optimizer")(**hyperparameters)


def make_learned_optimizer(name: str, **config) -> LearnedOptimizer:
    """The learned optimizer architecture `name` with configuration overrides."""
    return _lookup(LEARNED, name, "learned optimizer")(**config)
