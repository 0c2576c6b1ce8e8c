"""Runs the usage example (the first ```python block) of every package README."""

import pathlib
import re

import pytest

# Not resolved: under Bazel this is the runfiles tree, which holds only the declared files.
ROOT = pathlib.Path(__file__).parents[1]

READMES = sorted((ROOT / "packages").glob("*/README.md"))


def test_every_package_has_a_readme():
    assert {p.parent.name for p in READMES} == {p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml")}


@pytest.mark.parametrize("readme", READMES, ids=[p.parent.name for p in READMES])
def test_readme_example_runs(readme):
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    assert blocks, f"no python example in {readme}"
    exec(compile(blocks[0], str(readme), "exec"), {})
