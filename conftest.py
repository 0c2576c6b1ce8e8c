"""Lets plain `pytest` from the repository root import every package by its name.

Bazel puts each package directory on the path through `imports = ["."]`; this
does the same for every `packages/<name>` that has a BUILD file.
"""

import pathlib
import sys

_ROOT = pathlib.Path(__file__).parent
for _package in sorted((_ROOT / "packages").glob("*/BUILD")):
    if str(_package.parent) not in sys.path:
        sys.path.insert(0, str(_package.parent))
