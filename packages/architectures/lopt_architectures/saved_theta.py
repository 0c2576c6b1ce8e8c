"""A learned optimizer's meta-parameters θ saved with its architecture: one format, one writer, one reader.

    la.save_theta("runs/pes/theta", lopt, theta, step=1750, tasks="task digits_mlp")
    lopt, theta, metadata = la.load_theta("runs/pes/theta")   # metadata["step"] == 1750

A saved θ is a directory of two files:

- `theta.npz`: one array per leaf of θ, named by its key path
  (`jax.tree_util.keystr`, e.g. "['mlp']['w0']");
- `entry.json`: the format ("lopt-pretrained/1"), the architecture (`lopt`, a
  `LEARNED` name) and its configuration (`config_of`), `weights` (the file's
  name and SHA-256, the number of meta-parameters, every leaf's key path,
  shape and dtype), then whatever the writer adds: the meta-training `step`,
  the tasks and command, or a registry entry's name, training record and
  evaluation.

It is the format of `lopt_pretrained`'s registry, whose entries are saved θ
with more metadata; it lives here because meta-training (`lopt_es`,
`tools/meta_train`) writes it and `lopt_pretrained` and the tools read it, and
this is the one package they all depend on. Both files are written
atomically, the weights first, so a crash never leaves a manifest naming
missing or partial weights. Loading rebuilds the architecture the manifest
names and checks the weights' hash and every leaf against a freshly
initialised θ of it, so a file that was altered, truncated or written for
another configuration raises `CheckpointFormatError` naming the file and the
leaf instead of loading wrong numbers.

Directories written before this format (by `lopt_es.save_meta_params`, format
"lopt-es-checkpoint/1": `step_<s>.json`, a hashed manifest whose metadata
names the architecture, and `step_<s>.npz`, the leaves as `leaf_0`,
`leaf_1`, … in key-path order) still load, as they loaded then: the newest
intact step (a damaged newer one is skipped with a logged warning) or a named
one.
"""

import hashlib
import io
import json
import logging
import os
import re
import tempfile
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lopt_architectures.base import LearnedOptimizer
from lopt_architectures.config import config_of, from_config

FORMAT = "lopt-pretrained/1"
MANIFEST_FILE = "entry.json"
WEIGHTS_FILE = "theta.npz"
LEGACY_FORMAT = "lopt-es-checkpoint/1"
_LEGACY_MANIFEST = re.compile(r"^step_(\d+)\.json$")
_LOG = logging.getLogger(__name__)


class CheckpointFormatError(ValueError):
    """Saved meta-parameters that cannot be used: missing, unreadable, altered, or not of the architecture named."""


class SavedTheta(NamedTuple):
    """A saved θ, loaded: unpacks as `lopt, theta, metadata` (metadata: the manifest's fields)."""

    lopt: LearnedOptimizer
    theta: Any
    metadata: dict


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path`, syncs it, and renames it over `path`.

    Readers see the old contents or the new ones, never a part.
    """
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _template(lopt: LearnedOptimizer) -> tuple[list[tuple[str, jax.ShapeDtypeStruct]], Any]:
    """θ's leaves as (key path, shape and dtype), and its tree structure."""
    shapes = jax.eval_shape(lopt.init_meta_params, jax.random.PRNGKey(0))
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    return [(jax.tree_util.keystr(p), s) for p, s in leaves], treedef


def theta_leaves(lopt: LearnedOptimizer, theta: Any, *, what: str = "theta_leaves") -> list[tuple[str, np.ndarray]]:
    """θ's leaves as (key path, array), checked to be exactly the leaves of `lopt`'s θ (same paths, shapes, dtypes).

    Raises:
      ValueError: a leaf of θ is not one of `lopt`'s or is mis-shaped, or θ lacks one (the message starts with `what`).
    """
    template = dict(_template(lopt)[0])
    flat = [(jax.tree_util.keystr(p), np.asarray(x)) for p, x in jax.tree_util.tree_flatten_with_path(theta)[0]]
    for key, value in flat:
        spec = template.get(key)
        if spec is None or spec.shape != value.shape or spec.dtype != value.dtype:
            raise ValueError(f"{what}: leaf {key} ({value.dtype}{list(value.shape)}) does not fit {lopt.name}.")
    if len(flat) != len(template):
        raise ValueError(f"{what}: θ has {len(flat)} leaves, {lopt.name} has {len(template)}.")
    return flat


def save_theta(directory: str | os.PathLike, lopt: LearnedOptimizer, theta: Any, step: int | None = None, *,
               name: str | None = None, **metadata) -> str:
    """Writes θ of `lopt` to `directory` (see the module docstring); returns the manifest's path.

    `step` (the meta-training step θ is from) and `name` (a registry entry's)
    are recorded when given; `metadata` (JSON-serialisable) is stored as given.

    Raises:
      ValueError: θ is not a θ of `lopt` (a leaf missing, extra or mis-shaped); nothing is written.
    """
    directory = os.fspath(directory)
    flat = theta_leaves(lopt, theta, what="save_theta")
    os.makedirs(directory, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **dict(flat))
    data = buffer.getvalue()
    atomic_write(os.path.join(directory, WEIGHTS_FILE), data)
    manifest = {
        "format": FORMAT,
        **({"name": name} if name is not None else {}),
        "lopt": lopt.name,
        "config": config_of(lopt),
        **({"step": int(step)} if step is not None else {}),
        "weights": {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(data).hexdigest(),
                    "num_meta_params": int(sum(v.size for _, v in flat)),
                    "leaves": [{"path": k, "shape": list(v.shape), "dtype": str(v.dtype)} for k, v in flat]},
        **metadata,
    }
    manifest_path = os.path.join(directory, MANIFEST_FILE)
    atomic_write(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode())
    return manifest_path


def read_manifest(directory: str | os.PathLike) -> dict:
    """The manifest (entry.json) of the θ saved in `directory`, checked for its format and fields, without the weights.

    Raises:
      CheckpointFormatError: a missing, unreadable or foreign manifest.
    """
    path = os.path.join(os.fspath(directory), MANIFEST_FILE)
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:  # ValueError: not JSON, or not UTF-8
        raise CheckpointFormatError(f"{path}: not a readable registry entry or saved θ ({e}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise CheckpointFormatError(f"{path}: format {found!r}, expected {FORMAT!r}.")
    for key in ("lopt", "config", "weights"):
        if key not in manifest:
            raise CheckpointFormatError(f"{path}: missing field {key!r}.")
    return manifest


def step_files(directory: str) -> list[int]:
    """Steps with a `step_<N>.json` manifest in `directory`, oldest first (the older θ format, and lopt_es's
    training-state checkpoints, which keep that layout)."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(m.group(1)) for m in map(_LEGACY_MANIFEST.match, os.listdir(directory)) if m)


def saved_steps(directory: str | os.PathLike) -> list[int]:
    """Meta-training steps of the θ saved in `directory`, oldest first; empty if it holds none.

    A directory in this format holds one θ (its `step`, 0 if none is recorded); an older one may hold several.
    """
    directory = os.fspath(directory)
    if os.path.isfile(os.path.join(directory, MANIFEST_FILE)):
        return [int(read_manifest(directory).get("step", 0))]
    return step_files(directory)


def load_theta(directory: str | os.PathLike, step: int | None = None) -> SavedTheta:
    """(learned optimizer, θ, metadata) saved in `directory`; `step`, if given, must be the saved one.

    Reads this format or the older one (module docstring). `metadata` is the
    manifest's fields (for the older format: its metadata and `step`).

    Raises:
      CheckpointFormatError: no saved θ, or a file that is unreadable, altered, or does not fit the
        architecture its manifest names (the message names the file and, for a leaf, the leaf).
    """
    directory = os.fspath(directory)
    if os.path.isfile(os.path.join(directory, MANIFEST_FILE)):
        return _load(directory, step)
    if step_files(directory):
        return _load_legacy(directory, step)
    raise CheckpointFormatError(f"no saved meta-parameters in {directory} ({MANIFEST_FILE} and {WEIGHTS_FILE}, or "
                                "step_<s>.json and step_<s>.npz).")


def _learned_optimizer(where: str, name: Any, config: Any) -> LearnedOptimizer:
    try:
        return from_config(name, config)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointFormatError(f"{where}: cannot rebuild learned optimizer {name!r}: {e}") from None


def _load(directory: str, step: int | None) -> SavedTheta:
    manifest = read_manifest(directory)
    if step is not None and int(manifest.get("step", 0)) != step:
        raise CheckpointFormatError(f"{directory}: holds θ of step {manifest.get('step', 0)}, not of step {step}.")
    where = f"{manifest['name']!r} ({directory})" if "name" in manifest else directory
    lopt = _learned_optimizer(where, manifest["lopt"], manifest["config"])
    weights_file = os.path.join(directory, manifest["weights"].get("file", WEIGHTS_FILE))
    try:
        with open(weights_file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointFormatError(f"{where}: cannot read the weights: {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest["weights"].get("sha256"):
        raise CheckpointFormatError(
            f"{where}: {os.path.basename(weights_file)} is corrupt (SHA-256 {digest[:12]}…, the manifest records "
            f"{str(manifest['weights'].get('sha256'))[:12]}…).")
    try:
        arrays = dict(np.load(io.BytesIO(data), allow_pickle=False))
    except Exception as e:  # a file that passed the hash but is no npz: written wrongly
        raise CheckpointFormatError(f"{where}: {os.path.basename(weights_file)} is not an npz file: {e}") from None
    return SavedTheta(lopt, theta_from_arrays(where, lopt, arrays), manifest)


def read_step_files(directory: str, step: int, format: str = LEGACY_FORMAT) -> tuple[dict, bytes]:
    """(manifest, data) of `step_<step>.json` / `.npz` in `directory`, the data checked against the manifest's
    SHA-256; `CheckpointFormatError` if either is unusable or the manifest is not of `format`."""
    manifest_path = os.path.join(directory, f"step_{step}.json")
    data_path = os.path.join(directory, f"step_{step}.npz")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointFormatError(f"{manifest_path}: unreadable manifest ({e}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != format:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise CheckpointFormatError(f"{manifest_path}: format {found!r}, expected {format!r}.")
    if not isinstance(manifest.get("leaves"), list) or "sha256" not in manifest or "step" not in manifest:
        raise CheckpointFormatError(f"{manifest_path}: incomplete manifest (no step, leaves or sha256).")
    try:
        with open(data_path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointFormatError(f"{data_path}: missing or unreadable ({e}).") from None
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise CheckpointFormatError(
            f"{data_path}: contents do not match the manifest's checksum (truncated or altered).")
    return manifest, data


def _load_legacy(directory: str, step: int | None) -> SavedTheta:
    steps = step_files(directory)
    if step is not None:
        if step not in steps:
            raise CheckpointFormatError(f"no checkpoint of step {step} in {directory}.")
        manifest, data = read_step_files(directory, step)
    else:
        skipped = []
        for candidate in reversed(steps):
            try:
                manifest, data = read_step_files(directory, candidate)
                break
            except CheckpointFormatError as e:
                skipped.append(str(e))
        else:
            raise CheckpointFormatError(f"no intact checkpoint in {directory}: " + " ".join(skipped))
        for reason in skipped:
            _LOG.warning(f"skipped a damaged saved θ for the intact one of step {manifest['step']}: {reason}")
    manifest_path = os.path.join(directory, f"step_{manifest['step']}.json")
    metadata = manifest.get("metadata", {})
    if "lopt" not in metadata:
        raise CheckpointFormatError(f"{manifest_path}: the checkpoint does not name a learned optimizer.")
    lopt = _learned_optimizer(manifest_path, metadata["lopt"], metadata.get("config", {}))
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {leaf["path"]: _from_stored(stored[f"leaf_{i}"], leaf["dtype"])
                      for i, leaf in enumerate(manifest["leaves"])}
    except (KeyError, TypeError, ValueError) as e:  # the manifest and the data disagree: written wrongly
        raise CheckpointFormatError(f"{manifest_path}: the data does not hold the leaves it lists ({e}).") from None
    return SavedTheta(lopt, theta_from_arrays(manifest_path, lopt, arrays), {**metadata, "step": int(manifest["step"])})


def _from_stored(value: np.ndarray, dtype: str) -> np.ndarray:
    """The older format stored dtypes numpy cannot save (bfloat16, ...) as unsigned integers of their width."""
    return value if value.dtype.name == dtype else value.view(jnp.dtype(dtype))


def theta_from_arrays(where: str, lopt: LearnedOptimizer, arrays: dict[str, np.ndarray]) -> Any:
    """θ of `lopt` from arrays named by key path, each checked against a freshly initialised θ.

    Raises:
      CheckpointFormatError: a leaf missing, extra, mis-shaped or non-finite (the message starts with `where`).
    """
    template, treedef = _template(lopt)
    expected = {p for p, _ in template}
    extra = sorted(set(arrays) - expected)
    if extra:
        raise CheckpointFormatError(f"{where}: leaf {extra[0]} is not a meta-parameter of {lopt.name} "
                                    f"with this configuration.")
    leaves = []
    for key, spec in template:
        if key not in arrays:
            raise CheckpointFormatError(f"{where}: missing leaf {key} of {lopt.name}.")
        value = arrays[key]
        if value.shape != spec.shape or value.dtype != spec.dtype:
            raise CheckpointFormatError(f"{where}: leaf {key} is {value.dtype}{list(value.shape)}, "
                                        f"{lopt.name} needs {spec.dtype}{list(spec.shape)}.")
        if not np.all(np.isfinite(value)):
            raise CheckpointFormatError(f"{where}: leaf {key} has non-finite values.")
        leaves.append(jnp.asarray(value))
    return jax.tree_util.tree_unflatten(treedef, leaves)
