"""Atomic, verified checkpoints of a pytree of arrays.

A checkpoint of step s is two files in one directory: `step_<s>.npz` (the
leaves) and `step_<s>.json` (a manifest: format version, step, every leaf's
key path, shape and dtype, the data file's SHA-256, and free-form metadata).
Both are written to temporary names and renamed into place, the manifest
last, so a crash leaves either a whole checkpoint or none. Loading takes a
*template* (a freshly initialised tree of the same configuration) and checks
the file against it: a truncated or altered file, or one written by another
configuration, raises `CheckpointError` naming the file and the leaf, and
nothing is overwritten.
"""

import hashlib
import io
import json
import os
import re
import tempfile
from typing import Any

import jax
import numpy as np

FORMAT = "lopt-es-checkpoint/1"
_NAME = re.compile(r"^step_(\d+)\.json$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, incomplete, or for another configuration."""


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    _atomic_write(os.path.join(directory, f"step_{step}.npz"), data)
    manifest = {
        "format": FORMAT,
        "step": int(step),
        "sha256": hashlib.sha256(data).hexdigest(),
        "leaves": [{"path": p, "shape": list(x.shape), "dtype": str(x.dtype)} for p, x in leaves],
        "metadata": metadata or {},
    }
    manifest_path = os.path.join(directory, f"step_{step}.json")
    _atomic_write(manifest_path, json.dumps(manifest, indent=1).encode())
    for old in list_steps(directory)[:-keep] if keep > 0 else []:
        for ext in ("json", "npz"):
            path = os.path.join(directory, f"step_{old}.{ext}")
            if os.path.exists(path):
                os.unlink(path)
    return manifest_path


def list_steps(directory: str) -> list[int]:
    """Steps with a manifest in `directory`, oldest first."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(m.group(1)) for m in map(_NAME.match, os.listdir(directory)) if m)


def restore(directory: str, template: Any, step: int | None = None) -> tuple[Any, int, dict]:
    """(tree, step, metadata) of the checkpoint of `step` (default: the newest), shaped like `template`."""
    steps = list_steps(directory)
    if not steps:
        raise CheckpointError(f"no checkpoint in {directory}.")
    step = steps[-1] if step is None else step
    manifest_path = os.path.join(directory, f"step_{step}.json")
    data_path = os.path.join(directory, f"step_{step}.npz")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{manifest_path}: unreadable manifest ({e}).") from None
    if manifest.get("format") != FORMAT:
        raise CheckpointError(f"{manifest_path}: format {manifest.get('format')!r}, expected {FORMAT!r}.")
    try:
        with open(data_path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError(f"{data_path}: missing or unreadable ({e}).") from None
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise CheckpointError(f"{data_path}: contents do not match the manifest's checksum (truncated or altered).")
    expected = _leaves(template)
    stored = manifest["leaves"]
    if [p for p, _ in expected] != [leaf["path"] for leaf in stored]:
        missing = sorted({p for p, _ in expected} - {leaf["path"] for leaf in stored})
        extra = sorted({leaf["path"] for leaf in stored} - {p for p, _ in expected})
        raise CheckpointError(
            f"{manifest_path}: written by another configuration; missing leaves {missing[:5]}, "
            f"unexpected leaves {extra[:5]}."
        )
    with np.load(io.BytesIO(data)) as arrays:
        values = [_from_stored(arrays[f"leaf_{i}"], leaf["dtype"]) for i, leaf in enumerate(stored)]
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
