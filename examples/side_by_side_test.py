"""The side-by-side report: the table's rows and columns for known numbers, and the plot file."""

import numpy as np

import side_by_side

RUNS = {"adam": (np.asarray([2.0, 1.0, 0.5, 0.25, 0.125]), 0.3), "celo": (np.asarray([2.0, 0.5, 0.1, 0.01, 1e-3]), 0.2)}


def test_table_lists_every_few_steps_the_last_and_the_test_losses():
    lines = side_by_side.table(RUNS, rows=2).splitlines()
    assert lines[0].split() == ["step", "adam", "celo"]
    assert [line.split() for line in lines[1:]] == [["0", "2", "2"], ["2", "0.5", "0.1"], ["4", "0.125", "0.001"],
                                                    ["test", "0.3", "0.2"]]


def test_report_prints_and_plots_where_the_example_was_started(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BUILD_WORKING_DIRECTORY", str(tmp_path))  # as under `bazel run`
    path = side_by_side.report(RUNS, "plot.png", "title")
    assert path == str(tmp_path / "plot.png") and (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert out.startswith("step") and out.endswith(f"wrote {path}\n")
    assert side_by_side.output_path("/abs/plot.png") == "/abs/plot.png"


def test_plots_losses_that_reach_zero_or_go_negative(tmp_path):
    for name, losses in (("zero", [2.0, 0.0, 1e-3]), ("negative", [1.0, -0.5, -2.0])):
        path = side_by_side.plot({"run": (np.asarray(losses), 0.0)}, str(tmp_path / f"{name}.png"), name)
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG" and path.endswith(f"{name}.png")
