"""Loading and saving meta-parameters in the reference implementation's checkpoint format.

The reference writes a learned optimizer's meta-parameters as a
`ParameterCheckpoint(params=θ, gen_id, step)` serialised with flax
(`flax_msgpack.py`); the published VeLO weights are such a file. These
functions read and write that format and convert θ with `from_reference`.
"""

import os
from collections.abc import Mapping

import lopt_architectures as la

from lopt_pretrained.flax_msgpack import CheckpointFormatError, read_flax_msgpack, write_flax_msgpack
from lopt_pretrained.reference import from_reference, to_reference

#: The fields of the reference's ParameterCheckpoint.
_CHECKPOINT_FIELDS = {"params", "gen_id", "step"}


def load_reference_checkpoint(
    path: str | os.PathLike, arch: str, *, lopt: la.LearnedOptimizer | None = None
) -> dict:
    """Our meta-parameters for `arch` from a reference checkpoint file at `path`.

    Accepts a `ParameterCheckpoint` (the format of the published weights) or
    a bare serialised meta-parameter tree.

    Raises:
      FileNotFoundError: no file at `path`.
      CheckpointFormatError: truncated, corrupt or foreign file, or a file
        whose tree is not `arch`'s (the message names the file and the leaf).
    """
    tree = read_flax_msgpack(path)
    if _CHECKPOINT_FIELDS <= set(tree):
        tree = tree["params"]
    if not isinstance(tree, Mapping):
        raise CheckpointFormatError(f"{os.fspath(path)}: its 'params' entry is not a tree of arrays.")
    try:
        return from_reference(arch, tree, lopt=lopt)
    except ValueError as e:
        raise CheckpointFormatError(f"{os.fspath(path)}: does not hold {arch} meta-parameters: {e}") from None


def save_reference_checkpoint(
    path: str | os.PathLike, arch: str, theta: Mapping, *, lopt: la.LearnedOptimizer | None = None,
    step: int = 0, gen_id: str = "",
) -> None:
    """Writes θ as the reference's `ParameterCheckpoint` (atomically), loadable by either implementation."""
    write_flax_msgpack(path, {"params": to_reference(arch, theta, lopt=lopt), "gen_id": gen_id, "step": step})
