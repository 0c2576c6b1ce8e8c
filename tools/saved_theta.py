"""The meta-parameters a tool flag names: a saved θ directory, or pretrained:<registry entry>.

`tools/meta_train --init_theta` and `tools/select_checkpoint --theta_dirs` accept the same two forms;
this is their one reader, so the forms cannot drift apart.
"""

import lopt_es
import lopt_pretrained

PRETRAINED = "pretrained:"


class SavedThetaError(ValueError):
    """The source names no readable θ; the message says why (without the source, which callers add)."""


def load(source: str) -> tuple:
    """(architecture, θ, meta-training step) of `source`; a registry entry's step is 0.

    Raises:
      SavedThetaError: an unknown entry, a missing directory, or a damaged file.
    """
    if source.startswith(PRETRAINED):
        try:
            lopt, theta, _ = lopt_pretrained.load(source[len(PRETRAINED):])
        except (lopt_pretrained.UnknownPretrainedError, lopt_pretrained.CheckpointFormatError) as e:
            raise SavedThetaError(str(e)) from None
        return lopt, theta, 0
    try:
        lopt, theta, _ = lopt_es.load_meta_params(source)
        step = lopt_es.checkpoint.list_steps(source)[-1]
    except (lopt_es.CheckpointError, OSError) as e:
        raise SavedThetaError(str(e)) from None
    return lopt, theta, step


def is_registry_entry(source: str) -> bool:
    return source.startswith(PRETRAINED)
