"""Meta-parameters saved by meta-training (`tools/meta_train`'s `<workdir>/theta/`), read without lopt-es.

Meta-training saves θ with `lopt_architectures.save_theta` (the format of a
registry entry, without a name; older runs wrote "lopt-es-checkpoint/1"
directories, which `lopt_architectures.load_theta` still reads). This module
finds that directory — the one named, or the `theta/` of a workdir — and
describes what it records as a registry entry's fields
(`registry.saved_theta_info`), so that `lopt_pretrained.optax` and
`horizons` take it like an entry.
"""

import os

from lopt_architectures import saved_theta

from lopt_pretrained.registry import Pretrained, saved_theta_info


def saved_steps(directory: str | os.PathLike) -> list[int]:
    """Meta-training steps with a saved θ in `directory`, oldest first (empty if it holds none)."""
    return saved_theta.saved_steps(directory)


def theta_directory(path: str | os.PathLike) -> str | None:
    """The θ directory `path` names — itself, or the `theta/` of a meta-training workdir — or None."""
    for candidate in (os.fspath(path), os.path.join(os.fspath(path), "theta")):
        if os.path.isfile(os.path.join(candidate, saved_theta.MANIFEST_FILE)) or saved_steps(candidate):
            return candidate
    return None


def load_theta_dir(directory: str | os.PathLike, step: int | None = None) -> Pretrained:
    """(learned optimizer, θ, info) saved in `directory` at `step` (default: the newest).

    `info` has the fields of a registry entry that describe θ: name (the
    directory), origin "lopt", lopt, config, inner_length, `training`
    (with `inner_lengths` [shortest, longest] when meta-trained on runs of
    many lengths) and all the saved θ records as `metadata`.

    Raises:
      CheckpointFormatError: no saved θ, or a file that is unreadable, altered, or does not fit the
        architecture its manifest names (the message names the file and, for a leaf, the leaf).
    """
    directory = os.fspath(directory)
    lopt, theta, metadata = saved_theta.load_theta(directory, step)
    return Pretrained(lopt, theta, saved_theta_info(directory, metadata))
