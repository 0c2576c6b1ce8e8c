"""A registry of learned optimizers — meta-trained with lopt, or published by others — shipped inside this package.

    import lopt_pretrained
    lopt_pretrained.names()                       # what is available
    lopt, theta, info = lopt_pretrained.load("small_fc_lopt_digits_mlp")
    opt = lopt.optimizer(theta)                   # a lopt_architectures.Optimizer
    info["training"]["command"]                   # how it was meta-trained

Each entry is a directory `entries/<name>/` holding

- `entry.json`: format, name, description, the architecture (`lopt`, a
  `lopt_architectures.LEARNED` name) and its configuration, the weight file's
  SHA-256 and every leaf's key path, shape and dtype, how θ was meta-trained
  (tasks, estimator and settings, steps, the `tools/meta_train` command, wall
  time, package versions), the meta-training horizon, and a summary of its
  evaluation;
- `theta.npz`: θ, one array per leaf, named by its key path;
- `results.json`: the `tools/evaluate` results (lopt-eval/1 schema), plots
  (`*.png`) and `meta_training.json` (the meta-training curve).

An entry meta-trained by a third party (Celo's released weights, say) has
`provenance` instead of a training record of ours: authors, paper, compute,
the source repository, commit and path, the SHA-256 of the original file,
and the licence, whose text is the entry's `LICENSE` file; its evaluation is
ours, possibly at several horizons (`results_T<steps>.json` beside
`results.json`). Both kinds load the same way; `info(name)["origin"]` tells
them apart.

Loading rebuilds the architecture from the entry and checks the file against
a freshly initialised θ of that configuration, so a file that was altered,
truncated, or written for another architecture fails with an error that
names the entry and the leaf rather than loading wrong numbers. The format
needs only numpy and JSON: `lopt-pretrained` does not depend on the
meta-training packages, and `tools/register_pretrained` writes entries from
a meta-training directory.
"""

import hashlib
import io
import json
import os
from importlib import resources
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np

from lopt_pretrained._atomic import atomic_write
from lopt_pretrained.flax_msgpack import CheckpointFormatError

FORMAT = "lopt-pretrained/1"
#: `info(name)["origin"]`: meta-trained here, with lopt (the entry holds its training record) ...
ORIGIN_LOPT = "lopt"
#: ... or by a third party (the entry holds `provenance`: who, with what compute, source, licence).
ORIGIN_THIRD_PARTY = "third_party"
ENTRY_FILE = "entry.json"
WEIGHTS_FILE = "theta.npz"


class UnknownPretrainedError(KeyError):
    """A name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


class Pretrained(NamedTuple):
    """A registry entry, loaded: unpacks as `lopt, theta, info`."""

    lopt: la.LearnedOptimizer
    theta: Any
    info: dict

    def optimizer(self) -> la.Optimizer:
        """The learned optimizer with these meta-parameters."""
        return self.lopt.optimizer(self.theta)


def registry_dir() -> str:
    """The directory of the shipped entries."""
    return str(resources.files("lopt_pretrained").joinpath("entries"))


def names(directory: str | None = None) -> list[str]:
    """Names of the entries in `directory` (default: the shipped registry), sorted."""
    directory = directory or registry_dir()
    if not os.path.isdir(directory):
        return []
    return sorted(d for d in os.listdir(directory) if os.path.isfile(os.path.join(directory, d, ENTRY_FILE)))


def _entry_dir(name: str, directory: str | None) -> str:
    known = names(directory)
    if name not in known:
        raise UnknownPretrainedError(
            f"no pretrained optimizer {name!r}; known: {', '.join(known) or '(none)'}.")
    return os.path.join(directory or registry_dir(), name)


def info(name: str, directory: str | None = None) -> dict:
    """The metadata of entry `name` (entry.json), without loading the weights.

    `info(name)["origin"]` says who meta-trained it: "lopt" (this project;
    `["training"]` has the command) or "third_party" (`["provenance"]` has
    the authors, paper, compute, source repository, commit, path and SHA-256
    of the original file, and the weights' licence).
    """
    return _read_entry(_entry_dir(name, directory))


def entry_info(path: str) -> dict:
    """The metadata of the entry in directory `path` (its entry.json), without loading the weights."""
    return _read_entry(path)


def load(name: str, directory: str | None = None) -> Pretrained:
    """(learned optimizer, θ, metadata) of entry `name`.

    Raises:
      UnknownPretrainedError: `name` is not in the registry (the message lists the known names).
      CheckpointFormatError: the entry's files are corrupt or do not fit its architecture.
    """
    return load_entry(_entry_dir(name, directory))


def _read_entry(path: str) -> dict:
    entry_file = os.path.join(path, ENTRY_FILE)
    try:
        with open(entry_file) as f:
            entry = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointFormatError(f"{entry_file}: not a readable registry entry ({e}).") from None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        found = entry.get("format") if isinstance(entry, dict) else type(entry).__name__
        raise CheckpointFormatError(f"{entry_file}: format {found!r}, expected {FORMAT!r}.")
    for key in ("name", "lopt", "config", "weights"):
        if key not in entry:
            raise CheckpointFormatError(f"{entry_file}: missing field {key!r}.")
    entry.setdefault("origin", ORIGIN_THIRD_PARTY if "provenance" in entry else ORIGIN_LOPT)
    return entry


def _template(lopt: la.LearnedOptimizer) -> tuple[list[tuple[str, jax.ShapeDtypeStruct]], Any]:
    """θ's leaves as (key path, shape and dtype), and its tree structure."""
    shapes = jax.eval_shape(lopt.init_meta_params, jax.random.PRNGKey(0))
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    return [(jax.tree_util.keystr(p), s) for p, s in leaves], treedef


def load_entry(path: str) -> Pretrained:
    """Loads the entry in directory `path` (see the module docstring for what is checked)."""
    entry = _read_entry(path)
    where = f"pretrained entry {entry['name']!r} ({path})"
    lopt = learned_optimizer(where, entry["lopt"], entry["config"])
    weights_file = os.path.join(path, entry["weights"].get("file", WEIGHTS_FILE))
    try:
        with open(weights_file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointFormatError(f"{where}: cannot read the weights: {e}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["weights"].get("sha256"):
        raise CheckpointFormatError(
            f"{where}: {os.path.basename(weights_file)} is corrupt (SHA-256 {digest[:12]}…, the entry records "
            f"{str(entry['weights'].get('sha256'))[:12]}…).")
    try:
        arrays = dict(np.load(io.BytesIO(data), allow_pickle=False))
    except Exception as e:  # a file that passed the hash but is no npz: written wrongly
        raise CheckpointFormatError(f"{where}: {os.path.basename(weights_file)} is not an npz file: {e}") from None
    return Pretrained(lopt, theta_from_arrays(where, lopt, arrays), entry)


def learned_optimizer(where: str, name: str, config: dict) -> la.LearnedOptimizer:
    """Architecture `name` with its JSON-stored `config`; `CheckpointFormatError` (from `where`) if they don't fit."""
    try:
        return la.from_config(name, config)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointFormatError(f"{where}: cannot build learned optimizer {name!r}: {e}") from None


def theta_from_arrays(where: str, lopt: la.LearnedOptimizer, arrays: dict[str, np.ndarray]) -> Any:
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


def save_entry(path: str, name: str, lopt: la.LearnedOptimizer, theta: Any, **metadata) -> str:
    """Writes θ and its metadata as registry entry `name` in directory `path`; returns entry.json's path.

    `metadata` (JSON-serialisable) is stored as given, e.g. description,
    training, inner_length, evaluation. Files are written atomically, the
    weights first, so a crash never leaves an entry pointing at missing or
    partial weights.
    """
    template = dict(_template(lopt)[0])
    flat = [(jax.tree_util.keystr(p), np.asarray(x)) for p, x in jax.tree_util.tree_flatten_with_path(theta)[0]]
    for key, value in flat:
        spec = template.get(key)
        if spec is None or spec.shape != value.shape or spec.dtype != value.dtype:
            raise ValueError(f"save_entry: leaf {key} ({value.dtype}{list(value.shape)}) does not fit {lopt.name}.")
    if len(flat) != len(template):
        raise ValueError(f"save_entry: θ has {len(flat)} leaves, {lopt.name} has {len(template)}.")
    os.makedirs(path, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **dict(flat))
    data = buffer.getvalue()
    atomic_write(os.path.join(path, WEIGHTS_FILE), data)
    entry = {
        "format": FORMAT,
        "name": name,
        "lopt": lopt.name,
        "config": la.config_of(lopt),
        "weights": {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(data).hexdigest(),
                    "num_meta_params": int(sum(v.size for _, v in flat)),
                    "leaves": [{"path": k, "shape": list(v.shape), "dtype": str(v.dtype)} for k, v in flat]},
        **metadata,
    }
    entry_file = os.path.join(path, ENTRY_FILE)
    atomic_write(entry_file, (json.dumps(entry, indent=1) + "\n").encode())
    return entry_file
