"""Counts passed and failed test cases of a `bazel test` run.

Reads the Build Event Protocol JSON file that `bazel test
--build_event_json_file=F` writes, and each test target's JUnit report
(test.xml) that it points to. Prints one line, `N passed, N failed`, which CI
reads instead of Bazel's own summary. A target that Bazel reports as failed
without a readable report (build failure, time-out, crash) counts as one
failure, as does a run that aborted before any test ran.

Usage: python test_summary.py BEP_JSON_FILE [BAZEL_EXIT_CODE]
"""

import json
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failed_targets: list[str] = field(default_factory=list)


def _xml_path(uri: str) -> str | None:
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "file":
        return None
    return urllib.request.url2pathname(parsed.path)


def _count_cases(xml_file: str) -> tuple[int, int, int] | None:
    """(passed, failed, skipped) test cases in a JUnit report, or None if unreadable."""
    try:
        root = ET.parse(xml_file).getroot()
    except (OSError, ET.ParseError):
        return None
    passed = failed = skipped = 0
    cases = list(root.iter("testcase"))
    if not cases:
        return None
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def summarize(events: list[dict]) -> Counts:
    counts = Counts()
    # One entry per run and shard of a target; the last attempt decides, so
    # retries of a flaky test are not double counted.
    results: dict[tuple[str, int, int], dict] = {}
    for event in events:
        test_result = event.get("id", {}).get("testResult")
        if test_result is not None:
            key = (test_result["label"], test_result.get("run", 1), test_result.get("shard", 1))
            results[key] = event.get("testResult", {})
        summary = event.get("id", {}).get("testSummary")
        if summary is not None and not any(key[0] == summary["label"] for key in results):
            # A test that never ran (e.g. failed to build) has only a summary.
            status = event.get("testSummary", {}).get("overallStatus", "NO_STATUS")
            results[(summary["label"], 1, 1)] = {"status": status}
    for (label, _, _), result in sorted(results.items()):
        status = result.get("status", "NO_STATUS")
        cases = None
        for output in result.get("testActionOutput", []):
            if output.get("name") == "test.xml":
                path = _xml_path(output.get("uri", ""))
                cases = _count_cases(path) if path else None
        if cases is None:
            if status == "PASSED":
                counts.passed += 1
            else:
                counts.failed += 1
                counts.failed_targets.append(f"{label} ({status})")
            continue
        passed, failed, skipped = cases
        if status != "PASSED" and failed == 0:
            # The report is incomplete (e.g. the process was killed): the target failed.
            failed = 1
        counts.passed += passed
        counts.failed += failed
        counts.skipped += skipped
        if failed:
            counts.failed_targets.append(f"{label} ({status})")
    return counts


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    events = []
    try:
        with open(argv[1]) as f:
            for line in f:
                line = line.strip()
                if line:
                    events.append(json.loads(line))
    except OSError as e:
        print(f"test_summary: cannot read the build event file: {e}", file=sys.stderr)
    counts = summarize(events)
    bazel_exit = int(argv[2]) if len(argv) == 3 else 0
    if bazel_exit != 0 and counts.failed == 0:
        # Bazel failed before or outside any test (analysis error, no tests found).
        counts.failed = 1
        counts.failed_targets.append(f"bazel exited with status {bazel_exit}")
    for target in counts.failed_targets:
        print(f"FAILED: {target}")
    if counts.skipped:
        print(f"{counts.skipped} skipped")
    print(f"{counts.passed} passed, {counts.failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
