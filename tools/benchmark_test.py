"""Runs the overhead study binary on a tiny grid and checks what it prints and writes, and its errors."""

import json
import re

import pytest
from absl import flags
from absl.testing import flagsaver

import benchmark

flags.FLAGS.mark_as_parsed()  # use the defaults; tests override them with flagsaver

ROW = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+([\d,]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", re.M)


def printed_rows(out):
    return {(m.group(1), int(m.group(2)), int(m.group(3))): m.groups()[3:] for m in ROW.finditer(out)}


def test_prints_a_row_per_optimizer_width_and_batch_and_writes_json(capsys, tmp_path):
    with flagsaver.flagsaver(study_optimizers=["adam"], study_widths=["4", "8"], study_batch_sizes=["16"],
                             study_repeats=2, study_out=str(tmp_path)):
        benchmark.main(["benchmark"])
    out = capsys.readouterr().out
    rows = printed_rows(out)
    assert set(rows) == {(name, width, 16) for name in ("sgd", "adam") for width in (4, 8)}
    # 8x8 inputs → w → w → 10 classes.
    assert rows[("adam", 4, 16)][0] == f"{64 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10:,}"
    for (name, _, _), (_, ms, ratio, state_bytes) in rows.items():
        assert float(ms) > 0
        assert state_bytes == {"sgd": "0.00", "adam": "8.00"}[name]
        if name == "sgd":
            assert ratio == "1.00"

    # A Pareto plot per batch size for the largest width.
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["pareto_width8_batch16.png"]
    assert f"wrote {tmp_path / 'pareto_width8_batch16.png'}" in out
    with open(tmp_path / "overhead.json") as f:
        document = json.load(f)
    assert document["schema"] == "lopt-eval-overhead/1"
    assert document["config"]["widths"] == [4, 8] and document["config"]["repeats"] == 2
    written = {(r["optimizer"], r["width"], r["batch_size"]): r for r in document["rows"]}
    assert set(written) == set(rows)
    for key, (params, ms, ratio, _) in rows.items():
        assert f"{written[key]['num_params']:,}" == params
        assert f"{written[key]['ratio_to_sgd']:.2f}" == ratio
        assert f"{written[key]['step_seconds'] * 1e3:.3f}" == ms


def one_line_exit(**flag_values):
    with flagsaver.flagsaver(**flag_values), pytest.raises(SystemExit) as error:
        benchmark.main(["benchmark"])
    message = str(error.value.code)
    assert "\n" not in message and message.startswith("benchmark: ")
    return message


def test_unknown_optimizer_exits_with_one_line_listing_the_choices():
    message = one_line_exit(study_optimizers=["adam", "adamm"])
    assert "unknown optimizers adamm; choices: " in message
    assert all(name in message for name in ("sgd", "nadamw", "small_fc_lopt", "velo"))


def test_bad_grids_and_datasets_exit_with_one_line():
    assert "--study_widths must be a comma-separated list of positive integers" in one_line_exit(
        study_widths=["8", "wide"])
    assert "1437 examples" in one_line_exit(study_batch_sizes=["5000"])
    assert "unknown image dataset 'nope'" in one_line_exit(study_dataset="nope")


def test_an_unusable_output_directory_exits_with_one_line_before_any_timing(tmp_path, monkeypatch):
    def no_timing(*args, **kwargs):
        raise AssertionError("timed before checking --study_out")

    monkeypatch.setattr(benchmark.overhead, "overhead_study", no_timing)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert f"--study_out={a_file}: {a_file} is a file, not a directory" in one_line_exit(study_out=str(a_file))
    assert "/proc is not writable" in one_line_exit(study_out="/proc/lopt_overhead")


def test_unknown_flag_exits_with_one_line_listing_the_flags():
    with pytest.raises(SystemExit) as error:
        benchmark.parse_flags(["benchmark", "--study_optimizer=adam"])
    message = str(error.value.code)
    assert "\n" not in message and "Unknown command line flag 'study_optimizer'" in message
    assert "--study_optimizers" in message and "--study_out" in message
