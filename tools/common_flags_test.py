"""The shared helpers: data_dir substitution, one-line failures, flag errors that list the flags."""

import dataclasses

import pytest
from absl import flags
from absl.testing import flagsaver

import common_flags

flags.FLAGS.mark_as_parsed()


@dataclasses.dataclass(frozen=True)
class WithDataDir:
    name: str
    data_dir: str | None = None


@dataclasses.dataclass(frozen=True)
class WithoutDataDir:
    name: str


def test_with_data_dir_sets_the_field_only_where_there_is_one():
    assert common_flags.with_data_dir(WithDataDir("a"), "/d") == WithDataDir("a", "/d")
    assert common_flags.with_data_dir(WithoutDataDir("a"), "/d") == WithoutDataDir("a")
    assert common_flags.with_data_dir({"data_dir": None}, "/d") == {"data_dir": None}  # not a dataclass
    assert common_flags.with_data_dir(WithDataDir("a", "/kept")) == WithDataDir("a", "/kept")  # no flag, no change


def test_with_data_dir_defaults_to_the_flag():
    with flagsaver.flagsaver(data_dir="/from/flag"):
        assert common_flags.with_data_dir(WithDataDir("a")).data_dir == "/from/flag"


def test_fail_exits_with_one_line_naming_the_program():
    with pytest.raises(SystemExit) as exit_info:
        common_flags.fail("tool", "first line\n  second   line")
    assert str(exit_info.value) == "tool: first line second line"


def test_flag_parser_lists_the_programs_flags():
    parse = common_flags.flag_parser("tool", ("data_dir", "other"))
    with pytest.raises(SystemExit, match=r"^tool: .*no_such_flag.*; flags: --data_dir, --other$"):
        parse(["tool", "--no_such_flag=1"])


def test_output_dir_problem_allows_writable_and_creatable_directories_only(tmp_path):
    assert common_flags.output_dir_problem(str(tmp_path)) is None
    assert common_flags.output_dir_problem(str(tmp_path / "new" / "deeper")) is None
    assert not (tmp_path / "new").exists() and list(tmp_path.iterdir()) == []  # checking creates nothing
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert common_flags.output_dir_problem(str(a_file)) == f"{a_file} is a file, not a directory"
    assert common_flags.output_dir_problem(str(a_file / "sub")) == (
        f"cannot create {a_file / 'sub'}: {a_file} is a file, not a directory")
    # /proc takes no new entries, even from root (for whom permission bits say little).
    assert common_flags.output_dir_problem("/proc/lopt_out/x").startswith(
        "cannot create /proc/lopt_out/x: /proc is not writable")
    with pytest.raises(SystemExit, match=f"^tool: --out={a_file}: {a_file} is a file, not a directory$"):
        common_flags.check_output_dir("tool", "out", str(a_file))
