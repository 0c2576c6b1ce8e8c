"""The meta-parameters a tool flag names: a saved θ directory, or pretrained:<registry entry>.

`tools/meta_train --init_theta`, `tools/select_checkpoint --theta_dirs` and `tools/evaluate --optimizer`
(`checkpoint:<dir>`, `pretrained:<name>`) accept the same two forms; this is their one reader, so the forms cannot
drift apart. A directory is read by `lopt_architectures.load_theta` (the one format, or the older one), an entry
by `lopt_pretrained.load`; neither needs lopt-es.
"""

from typing import Any, NamedTuple

import lopt_architectures as la
import lopt_pretrained

PRETRAINED = "pretrained:"

#: The source names no readable θ; the message says why (without the source, which callers add). The one error
#: type of a saved θ that cannot be read, `lopt_architectures.CheckpointFormatError`.
SavedThetaError = la.CheckpointFormatError


class Saved(NamedTuple):
    """What a source holds: the architecture, θ, the meta-training step (a registry entry's is 0), and its record
    (the saved θ's metadata, or the entry's info)."""

    lopt: la.LearnedOptimizer
    theta: Any
    step: int
    info: dict


def read(source: str) -> Saved:
    """The architecture, θ, step and record of `source`.

    Raises:
      SavedThetaError: an unknown entry, a missing directory, or a damaged file.
    """
    if source.startswith(PRETRAINED):
        try:
            lopt, theta, info = lopt_pretrained.load(source[len(PRETRAINED):])
        except lopt_pretrained.UnknownPretrainedError as e:
            raise SavedThetaError(str(e)) from None
        return Saved(lopt, theta, 0, info)
    try:
        lopt, theta, metadata = la.load_theta(source)
    except OSError as e:
        raise SavedThetaError(str(e)) from None
    return Saved(lopt, theta, int(metadata.get("step", 0)), metadata)


def load(source: str) -> tuple:
    """(architecture, θ, meta-training step) of `source`; a registry entry's step is 0.

    Raises:
      SavedThetaError: an unknown entry, a missing directory, or a damaged file.
    """
    return read(source)[:3]


def is_registry_entry(source: str) -> bool:
    return source.startswith(PRETRAINED)
