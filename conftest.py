"""Lets plain `pytest` from the repository root import every package by its name.

Bazel puts each package directory (and tools/, for the binaries' tests) on the
path through `imports = ["."]`; this does the same for every
`packages/<name>` that has a BUILD file, and for tools/.
"""

import pathlib
import sys

_ROOT = pathlib.Path(__file__).parent
for _directory in [p.parent for p in sorted((_ROOT / "packages").glob("*/BUILD"))] + [_ROOT / "tools"]:
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))
