"""`py_tool`: a binary of tools/ with its library and its test."""

load(":pytest.bzl", "py_pytest")

def py_tool(name, deps = [], test_deps = [], test_size = "medium"):
    """Declares `<name>_lib` (the module `<name>.py`), the binary `<name>` and the test `<name>_test`.

    The library puts tools/ on the path, so tests and other tools import the
    module by its name.
    """
    native.py_library(
        name = name + "_lib",
        srcs = [name + ".py"],
        imports = ["."],
        deps = deps,
    )
    native.py_binary(
        name = name,
        srcs = [name + ".py"],
        deps = [":" + name + "_lib"],
    )
    py_pytest(
        name = name + "_test",
        size = test_size,
        deps = [":" + name + "_lib"] + test_deps,
    )
