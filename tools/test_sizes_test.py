"""tools/test_sizes on a fake Bazel testlogs tree, against hand-computed reports."""

import io

import pytest

import test_sizes

QUERY_XML = """<?xml version="1.1" encoding="UTF-8" standalone="no"?>
<query version="2">
    <rule class="py_test" location="/w/pkg/BUILD:1:10" name="//pkg:fast_test">
        <string name="name" value="fast_test"/>
        <string name="size" value="small"/>
        <rule-input name="//pkg:fast_test.py"/>
    </rule>
    <rule class="py_test" location="/w/pkg/BUILD:2:10" name="//pkg:slow_test">
        <string name="size" value="small"/>
    </rule>
    <rule class="py_test" location="/w/pkg/sub/BUILD:1:10" name="//pkg/sub:long_timeout_test">
        <string name="size" value="medium"/>
        <string name="timeout" value="long"/>
    </rule>
    <rule class="py_test" location="/w/pkg/BUILD:3:10" name="//pkg:sharded_test">
        <string name="size" value="medium"/>
    </rule>
    <rule class="py_test" location="/w/pkg/BUILD:4:10" name="//pkg:xml_only_test">
        <string name="size" value="small"/>
    </rule>
    <rule class="py_test" location="/w/pkg/BUILD:5:10" name="//pkg:nested/name_test">
        <string name="size" value="large"/>
    </rule>
    <rule class="py_test" location="/w/pkg/BUILD:6:10" name="//pkg:huge_test">
        <string name="size" value="enormous"/>
    </rule>
    <rule class="py_test" location="/w/pkg/BUILD:7:10" name="//pkg:never_run_test">
        <string name="size" value="small"/>
    </rule>
</query>
"""


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def cache_status(*test_times_ms: int) -> bytes:
    """A test.cache_status as Bazel 4 writes it: passed, PASSED, test_times (field 9), the log path, ..."""
    log = b"/root/.cache/bazel/x/execroot/lopt/bazel-out/k8-fastbuild/testlogs/pkg/t/test.log"
    data = b"\x10\x01\x18\x01\x30\x00\x40\x00"
    data += b"".join(b"\x48" + varint(ms) for ms in test_times_ms)
    data += b"\x52" + varint(len(log)) + log
    data += b"\x58" + varint(test_times_ms[-1]) + b"\x60" + varint(test_times_ms[-1])
    return data + b"\x78" + varint(1796330528386)


def junit(seconds: float) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" '
            f'errors="0" failures="0" skipped="0" tests="1" time="{seconds}"><testcase classname="t" name="test_a" '
            f'time="{seconds / 2}" /></testsuite></testsuites>')


def write_run(directory, *, ms=None, xml_seconds=None, raw_status=None):
    directory.mkdir(parents=True)
    if ms is not None:
        (directory / "test.cache_status").write_bytes(cache_status(*ms))
    if raw_status is not None:
        (directory / "test.cache_status").write_bytes(raw_status)
    if xml_seconds is not None:
        (directory / "test.xml").write_text(junit(xml_seconds))
    (directory / "test.log").write_text("...\n")


@pytest.fixture
def testlogs(tmp_path):
    logs = tmp_path / "testlogs"
    # 19.5 s: 3x is 58.5 s, within small's 60 s.
    write_run(logs / "pkg" / "fast_test", ms=[19500], xml_seconds=17.0)
    # 20.5 s: 3x is 61.5 s, over 60 s. The cache status wins over test.xml's 10 s.
    write_run(logs / "pkg" / "slow_test", ms=[20500], xml_seconds=10.0)
    # 250 s: 3x is 750 s, over medium's 300 s but within the explicit long timeout (900 s).
    write_run(logs / "pkg" / "sub" / "long_timeout_test", ms=[250000])
    # Shards: the slowest one counts, 120 s, 3x 360 s > 300 s.
    write_run(logs / "pkg" / "sharded_test" / "shard_1_of_2", ms=[40000])
    write_run(logs / "pkg" / "sharded_test" / "shard_2_of_2", ms=[120000])
    # No cache status, or an unreadable one: the test.xml time, 25 s (3x 75 s) and 15 s (3x 45 s).
    write_run(logs / "pkg" / "xml_only_test", xml_seconds=25.0)
    # A name with a slash; two attempts (a flaky test), the longer counts: 301 s, 3x 903 s > 900 s.
    write_run(logs / "pkg" / "nested" / "name_test", ms=[301000, 100000])
    # 1300 s: 3x 3900 s, over even enormous's 3600 s.
    write_run(logs / "pkg" / "huge_test", ms=[1300000])
    # Logs of a test the query no longer lists: ignored.
    write_run(logs / "pkg" / "deleted_test", ms=[999000])
    return logs


EXPECTED = """\
test_sizes: //pkg:huge_test took 1300.0 s; 3x that is 3900 s, over its 3600 s timeout (enormous): too slow for any size: make it faster
test_sizes: //pkg:nested/name_test took 301.0 s; 3x that is 903 s, over its 900 s timeout (large): needs size = "enormous"
test_sizes: //pkg:sharded_test took 120.0 s; 3x that is 360 s, over its 300 s timeout (medium): needs size = "large"
test_sizes: //pkg:slow_test took 20.5 s; 3x that is 62 s, over its 60 s timeout (small): needs size = "medium"
test_sizes: //pkg:xml_only_test took 25.0 s; 3x that is 75 s, over its 60 s timeout (small): needs size = "medium"
test_sizes: 5 of 7 measured tests need a larger size (3x their last duration exceeds their timeout)
"""


def test_report_lists_the_tests_without_3x_slack(testlogs, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BUILD_WORKSPACE_DIRECTORY", raising=False)
    (tmp_path / "tests.xml").write_text(QUERY_XML)
    assert test_sizes.main([f"--query_xml={tmp_path / 'tests.xml'}", f"--testlogs={testlogs}"]) == 0
    assert capsys.readouterr().out == EXPECTED


def test_measured_durations_and_specs(testlogs):
    specs = test_sizes.read_query_xml(QUERY_XML)
    assert specs["//pkg:fast_test"] == test_sizes.Spec("small", 60)
    assert specs["//pkg/sub:long_timeout_test"] == test_sizes.Spec("medium", 900)
    assert specs["//pkg:huge_test"] == test_sizes.Spec("enormous", 3600)
    assert test_sizes.measured_seconds(str(testlogs), set(specs)) == {
        "//pkg:fast_test": 19.5,
        "//pkg:slow_test": 20.5,
        "//pkg/sub:long_timeout_test": 250.0,
        "//pkg:sharded_test": 120.0,
        "//pkg:xml_only_test": 25.0,
        "//pkg:nested/name_test": 301.0,
        "//pkg:huge_test": 1300.0,
    }


def test_a_larger_slack_flags_more_and_an_unreadable_status_falls_back_to_test_xml(testlogs, capsys, monkeypatch):
    write_run(testlogs / "pkg" / "never_run_test", raw_status=b"\x48\xff", xml_seconds=15.0)
    monkeypatch.setattr("sys.stdin", io.StringIO(QUERY_XML))
    assert test_sizes.main(["--query_xml=-", f"--testlogs={testlogs}", "--slack=4"]) == 0
    out = capsys.readouterr().out.splitlines()
    # 4 x 19.5 s = 78 s > 60 s; 4 x 250 s = 1000 s > 900 s; the truncated status is read from test.xml: 60 s.
    assert [line.split(" took ")[0] for line in out[:-1]] == [
        "test_sizes: //pkg/sub:long_timeout_test",
        "test_sizes: //pkg:fast_test",
        "test_sizes: //pkg:huge_test",
        "test_sizes: //pkg:nested/name_test",
        "test_sizes: //pkg:sharded_test",
        "test_sizes: //pkg:slow_test",
        "test_sizes: //pkg:xml_only_test",
    ]
    assert out[-1] == "test_sizes: 7 of 8 measured tests need a larger size (4x their last duration exceeds their timeout)"


def test_cache_status_parsing():
    assert test_sizes.cache_status_seconds(cache_status(5806)) == 5.806
    assert test_sizes.cache_status_seconds(b"\x4a\x04" + varint(1000) + varint(3000)) == 3.0  # packed
    assert test_sizes.cache_status_seconds(b"\x10\x01\x18\x04") is None  # no test time
    assert test_sizes.cache_status_seconds(b"\x48\xff") is None  # truncated
    assert test_sizes.cache_status_seconds(b"\x52\x10abc") is None  # a string longer than the data


def test_unusable_arguments_exit_2(tmp_path, capsys):
    assert test_sizes.main([]) == 2
    assert test_sizes.main([f"--query_xml={tmp_path / 'missing.xml'}", f"--testlogs={tmp_path}"]) == 2
    (tmp_path / "tests.xml").write_text(QUERY_XML)
    assert test_sizes.main([f"--query_xml={tmp_path / 'tests.xml'}", f"--testlogs={tmp_path / 'none'}"]) == 2
    assert "no test logs at" in capsys.readouterr().err
