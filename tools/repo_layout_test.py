"""Checks that the monorepo keeps its layout promises.

Every package under packages/ has its BUILD, pyproject.toml, README and
VERSION; its name, version and lopt dependencies agree between pyproject,
BUILD, the root README's table and its imports; and those dependencies are
the graph the README's "Packages" section states, which points one way.
"""

import ast
import pathlib
import re
import tomllib

import pytest

# Not resolved: under Bazel this is the runfiles tree, which holds only the declared files.
ROOT = pathlib.Path(__file__).parents[1]

#: The lopt packages each package imports (its tests included): the "depends on" column of the
#: root README's "Packages" table, which `test_root_readme_table_matches_the_packages` holds to this.
#: Changing the graph means changing it here and in the README, on purpose.
ALLOWED = {
    "features": set(),
    "architectures": {"features"},
    "tasks": set(),
    "es": {"architectures", "tasks"},
    "eval": {"architectures", "es", "tasks"},
    "pretrained": {"architectures", "features"},
}
#: Bottom to top: a package imports only packages before it, so dependencies point one way.
LAYERS = ("features", "architectures", "tasks", "es", "eval", "pretrained")

PACKAGES = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))


def _pyproject(name):
    return tomllib.loads((ROOT / "packages" / name / "pyproject.toml").read_text())


def _version(name):
    return (ROOT / "packages" / name / f"lopt_{name}" / "VERSION").read_text().strip()


def _lopt_imports(name):
    found = set()
    for path in (ROOT / "packages" / name / f"lopt_{name}").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top.startswith("lopt_") and top != f"lopt_{name}":
                    found.add(top.removeprefix("lopt_"))
    return found


def _readme_table():
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        match = re.match(r"\| \[`lopt-(\w+)`\]\(packages/(\w+)\) \| ([^|]+) \| [^|]+ \| ([^|]+) \|", line)
        if match:
            name, folder, version, deps = match.groups()
            assert name == folder, line
            rows[name] = (version.strip(), {d.strip("` ").removeprefix("lopt-") for d in deps.split(",")} - {"—"})
    return rows


def test_packages_exist():
    assert "features" in PACKAGES
    assert set(PACKAGES) <= set(ALLOWED), f"unknown package folders: {set(PACKAGES) - set(ALLOWED)}"


def test_the_graph_points_one_way():
    assert sorted(LAYERS) == sorted(ALLOWED)
    for name, deps in ALLOWED.items():
        below = set(LAYERS[:LAYERS.index(name)])
        assert deps <= below, f"lopt-{name} may import {deps - below}, which are not below it in {LAYERS}"


@pytest.mark.parametrize("name", PACKAGES)
def test_package_files_and_names(name):
    folder = ROOT / "packages" / name
    for required in ("BUILD", "README.md", "pyproject.toml", f"lopt_{name}/__init__.py", f"lopt_{name}/VERSION"):
        assert (folder / required).is_file(), f"packages/{name}/{required} is missing"
    project = _pyproject(name)
    assert project["project"]["name"] == f"lopt-{name}"
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"file": f"lopt_{name}/VERSION"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", _version(name))


def test_the_project_and_every_package_state_their_licence():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    for name in PACKAGES:
        assert _pyproject(name)["project"].get("license") == {"text": "MIT"}, f"packages/{name}/pyproject.toml"


@pytest.mark.parametrize("name", PACKAGES)
def test_imports_point_down_the_graph_and_are_declared(name):
    imported = _lopt_imports(name)
    assert imported <= ALLOWED[name], f"lopt_{name} imports {imported - ALLOWED[name]}, above or beside it"
    declared = {
        re.split(r"[<>=!~ \[]", dep)[0].removeprefix("lopt-")
        for dep in _pyproject(name)["project"].get("dependencies", [])
        if dep.startswith("lopt-")
    }
    assert imported == declared, f"lopt_{name} imports {imported} but pyproject.toml declares {declared}"
    build = (ROOT / "packages" / name / "BUILD").read_text()
    for dep in imported:
        assert f'"//packages/{dep}:lopt_{dep}"' in build, f"packages/{name}/BUILD lacks //packages/{dep}:lopt_{dep}"


def test_root_readme_table_matches_the_packages():
    table = _readme_table()
    assert sorted(table) == PACKAGES
    for name, (version, deps) in table.items():
        assert version == _version(name), f"README says lopt-{name} {version}, VERSION says {_version(name)}"
        assert deps == _lopt_imports(name), f"README lists {deps} as lopt-{name}'s dependencies"
        assert deps == ALLOWED[name], f"README lists {deps} as lopt-{name}'s dependencies, the graph {ALLOWED[name]}"
