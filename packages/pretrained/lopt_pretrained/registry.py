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
them apart. An entry of ours meta-trained from a starting point (fine-tuned
from another entry, say) records it as `derived_from`; fine-tuned from a
third party's weights, it carries their licence's text as `LICENSE` too.

An entry is a θ saved by `lopt_architectures.save_theta` (that module holds
the format, its one writer and its one reader) with a name and the metadata
above: loading rebuilds the architecture from the entry and checks the file
against a freshly initialised θ of that configuration, so a file that was
altered, truncated, or written for another architecture fails with an error
that names the entry and the leaf rather than loading wrong numbers. θ saved
by meta-training (`tools/meta_train`'s `theta/`, which has no name) reads as
`theta_dir.load_theta_dir` describes it. The format needs only numpy and
JSON: `lopt-pretrained` does not depend on the meta-training packages, and
`tools/register_pretrained` writes entries from a meta-training directory.
"""

import os
from importlib import resources
from typing import Any, NamedTuple

import lopt_architectures as la
from lopt_architectures import saved_theta

FORMAT = saved_theta.FORMAT
#: `info(name)["origin"]`: meta-trained here, with lopt (the entry holds its training record) ...
ORIGIN_LOPT = "lopt"
#: ... or by a third party (the entry holds `provenance`: who, with what compute, source, licence).
ORIGIN_THIRD_PARTY = "third_party"
ENTRY_FILE = saved_theta.MANIFEST_FILE
WEIGHTS_FILE = saved_theta.WEIGHTS_FILE


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
    entry = saved_theta.read_manifest(path)
    if "name" not in entry:  # θ saved by meta-training, not an entry
        return saved_theta_info(path, entry)
    entry.setdefault("origin", ORIGIN_THIRD_PARTY if "provenance" in entry else ORIGIN_LOPT)
    return entry


def saved_theta_info(directory: str, metadata: dict) -> dict:
    """What a θ saved by meta-training records, as an entry's fields: name (the directory), origin "lopt", lopt,
    config, inner_length, `training` (outer_steps; `inner_lengths` [shortest, longest] when meta-trained on runs
    of many lengths) and all it recorded as `metadata`."""
    training = {"outer_steps": int(metadata.get("step", 0))}
    if metadata.get("min_inner_length"):
        training["inner_lengths"] = [metadata["min_inner_length"], metadata.get("inner_length")]
    return {"name": directory, "origin": ORIGIN_LOPT, "lopt": metadata["lopt"], "config": metadata.get("config", {}),
            "inner_length": metadata.get("inner_length"), "training": training, "metadata": metadata}


def load_entry(path: str) -> Pretrained:
    """Loads the entry in directory `path` (see the module docstring for what is checked)."""
    entry = _read_entry(path)
    lopt, theta, _ = saved_theta.load_theta(path)
    return Pretrained(lopt, theta, entry)


def save_entry(path: str, name: str, lopt: la.LearnedOptimizer, theta: Any, **metadata) -> str:
    """Writes θ and its metadata as registry entry `name` in directory `path`; returns entry.json's path.

    `metadata` (JSON-serialisable) is stored as given, e.g. description,
    training, inner_length, evaluation. `lopt_architectures.save_theta` writes
    it: atomically, the weights first, so a crash never leaves an entry
    pointing at missing or partial weights.
    """
    return saved_theta.save_theta(path, lopt, theta, name=name, **metadata)
