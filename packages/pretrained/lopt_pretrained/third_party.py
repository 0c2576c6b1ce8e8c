"""Learned optimizers meta-trained by others, as optax drop-ins: Celo, Celo-Adam (shipped) and Celo2 (a path).

    tx = lopt_pretrained.pretrained_optax("celo", num_training_steps=5_000)
    tx = lopt_pretrained.celo2_optax(weights="/path/to/celo2/theta.state", learning_rate=1e-3)
    updates, state = tx.update(grads, state, params, loss=loss)

Celo's and Celo-Adam's released weights are registry entries (`celo`,
`celo_adam`, with their MIT licence, source and SHA-256); Celo2's are
published outside the repository that this package can ship from, so its
loader takes a path and, without one, says which file it looked for, where,
and where to get it.
"""

import os
from collections.abc import Callable, Mapping

import jax
import lopt_architectures as la
import optax

from lopt_pretrained import drop_in
from lopt_pretrained.checkpoints import load_reference_checkpoint

#: Environment variable naming Celo2's weights file.
CELO2_WEIGHTS_ENV = "LOPT_CELO2_WEIGHTS"
#: Where Celo2's weights come from.
CELO2_WEIGHTS_SOURCE = (
    "the Celo2 authors' release (Moudgil et al., ICLR 2026; the flax-serialised 'theta.state' of the "
    "'celo2' optimizer, linked from the amoudgl/celo repository on GitHub)"
)


def default_celo2_weights_paths() -> list[str]:
    """Where `celo2_optax` looks for Celo2's weights when none are given, in order."""
    paths = []
    if os.environ.get(CELO2_WEIGHTS_ENV):
        paths.append(os.environ[CELO2_WEIGHTS_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    paths.append(os.path.join(cache, "lopt", "celo2", "theta.state"))
    return paths


def load_celo2_weights(weights: str | os.PathLike | Mapping | None = None, *, lopt: la.Celo2 | None = None) -> dict:
    """Celo2's meta-parameters from `weights` (a file, our θ, or None: `default_celo2_weights_paths()`).

    Raises:
      FileNotFoundError: no weights file; the message names the file, where it was looked for and where to get it.
      CheckpointFormatError: a file that is not Celo2's weights.
    """
    if isinstance(weights, Mapping):
        return dict(weights)
    if weights is not None:
        if not os.path.exists(weights):
            raise FileNotFoundError(f"celo2: no Celo2 weights file at {os.fspath(weights)}.")
        return load_reference_checkpoint(weights, "celo2", lopt=lopt)
    searched = default_celo2_weights_paths()
    for path in searched:
        if os.path.exists(path):
            return load_reference_checkpoint(path, "celo2", lopt=lopt)
    raise FileNotFoundError(
        f"celo2: Celo2's weights (file 'theta.state') were not found; looked in: {', '.join(searched)}. "
        f"They are not shipped with lopt: get them from {CELO2_WEIGHTS_SOURCE} on a machine with internet "
        f"access and pass weights='/path/to/theta.state', set {CELO2_WEIGHTS_ENV}=/path/to/theta.state, "
        f"or copy the file to {searched[-1]}."
    )


def celo2_optax(
    weights: str | os.PathLike | Mapping | None = None,
    learning_rate: float | Callable[[jax.Array], jax.Array] = 1e-3,
    weight_decay: float = 0.0,
    **config,
) -> optax.GradientTransformationExtraArgs:
    """Celo2 as an optax transformation; `learning_rate` may be an optax schedule (Celo2 has no learned one).

    `config` overrides other `lopt_architectures.Celo2` settings (e.g.
    `adam_pattern`, which leaves get the hand-designed Adam rule).
    """
    lopt = la.celo2(learning_rate=learning_rate, weight_decay=weight_decay, **config)
    return la.as_optax(lopt.optimizer(load_celo2_weights(weights, lopt=lopt)), num_steps=1)


def pretrained_optax(
    name_or_path: str | os.PathLike,
    num_training_steps: int,
    *,
    weight_decay: float = 0.0,
    key: jax.Array | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Any registry entry (by name, or an entry directory) as an optax transformation: `lopt_pretrained.optax`.

    The loss goes in as an extra argument: `tx.update(grads, state, params,
    loss=loss)`. `weight_decay` adds wd·φ to the gradients and wd·Σφ² to the
    loss the optimizer sees (as Celo's and VeLO's releases do). Kept for the
    code written against it; `optax` also takes θ directories, weights files
    and `strict`.
    """
    return drop_in.optax(name_or_path, num_training_steps, weight_decay=weight_decay, key=key)


def celo_optax(num_training_steps: int, weight_decay: float = 0.0) -> optax.GradientTransformationExtraArgs:
    """Celo with its released weights (registry entry `celo`) as an optax transformation."""
    return pretrained_optax("celo", num_training_steps, weight_decay=weight_decay)


def celo_adam_optax(num_training_steps: int, weight_decay: float = 0.0) -> optax.GradientTransformationExtraArgs:
    """Celo-Adam with its released weights (registry entry `celo_adam`) as an optax transformation."""
    return pretrained_optax("celo_adam", num_training_steps, weight_decay=weight_decay)
