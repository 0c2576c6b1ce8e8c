"""`py_pytest`: a py_test that runs one pytest module.

Every test module in the monorepo is a plain pytest file that sits beside the
module it tests. This macro runs it through tools/bazel/pytest_main.py, which
also writes the JUnit XML that Bazel asks for, so tools/test.sh can count test
cases rather than test targets.
"""

def py_pytest(name, src = None, deps = [], data = [], size = "small", **kwargs):
    """Declares a test target `name` for the pytest module `src`.

    Args:
      name: target name.
      src: the test module; defaults to `<name>.py`.
      deps: libraries the module imports.
      data: files the module reads at run time.
      size: Bazel test size: the smallest whose timeout is at least 3x the
        test's duration on a quiet machine (small 60 s, medium 300 s, large
        900 s), so that a loaded machine does not time out. tools/test_sizes.py
        lists the tests that outgrow theirs.
      **kwargs: passed on to py_test (tags, shard_count, timeout, env, ...).
    """
    src = src or name + ".py"
    runner = "//tools/bazel:pytest_main.py"
    native.py_test(
        name = name,
        srcs = [src, runner],
        main = runner,
        args = ["$(rootpath %s)" % src],
        deps = deps,
        data = data,
        size = size,
        **kwargs
    )
