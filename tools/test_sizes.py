"""Lists the tests whose last measured run leaves less than 3x slack in their Bazel timeout.

    bazel query --output=xml 'tests(//...)' > /tmp/tests.xml
    python3 tools/test_sizes.py --query_xml=/tmp/tests.xml [--testlogs=.bazel/testlogs] [--slack=3]

Bazel kills a test that runs longer than its timeout: by its size, small 60 s,
medium 300 s, large 900 s, enormous 3600 s (or an explicit `timeout`: short,
moderate, long, eternal). A test that takes 30 s on a quiet machine can take
three times as long on a loaded laptop, so each test's size should hold with
3x slack. This tool reads the durations of the last run of every test from
Bazel's test logs and the sizes from the query, and prints one line for each
test whose duration times the slack exceeds its timeout, with the smallest size
that would hold, then a summary line. It only warns: the exit status is 0
unless the arguments or the query file are unusable (2).

A test's duration is Bazel's own measurement of the whole test process (what
`bazel test` prints as `PASSED in 12.3s`), read from
<testlogs>/<package>/<name>/test.cache_status; where that is missing or
unreadable, the time in test.xml (pytest's session time, which leaves out the
interpreter's start-up). Sharded or repeated tests count their slowest run,
since each run has its own timeout. Test logs of targets the query does not
list (deleted or renamed tests) are ignored.
"""

import argparse
import dataclasses
import os
import re
import sys
import xml.etree.ElementTree as ET

SIZE_TIMEOUTS = {"small": 60, "medium": 300, "large": 900, "enormous": 3600}
TIMEOUT_SECONDS = {"short": 60, "moderate": 300, "long": 900, "eternal": 3600}

# Directories Bazel adds under a test's log directory for shards and runs_per_test.
_RUN_DIR = re.compile(r"shard_\d+_of_\d+(_run_\d+_of_\d+)?|run_\d+_of_\d+")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What Bazel allows a test: its size and its timeout in seconds."""

    size: str
    timeout: int


@dataclasses.dataclass(frozen=True)
class Finding:
    """A test whose duration times the slack exceeds its timeout."""

    label: str
    seconds: float
    spec: Spec
    needed: str | None  # the smallest size that holds with the slack; None if none does


def read_query_xml(text: str) -> dict[str, Spec]:
    """Size and timeout of every rule in `bazel query --output=xml` output, by label."""
    specs = {}
    for rule in ET.fromstring(text).iter("rule"):
        label = rule.get("name")
        attrs = {a.get("name"): a.get("value") for a in rule if a.tag == "string"}
        size = attrs.get("size") or "medium"  # Bazel's default size
        if label is None or size not in SIZE_TIMEOUTS:
            continue
        timeout = TIMEOUT_SECONDS.get(attrs.get("timeout") or "", SIZE_TIMEOUTS[size])
        specs[label] = Spec(size, timeout)
    return specs


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def cache_status_seconds(data: bytes) -> float | None:
    """The test time in Bazel's test.cache_status (a TestResultData protobuf).

    Its field 9 holds `test_times`, in milliseconds, one per attempt (Bazel 4's
    numbering); the longest counts. None if the data does not parse.
    """
    times = []
    i = 0
    try:
        while i < len(data):
            key, i = _varint(data, i)
            field, wire_type = key >> 3, key & 7
            if wire_type == 0:
                value, i = _varint(data, i)
                if field == 9:
                    times.append(value)
            elif wire_type == 2:
                length, i = _varint(data, i)
                end = i + length
                while field == 9 and i < end:  # packed encoding
                    value, i = _varint(data, i)
                    times.append(value)
                i = end
            elif wire_type == 1:
                i += 8
            elif wire_type == 5:
                i += 4
            else:
                return None
    except IndexError:
        return None
    if i != len(data) or not times:
        return None
    return max(times) / 1000


def junit_seconds(path: str) -> float | None:
    """The run time a JUnit report states: the root's time, else its test suites', else its test cases'."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None

    def total(elements) -> float | None:
        times = []
        for element in elements:
            try:
                times.append(float(element.get("time", "")))
            except ValueError:
                pass
        return sum(times) if times else None

    for elements in ([root], root.iter("testsuite"), root.iter("testcase")):
        seconds = total(elements)
        if seconds is not None:
            return seconds
    return None


def run_seconds(directory: str) -> float | None:
    """The duration of the test run whose logs are in `directory`."""
    try:
        with open(os.path.join(directory, "test.cache_status"), "rb") as f:
            seconds = cache_status_seconds(f.read())
    except OSError:
        seconds = None
    if seconds is None:
        seconds = junit_seconds(os.path.join(directory, "test.xml"))
    return seconds


def _label(parts: list[str], labels: set[str]) -> str | None:
    """The label of the test whose log directory is `parts`, as the query knows it."""
    for split in range(len(parts) - 1, -1, -1):
        label = "//" + "/".join(parts[:split]) + ":" + "/".join(parts[split:])
        if label in labels:
            return label
    return None


def measured_seconds(testlogs: str, labels: set[str]) -> dict[str, float]:
    """The slowest run of each test in `labels` that has logs under `testlogs`."""
    seconds: dict[str, float] = {}
    for directory, subdirs, files in os.walk(testlogs):
        subdirs[:] = [d for d in subdirs if d not in ("test.outputs", "test.outputs_manifest",
                                                        "test.raw_splitlogs", "test_attempts")]
        if "test.cache_status" not in files and "test.xml" not in files:
            continue
        parts = os.path.relpath(directory, testlogs).split(os.sep)
        while len(parts) > 1 and parts[-1] and _RUN_DIR.fullmatch(parts[-1]):
            parts.pop()
        label = _label(parts, labels)
        run = run_seconds(directory) if label else None
        if run is not None:
            seconds[label] = max(run, seconds.get(label, 0.0))
    return seconds


def smallest_size(seconds: float, slack: float) -> str | None:
    for size, timeout in SIZE_TIMEOUTS.items():
        if seconds * slack <= timeout:
            return size
    return None


def check(specs: dict[str, Spec], seconds: dict[str, float], slack: float) -> list[Finding]:
    """The measured tests whose duration times `slack` exceeds their timeout, by label."""
    return [
        Finding(label, seconds[label], specs[label], smallest_size(seconds[label], slack))
        for label in sorted(seconds)
        if seconds[label] * slack > specs[label].timeout
    ]


def format_finding(f: Finding, slack: float) -> str:
    advice = f'needs size = "{f.needed}"' if f.needed else "too slow for any size: make it faster"
    return (f"test_sizes: {f.label} took {f.seconds:.1f} s; {slack:g}x that is {f.seconds * slack:.0f} s, "
            f"over its {f.spec.timeout} s timeout ({f.spec.size}): {advice}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="test_sizes", description=__doc__.split("\n")[0])
    parser.add_argument("--query_xml", required=True,
                        help="output of `bazel query --output=xml 'tests(//...)'` ('-' for stdin)")
    parser.add_argument("--testlogs", default=None,
                        help="Bazel's test log directory (default: .bazel/testlogs of the workspace)")
    parser.add_argument("--slack", type=float, default=3.0, help="how many times its measured duration "
                        "a test must fit in its timeout (default 3)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if not args.slack > 0:
        print("test_sizes: --slack must be positive", file=sys.stderr)
        return 2
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY", "")
    testlogs = os.path.join(workspace, args.testlogs or os.path.join(".bazel", "testlogs"))
    try:
        if args.query_xml == "-":
            text = sys.stdin.read()
        else:
            with open(os.path.join(workspace, args.query_xml)) as f:
                text = f.read()
        specs = read_query_xml(text)
    except (OSError, ET.ParseError) as e:
        print(f"test_sizes: cannot read the query output {args.query_xml}: {e}", file=sys.stderr)
        return 2
    if not os.path.isdir(testlogs):
        print(f"test_sizes: no test logs at {testlogs}", file=sys.stderr)
        return 2
    seconds = measured_seconds(testlogs, set(specs))
    findings = check(specs, seconds, args.slack)
    for finding in findings:
        print(format_finding(finding, args.slack))
    print(f"test_sizes: {len(findings)} of {len(seconds)} measured tests need a larger size "
          f"({args.slack:g}x their last duration exceeds their timeout)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
