"""VeLO as a one-line optax drop-in, like the reference's `prefab.optax_lopt`.

    tx = lopt_pretrained.velo_optax(num_training_steps=10_000, weights="/path/to/params")
    updates, state = tx.update(grads, state, params, loss=loss)

Runs longer than the 150k steps VeLO was meta-trained for average gradients
over ⌈T / 150k⌉ steps per update (the reference's `GradientAccumulator`);
optional weight decay adds wd·φ to the gradients and wd·Σφ² to the loss VeLO
sees (its `WeightDecayWrapper`).
"""

import os
from collections.abc import Mapping

import jax
import optax

from lopt_pretrained import drop_in
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


def load_velo_weights(weights: str | os.PathLike | Mapping | None = None) -> dict:
    """VeLO's meta-parameters from `weights` (a reference-format file, our θ, or None: `default_velo_weights_paths()`).

    Raises:
      FileNotFoundError: no weights file; the message names the file, where it was looked for and where to get it.
      CheckpointFormatError: a file that is not VeLO's weights.
    """
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
    """VeLO for a `num_training_steps`-step run as an optax transformation: `lopt_pretrained.optax` on its weights.

    Args:
      num_training_steps: the planned length of training (VeLO's features
        depend on the fraction of it done).
      weights: a reference-format checkpoint file, our meta-parameters, or
        None to look in `default_velo_weights_paths()`.
      weight_decay: added as wd·φ to the gradients (0 disables it).
      max_training_steps: longest run without gradient accumulation.
      key: PRNG key (VeLO does not use randomness; kept for the interface).
    """
    return drop_in.optax(load_velo_weights(weights), num_training_steps, architecture="velo",
                         weight_decay=weight_decay, max_training_steps=max_training_steps, key=key)
