"""Atomic, verified checkpoints of a pytree of arrays.

A checkpoint of step s is two files in one directory: `step_<s>.npz` (the
leaves) and `step_<s>.json` (a manifest: format version, step, every leaf's
key path, shape and dtype, the data file's SHA-256, and free-form metadata).
Both are written to temporary names and renamed into place, the manifest
last, so a crash leaves either a whole checkpoint or none. Loading takes a
*template* (a freshly initialised tree of the same configuration) and checks
the file against it: a truncated or altered file, or one written by another
configuration, raises `CheckpointError` naming the file and the leaf, and
nothing is overwritten. Restoring the newest checkpoint skips damaged ones
(`DamagedCheckpointError`: an unreadable manifest, missing or altered data)
for the newest intact one, saying which it skipped and why; one written by
another configuration is never skipped, since older ones share its layout.

These checkpoints hold the state meta-training resumes from. A learned
optimizer's θ with its architecture, for evaluation and sharing, is saved by
`lopt_architectures.save_theta` in the registry's format (θ directories
written before that, in this format, still load there).
"""

import hashlib
import io
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from lopt_architectures.saved_theta import CheckpointFormatError, atomic_write, read_step_files, step_files

FORMAT = "lopt-es-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, incomplete, or for another configuration."""


class DamagedCheckpointError(CheckpointError):
    """A checkpoint whose files are unreadable, missing or altered (an older one may still be intact)."""


def _leaves(tree: Any) -> list[tuple[str, np.ndarray]]:
    return [(jax.tree_util.keystr(p), np.asarray(x)) for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _storable(x: np.ndarray) -> np.ndarray:
    """Dtypes numpy cannot save natively (bfloat16, ...) are stored as unsigned integers of their width."""
    return x if x.dtype.isbuiltin else x.view(f"u{x.dtype.itemsize}")


def _from_stored(x: np.ndarray, dtype: str) -> np.ndarray:
    return x if x.dtype.name == dtype else x.view(jax.numpy.dtype(dtype))


def save(directory: str, step: int, tree: Any, metadata: dict | None = None, keep: int = 3) -> str:
    """Writes the checkpoint of `step` and removes all but the newest `keep`. Returns the manifest path."""
    os.makedirs(directory, exist_ok=True)
    leaves = _leaves(tree)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"leaf_{i}": _storable(x) for i, (_, x) in enumerate(leaves)})
    data = buffer.getvalue()
    atomic_write(os.path.join(directory, f"step_{step}.npz"), data)
    manifest = {
        "format": FORMAT,
        "step": int(step),
        "sha256": hashlib.sha256(data).hexdigest(),
        "leaves": [{"path": p, "shape": list(x.shape), "dtype": str(x.dtype)} for p, x in leaves],
        "metadata": metadata or {},
    }
    manifest_path = os.path.join(directory, f"step_{step}.json")
    atomic_write(manifest_path, json.dumps(manifest, indent=1).encode())
    for old in list_steps(directory)[:-keep] if keep > 0 else []:
        for ext in ("json", "npz"):
            path = os.path.join(directory, f"step_{old}.{ext}")
            if os.path.exists(path):
                os.unlink(path)
    return manifest_path


def list_steps(directory: str) -> list[int]:
    """Steps with a manifest in `directory`, oldest first."""
    return step_files(directory)


def _read_verified(directory: str, step: int) -> tuple[dict, bytes]:
    """(manifest, data) of the checkpoint of `step`; `DamagedCheckpointError` if either is unusable."""
    try:
        return read_step_files(directory, step, FORMAT)
    except CheckpointFormatError as e:
        raise DamagedCheckpointError(str(e)) from None


def _newest_intact(directory: str, on_skip: Callable[[str], None]) -> tuple[dict, bytes]:
    """(manifest, data) of the newest checkpoint that verifies; each damaged newer one is reported to `on_skip`."""
    steps = list_steps(directory)
    if not steps:
        raise CheckpointError(f"no checkpoint in {directory}.")
    skipped = []
    for step in reversed(steps):
        try:
            found = _read_verified(directory, step)
        except DamagedCheckpointError as e:
            skipped.append((step, str(e)))
            continue
        for damaged, reason in skipped:
            on_skip(f"skipped the damaged checkpoint of step {damaged} for the intact one of step {step}: {reason}")
        return found
    raise DamagedCheckpointError(f"no intact checkpoint in {directory}: " + " ".join(r for _, r in skipped))


def read_metadata(directory: str, step: int | None = None) -> tuple[int, dict]:
    """(step, metadata) of the checkpoint of `step` (default: the newest intact one), without a template."""
    if step is None:
        manifest, _ = _newest_intact(directory, logging.getLogger(__name__).warning)
    elif step not in list_steps(directory):
        raise CheckpointError(f"no checkpoint of step {step} in {directory}.")
    else:
        manifest, _ = _read_verified(directory, step)
    return int(manifest["step"]), manifest.get("metadata", {})


def restore(directory: str, template: Any, step: int | None = None, *,
            on_skip: Callable[[str], None] | None = None, added_fields: tuple[str, ...] = ()) -> tuple[Any, int, dict]:
    """(tree, step, metadata) of the checkpoint of `step`, shaped like `template`.

    Without `step`: the newest intact checkpoint. A damaged newer one (what a
    crash or a full disk can leave, despite the atomic writes) is skipped and
    reported to `on_skip(message)` (default: a logged warning); if none is
    intact, `DamagedCheckpointError` lists why each was refused.

    `added_fields` names NamedTuple fields added to a state after older
    checkpoints were written (e.g. "skipped_steps"): a leaf of the template
    whose path ends in one of them may be absent from the file, and then keeps
    the template's value; every other leaf must match.
    """
    if step is None:
        manifest, data = _newest_intact(directory, on_skip or logging.getLogger(__name__).warning)
        step = int(manifest["step"])
    elif step not in list_steps(directory):
        raise CheckpointError(f"no checkpoint of step {step} in {directory}.")
    else:
        manifest, data = _read_verified(directory, step)
    manifest_path = os.path.join(directory, f"step_{step}.json")
    expected = _leaves(template)
    stored = manifest["leaves"]
    stored_paths = [leaf["path"] for leaf in stored]
    in_file = set(stored_paths)
    added = {p for p, _ in expected if p not in in_file and p.endswith(tuple(f".{f}" for f in added_fields))}
    if [p for p, _ in expected if p not in added] != stored_paths:
        missing = sorted({p for p, _ in expected} - in_file - added)
        extra = sorted(in_file - {p for p, _ in expected})
        raise CheckpointError(
            f"{manifest_path}: written by another configuration; missing leaves {missing[:5]}, "
            f"unexpected leaves {extra[:5]}."
        )
    with np.load(io.BytesIO(data)) as arrays:
        from_file = iter(_from_stored(arrays[f"leaf_{i}"], leaf["dtype"]) for i, leaf in enumerate(stored))
        values = [x if path in added else next(from_file) for path, x in expected]
    for (path, want), got in zip(expected, values):
        if want.shape != got.shape or want.dtype != got.dtype:
            raise CheckpointError(
                f"{manifest_path}: leaf {path} has shape {got.shape} and dtype {got.dtype}; this configuration "
                f"expects {want.shape} and {want.dtype}."
            )
    treedef = jax.tree_util.tree_structure(template)
    kinds = [isinstance(x, np.ndarray) for x in jax.tree_util.tree_leaves(template)]
    leaves = [v if is_numpy else jax.numpy.asarray(v) for v, is_numpy in zip(values, kinds)]
    return treedef.unflatten(leaves), int(manifest["step"]), manifest.get("metadata", {})
