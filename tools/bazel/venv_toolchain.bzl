"""A Python toolchain backed by the project's virtualenv.

Bazel runs every py_binary and py_test with the interpreter of the pinned
virtualenv that tools/setup.sh creates: `$LOPT_VENV` if set, else `.venv` at
the workspace root. The path is discovered when the repository rule runs, so
no machine-specific path is committed.
"""

_BUILD = """load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

package(default_visibility = ["//visibility:public"])

py_runtime(
    name = "py3_runtime",
    interpreter_path = "{python}",
    python_version = "PY3",
    stub_shebang = "#!{python}",
)

py_runtime_pair(
    name = "py_runtime_pair",
    py3_runtime = ":py3_runtime",
)

toolchain(
    name = "py_toolchain",
    toolchain = ":py_runtime_pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
"""

def _venv_python_impl(rctx):
    workspace = rctx.path(Label("@//:WORKSPACE")).dirname
    venv = rctx.os.environ.get("LOPT_VENV", "") or "%s/%s" % (workspace, rctx.attr.default_venv)
    python = rctx.path(venv + "/bin/python3")
    if not python.exists:
        fail("No Python virtualenv at %s: run tools/setup.sh first (or set LOPT_VENV to a venv)." % venv)

    # Keep the venv's own path: resolving the symlink would escape the venv
    # and lose its site-packages.
    rctx.file("BUILD.bazel", _BUILD.format(python = str(python)))
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)

venv_python = repository_rule(
    implementation = _venv_python_impl,
    local = True,
    environ = ["LOPT_VENV"],
    attrs = {"default_venv": attr.string(default = ".venv")},
)
