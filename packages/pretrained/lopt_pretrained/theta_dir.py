"""Meta-parameters saved by meta-training (`tools/meta_train`'s `<workdir>/theta/`), read without lopt-es.

`lopt_es.save_meta_params` writes θ as a checkpoint in the format
"lopt-es-checkpoint/1": per saved step, `step_<s>.npz` (the leaves, named
`leaf_0`, `leaf_1`, … in key-path order) and `step_<s>.json` (format, step,
the data file's SHA-256, every leaf's key path, shape and dtype, and metadata
naming the architecture, its configuration and the meta-training horizons:
`inner_length`, and `min_inner_length` when runs had many lengths). This
module only reads that format, so that `lopt-pretrained`, which does not
depend on the meta-training packages, can load what they save; the writer
stays `lopt_es.checkpoint`. The file is checked as a registry entry's is
(`registry.theta_from_arrays`): its hash, then every leaf against a freshly
initialised θ of the configuration it names.
"""

import hashlib
import io
import json
import os
import re

import jax.numpy as jnp
import numpy as np

from lopt_pretrained.flax_msgpack import CheckpointFormatError
from lopt_pretrained.registry import ORIGIN_LOPT, Pretrained, learned_optimizer, theta_from_arrays

FORMAT = "lopt-es-checkpoint/1"
_MANIFEST = re.compile(r"^step_(\d+)\.json$")


def saved_steps(directory: str | os.PathLike) -> list[int]:
    """Meta-training steps with a saved θ in `directory`, oldest first (empty if it holds none)."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(m.group(1)) for m in map(_MANIFEST.match, os.listdir(directory)) if m)


def theta_directory(path: str | os.PathLike) -> str | None:
    """The θ directory `path` names — itself, or the `theta/` of a meta-training workdir — or None."""
    for candidate in (os.fspath(path), os.path.join(os.fspath(path), "theta")):
        if saved_steps(candidate):
            return candidate
    return None


def _stored(value: np.ndarray, dtype: str) -> np.ndarray:
    """Dtypes numpy cannot save (bfloat16, ...) are stored as unsigned integers of their width."""
    return value if value.dtype.name == dtype else value.view(jnp.dtype(dtype))


def load_theta_dir(directory: str | os.PathLike, step: int | None = None) -> Pretrained:
    """(learned optimizer, θ, info) saved in `directory` at `step` (default: the newest).

    `info` has the fields of a registry entry that describe θ: name (the
    directory), origin "lopt", lopt, config, inner_length, `training`
    (with `inner_lengths` [shortest, longest] when meta-trained on runs of
    many lengths) and the checkpoint's metadata as `metadata`.

    Raises:
      CheckpointFormatError: no saved θ, or a file that is unreadable, altered, or does not fit the
        architecture its manifest names (the message names the file and, for a leaf, the leaf).
    """
    directory = os.fspath(directory)
    steps = saved_steps(directory)
    if not steps:
        raise CheckpointFormatError(f"{directory}: no saved meta-parameters (step_<s>.json and step_<s>.npz).")
    step = steps[-1] if step is None else step
    manifest_path = os.path.join(directory, f"step_{step}.json")
    data_path = os.path.join(directory, f"step_{step}.npz")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
        with open(data_path, "rb") as f:
            data = f.read()
    except (OSError, ValueError) as e:
        raise CheckpointFormatError(f"{manifest_path}: unreadable saved θ ({e}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise CheckpointFormatError(f"{manifest_path}: format {found!r}, expected {FORMAT!r}.")
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise CheckpointFormatError(f"{data_path}: contents do not match the manifest's checksum (truncated or "
                                    "altered).")
    metadata = manifest.get("metadata", {})
    if "lopt" not in metadata:
        raise CheckpointFormatError(f"{manifest_path}: the checkpoint does not name a learned optimizer.")
    lopt = learned_optimizer(manifest_path, metadata["lopt"], metadata.get("config", {}))
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {leaf["path"]: _stored(stored[f"leaf_{i}"], leaf["dtype"])
                      for i, leaf in enumerate(manifest.get("leaves", []))}
    except (KeyError, TypeError, ValueError) as e:  # the manifest and the data disagree: written wrongly
        raise CheckpointFormatError(f"{data_path}: does not hold the leaves its manifest lists ({e}).") from None
    theta = theta_from_arrays(manifest_path, lopt, arrays)
    training = {"outer_steps": int(manifest.get("step", step))}
    if metadata.get("min_inner_length"):
        training["inner_lengths"] = [metadata["min_inner_length"], metadata.get("inner_length")]
    info = {"name": directory, "origin": ORIGIN_LOPT, "lopt": lopt.name, "config": metadata.get("config", {}),
            "inner_length": metadata.get("inner_length"), "training": training, "metadata": metadata}
    return Pretrained(lopt, theta, info)
