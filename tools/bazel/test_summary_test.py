import importlib.util
import json
import pathlib

_spec = importlib.util.spec_from_file_location("test_summary", pathlib.Path(__file__).with_name("test_summary.py"))
test_summary = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(test_summary)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="a" name="ok1"/>
  <testcase classname="a" name="ok2"/>
  {extra}
</testsuite></testsuites>"""


def _result(label, status, xml_path=None, shard=1):
    outputs = [{"name": "test.log", "uri": "file:///nonexistent/test.log"}]
    if xml_path is not None:
        outputs.append({"name": "test.xml", "uri": xml_path.as_uri()})
    return {"id": {"testResult": {"label": label, "run": 1, "shard": shard}}, "testResult": {"status": status, "testActionOutput": outputs}}


def _run(tmp_path, events, bazel_exit, capsys):
    bep = tmp_path / "events.json"
    bep.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    assert test_summary.main(["test_summary.py", str(bep), str(bazel_exit)]) == 0
    return capsys.readouterr().out.strip().splitlines()


def test_counts_test_cases_from_junit_reports(tmp_path, capsys):
    good = tmp_path / "good.xml"
    good.write_text(JUNIT.format(extra='<testcase classname="a" name="skip"><skipped/></testcase>'))
    bad = tmp_path / "bad.xml"
    bad.write_text(JUNIT.format(extra='<testcase classname="a" name="f"><failure message="x"/></testcase>'))
    lines = _run(tmp_path, [_result("//p:good", "PASSED", good), _result("//p:bad", "FAILED", bad)], 3, capsys)
    assert lines[-1] == "4 passed, 1 failed"
    assert "FAILED: //p:bad (FAILED)" in lines
    assert "1 skipped" in lines


def test_target_without_report_counts_once(tmp_path, capsys):
    events = [
        _result("//p:cached", "PASSED"),
        _result("//p:timeout", "TIMEOUT"),
        {"id": {"testSummary": {"label": "//p:broken"}}, "testSummary": {"overallStatus": "FAILED_TO_BUILD"}},
    ]
    lines = _run(tmp_path, events, 3, capsys)
    assert lines[-1] == "1 passed, 2 failed"


def test_failed_target_with_only_passing_cases_still_fails(tmp_path, capsys):
    report = tmp_path / "r.xml"
    report.write_text(JUNIT.format(extra=""))
    lines = _run(tmp_path, [_result("//p:crashed", "FAILED", report)], 3, capsys)
    assert lines[-1] == "2 passed, 1 failed"


def test_bazel_failure_without_tests_is_a_failure(tmp_path, capsys):
    lines = _run(tmp_path, [], 1, capsys)
    assert lines[-1] == "0 passed, 1 failed"
    assert lines[0] == "FAILED: bazel exited with status 1"


def test_last_attempt_of_a_flaky_test_decides(tmp_path, capsys):
    report = tmp_path / "r.xml"
    report.write_text(JUNIT.format(extra=""))
    events = [_result("//p:flaky", "FAILED"), _result("//p:flaky", "PASSED", report)]
    assert _run(tmp_path, events, 0, capsys)[-1] == "2 passed, 0 failed"


def test_every_shard_counts(tmp_path, capsys):
    report = tmp_path / "r.xml"
    report.write_text(JUNIT.format(extra=""))
    events = [_result("//p:sharded", "PASSED", report, shard=1), _result("//p:sharded", "PASSED", report, shard=2)]
    assert _run(tmp_path, events, 0, capsys)[-1] == "4 passed, 0 failed"
