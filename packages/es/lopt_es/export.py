"""Saving a learned optimizer's meta-parameters with its architecture, for evaluation and sharing.

`save_meta_params(directory, lopt, theta, step)` writes a checkpoint
(`checkpoint.py`: atomic, verified) whose metadata names the architecture and
its configuration; `load_meta_params(directory)` rebuilds the learned
optimizer from that metadata and restores θ against it, so a file cannot be
loaded into the wrong architecture.
"""

from typing import Any

import jax
import lopt_architectures as la

from lopt_es import checkpoint


def save_meta_params(directory: str, lopt: la.LearnedOptimizer, theta: Any, step: int = 0, **extra) -> str:
    """Writes θ and the architecture (name and configuration) to `directory`; returns the manifest path."""
    metadata = {"lopt": lopt.name, "config": la.config_of(lopt), **extra}
    return checkpoint.save(directory, step, theta, metadata, keep=1)


def load_meta_params(directory: str, step: int | None = None) -> tuple[la.LearnedOptimizer, Any, dict]:
    """(learned optimizer, θ, metadata) saved by `save_meta_params` in `directory`.

    Raises:
      checkpoint.CheckpointError: no, a corrupt, or an inconsistent file.
    """
    if not checkpoint.list_steps(directory):
        raise checkpoint.CheckpointError(f"no saved meta-parameters in {directory}.")
    step, metadata = checkpoint.read_metadata(directory, step)
    if "lopt" not in metadata:
        raise checkpoint.CheckpointError(f"{directory}: the checkpoint does not name a learned optimizer.")
    try:
        lopt = la.from_config(metadata["lopt"], metadata["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise checkpoint.CheckpointError(
            f"{directory}: cannot rebuild learned optimizer {metadata['lopt']!r}: {e}") from None
    template = jax.eval_shape(lopt.init_meta_params, jax.random.PRNGKey(0))
    template = jax.tree_util.tree_map(lambda s: jax.numpy.zeros(s.shape, s.dtype), template)
    theta, _, metadata = checkpoint.restore(directory, template, step)
    return lopt, theta, metadata
