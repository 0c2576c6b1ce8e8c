"""Runs the usage example of the package README."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).parents[1] / "README.md"


def test_readme_example_runs():
    if not README.exists():
        pytest.skip("README.md is not shipped inside the installed wheel")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, f"no python example in {README}"
    exec(compile(blocks[0], str(README), "exec"), {})
