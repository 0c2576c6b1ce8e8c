"""Flags and small helpers that several binaries share.

absl allows each flag to be defined once per process, so a flag that more than
one binary reads lives here; so do the one-line error helpers every binary uses.
"""

import dataclasses
import sys
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
