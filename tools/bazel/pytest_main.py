"""Entry point of every `py_pytest` target: runs one pytest module under Bazel.

Bazel gives the module's runfiles path as the only argument and, in
`XML_OUTPUT_FILE`, where it wants a JUnit report; pytest writes one, so the
suite's summary counts test cases, not targets. The cache plugin is off
because runfiles are read-only.
"""

import os
import sys

import pytest


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} <test module>", file=sys.stderr)
        return 2
    args = [argv[1], "-q", "-p", "no:cacheprovider"]
    xml_output = os.environ.get("XML_OUTPUT_FILE")
    if xml_output:
        args.append(f"--junitxml={xml_output}")
    return pytest.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
