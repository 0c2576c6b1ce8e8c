"""VeLO as a one-line optax drop-in, like the reference's `prefab.optax_lopt`.

    tx = lopt_pretrained.velo_optax(num_training_steps=10_000, weights="/path/to/params")
    updates, state = tx.update(grads, state, params, loss=loss)

Runs longer than the 150k steps VeLO was meta-trained for average gradients
over ⌈T / 150k⌉ steps per update (the reference's `GradientAccumulator`);
optional weight decay adds wd·φ to the gradients and wd·Σφ² to the loss VeLO
sees (its `WeightDecayWrapper`).
"""

import math
import os
from collections.abc import Mapping

import jax
import lopt_architectures as la
import optax

from lopt_pretrained.checkpoints import load_reference_checkpoint

#: The released VeLO checkpoint (`research/general_lopt/prefab.py` in the reference).
VELO_CHECKPOINT = "aug12_continue_on_bigger_2xbs_200kstep_bigproblem_v2_5620"
VELO_WEIGHTS_URL = (
    "https://storage.googleapis.com/gresearch/learned_optimization/pretrained_lopts/" f"{VELO_CHECKPOINT}/params"
)
#: Environment variable naming the weights file.
VELO_WEIGHTS_ENV = "LOPT_VELO_WEIGHTS"


def default_velo_weights_paths() -> list[str]:
    """Where `velo_optax` looks for the published weights when none are given, in order."""
    paths = []
    if os.environ.get(VELO_WEIGHTS_ENV):
        paths.append(os.environ[VELO_WEIGHTS_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    paths.append(os.path.join(cache, "lopt", "velo", VELO_CHECKPOINT, "params"))
    return paths


def _resolve_weights(weights) -> dict:
    if isinstance(weights, Mapping):
        return dict(weights)
    if weights is not None:
        if not os.path.exists(weights):
            raise FileNotFoundError(f"velo_optax: no VeLO weights file at {os.fspath(weights)}.")
        return load_reference_checkpoint(weights, "velo")
    searched = default_velo_weights_paths()
    for path in searched:
        if os.path.exists(path):
            return load_reference_checkpoint(path, "velo")
    raise FileNotFoundError(
        f"velo_optax: the published VeLO weights (file 'params' of checkpoint {VELO_CHECKPOINT}) were not found; "
        f"looked in: {', '.join(searched)}. Download {VELO_WEIGHTS_URL} on a machine with internet access and "
        f"pass weights='/path/to/params', set {VELO_WEIGHTS_ENV}=/path/to/params, or copy it to {searched[-1]}."
    )


def velo_optax(
    num_training_steps: int,
    weights: str | os.PathLike | Mapping | None = None,
    weight_decay: float = 0.0,
    *,
    max_training_steps: int = 150_000,
    key: jax.Array | None = None,
) -> optax.GradientTransformationExtraArgs:
    """An optax transformation running VeLO for a `num_training_steps`-step run.

    Args:
      num_training_steps: the planned length of training (VeLO's features
        depend on the fraction of it done).
      weights: a reference-format checkpoint file, our meta-parameters, or
        None to look in `default_velo_weights_paths()`.
      weight_decay: added as wd·φ to the gradients (0 disables it).
      max_training_steps: longest run without gradient accumulation.
      key: PRNG key (VeLO does not use randomness; kept for the interface).
    """
    if num_training_steps < 1:
        raise ValueError(f"velo_optax: num_training_steps must be positive, got {num_training_steps}.")
    opt = la.velo().optimizer(_resolve_weights(weights))
    if num_training_steps > max_training_steps:
        opt = la.gradient_accumulation(opt, math.ceil(num_training_steps / max_training_steps))
    if weight_decay > 0.0:
        opt = la.weight_decay(opt, weight_decay)
    return la.as_optax(opt, num_steps=num_training_steps, key=key)
