"""Lets plain `pytest` from the repository root import every package by its name.

Bazel puts each package directory (and tools/, for the binaries' tests) on the
path through `imports = ["."]`; this does the same for every
`packages/<name>` that has a BUILD file, for tools/ and for examples/.
"""

import pathlib
import sys

_ROOT = pathlib.Path(__file__).parent
_PACKAGES = [p.parent for p in sorted((_ROOT / "packages").glob("*/BUILD"))]
for _directory in _PACKAGES + [_ROOT / "tools", _ROOT / "examples"]:
    if str(_directory) not in sys.path:
        sys.path.insert(0, str(_directory))
