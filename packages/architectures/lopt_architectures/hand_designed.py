"""Hand-designed optimizers as lopt `Optimizer`s.

SGD, SGD with momentum and Adam (tradeoffs paper §3.2), AdaFactor, and the
optimizers VeLO's learning-rate-tuned baselines use (VeLO §4.1: AdaBelief,
RMSProp, SM3, Yogi, RAdam, LARS, LAMB, Fromage, AdamW, Adagrad) are optax's
own implementations, run through `from_optax`: optax implements them
faithfully and is what practitioners compare against. NAdamW, whose exact
form (App. F.1) optax does not offer, is in `nadamw.py`.

Every constructor takes `learning_rate` (a float, a traced array — so a
learning-rate sweep can be vmapped — or an optax schedule) and its other
hyperparameters by name, with optax's defaults.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from lopt_architectures.base import Optimizer
from lopt_architectures.optax_interop import from_optax


def sgd(learning_rate: optax.ScalarOrSchedule) -> Optimizer:
    """Plain SGD: p ← p − α·g."""
    return from_optax(optax.sgd(learning_rate), "sgd")


def sgdm(learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9, nesterov: bool = False) -> Optimizer:
    """SGD with heavy-ball (or Nesterov) momentum: m ← β·m + g, p ← p − α·m."""
    return from_optax(optax.sgd(learning_rate, momentum=momentum, nesterov=nesterov), "sgdm")


def adam(
    learning_rate: optax.ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Optimizer:
    """Adam (Kingma & Ba, 2015) with bias correction: p ← p − α·m̂/(√v̂ + ε)."""
    return from_optax(optax.adam(learning_rate, b1=b1, b2=b2, eps=eps), "adam")


def _wrap_optax(optax_fn: Callable[..., optax.GradientTransformation], name: str) -> Callable[..., Optimizer]:
    @functools.wraps(optax_fn)
    def make(learning_rate: optax.ScalarOrSchedule, **hyperparameters) -> Optimizer:
        return from_optax(optax_fn(learning_rate=learning_rate, **hyperparameters), name)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = (
        f"{name} as an lopt Optimizer: optax.{optax_fn.__name__}(learning_rate, **hyperparameters).\n\n"
        + (optax_fn.__doc__ or "")
    )
    return make


adafactor = _wrap_optax(optax.adafactor, "adafactor")
adabelief = _wrap_optax(optax.adabelief, "adabelief")
adagrad = _wrap_optax(optax.adagrad, "adagrad")
adamw = _wrap_optax(optax.adamw, "adamw")
fromage = _wrap_optax(optax.fromage, "fromage")
lamb = _wrap_optax(optax.lamb, "lamb")
lars = _wrap_optax(optax.lars, "lars")
radam = _wrap_optax(optax.radam, "radam")
rmsprop = _wrap_optax(optax.rmsprop, "rmsprop")


def _scalars_as_vectors(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """Runs `tx` with 0-d leaves reshaped to (1,), and reshapes its updates back."""

    def lift(tree):
        return jax.tree_util.tree_map(lambda x: jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x, tree)

    def init(params):
        return tx.init(lift(params))

    def update(updates, state, params=None):
        lifted, state = tx.update(lift(updates), state, None if params is None else lift(params))
        return jax.tree_util.tree_map(lambda u, g: jnp.reshape(u, jnp.shape(g)), lifted, updates), state

    return optax.GradientTransformation(init, update)


def sm3(learning_rate: optax.ScalarOrSchedule, momentum: float = 0.9) -> Optimizer:
    """SM3 (Anil et al., 2019), optax's implementation.

    optax keeps one accumulator per axis and so has none for a scalar
    parameter (it raises an IndexError); scalars are run as one-element
    vectors, for which SM3 reduces to Adagrad with momentum.
    """
    return from_optax(_scalars_as_vectors(optax.sm3(learning_rate, momentum=momentum)), "sm3")
yogi = _wrap_optax(optax.yogi, "yogi")
