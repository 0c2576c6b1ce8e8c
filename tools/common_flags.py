"""Flags and small helpers that several binaries share.

absl allows each flag to be defined once per process, so a flag that more than
one binary reads lives here; so do the one-line error helpers every binary uses.
"""

import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable, Sequence

from absl import flags

DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "TensorFlow Datasets directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)."
)


def fail(program: str, message) -> None:
    """Ends the program with one line `<program>: <message>` (package messages may span several lines)."""
    sys.exit(f"{program}: " + " ".join(str(message).split()))


def with_data_dir(obj, data_dir: str | None = None):
    """`obj` with its `data_dir` field set to `data_dir` (default `--data_dir`), if it has such a field.

    Tasks and task families that read TensorFlow Datasets carry a `data_dir`
    field; other objects come back unchanged, as does everything when no
    directory was given.
    """
    if data_dir is None:
        data_dir = DATA_DIR.value
    if data_dir and dataclasses.is_dataclass(obj) and "data_dir" in {f.name for f in dataclasses.fields(obj)}:
        return dataclasses.replace(obj, data_dir=data_dir)
    return obj


def flag_parser(program: str, own_flags: Sequence[str]) -> Callable[[list[str]], list[str]]:
    """An absl `flags_parser` that reports a bad flag in one line, listing the program's own flags."""

    def parse(argv: list[str]) -> list[str]:
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            sys.exit(f"{program}: {error}; flags: {', '.join('--' + f for f in own_flags)}")

    return parse


def output_dir_problem(path: str) -> str | None:
    """Why the directory `path` cannot receive output, or None if it is a writable directory or can be created.

    Checked before any compute, so a bad output location costs nothing: the
    nearest existing ancestor must be a directory in which a file can be
    created (a real attempt, which also catches read-only file systems and
    holds for root, for whom permission bits say little).
    """
    if os.path.exists(path) and not os.path.isdir(path):
        return f"{path} is a file, not a directory"
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"cannot create {path}: {existing} is a file, not a directory"
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=existing)
    except OSError as e:
        what = "" if existing == os.path.abspath(path) else f"cannot create {path}: "
        return f"{what}{existing} is not writable ({e.strerror or e})"
    os.close(fd)
    os.unlink(probe)
    return None


def check_output_dir(program: str, flag: str, path: str) -> None:
    """Ends the program with one line if `--<flag>=<path>` cannot receive output (see `output_dir_problem`)."""
    problem = output_dir_problem(path)
    if problem:
        fail(program, f"--{flag}={path}: {problem}")
