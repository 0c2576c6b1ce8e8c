"""tools/compare_pretrained on the shipped registry."""

import os
import shutil

import pytest
from absl import flags
from absl.testing import flagsaver

import compare_pretrained

flags.FLAGS.mark_as_parsed()


def test_prints_a_scorecard_per_entry_and_plots_them_together(tmp_path, capsys):
    with flagsaver.flagsaver(horizon=200, plot_dir=str(tmp_path)):
        compare_pretrained.main(["compare_pretrained"])
    out = capsys.readouterr().out
    assert "small_fc_lopt_digits_mlp (lopt): " in out and "wins " in out and "IQM final-loss ratio" in out
    assert os.path.getsize(tmp_path / "speedups_T200.png") > 1000


def test_markdown_tables(capsys):
    with flagsaver.flagsaver(horizon=200, entries=["small_fc_lopt_digits_mlp"], markdown=True):
        compare_pretrained.main(["compare_pretrained"])
    out = capsys.readouterr().out
    assert "| family:conv:1 | 2.037 ± 0.029 | 0.5748 ± 0.085 (lr 3e-02) | 0.38× | loss |" in out
    assert "| task | candidate | tuned adam | speedup | vs tuned adam |" in out
    row = "| digits_mlp | 0.002744 ± 0.0025 | 0.007033 ± 0.0029 (lr 1e-02) | 1.20× | lower, within the spread |"
    assert row in out


def test_errors(capsys):
    with flagsaver.flagsaver(entries=["nope"]):
        with pytest.raises(SystemExit, match="no registry entry nope"):
            compare_pretrained.main(["compare_pretrained"])
    with flagsaver.flagsaver(horizon=7, entries=["small_fc_lopt_digits_mlp"]):
        with pytest.raises(SystemExit, match="no entry has an evaluation at T=7"):
            compare_pretrained.main(["compare_pretrained"])


def test_evaluation_directories_are_compared_with_their_scorecards_recomputed(tmp_path, capsys):
    registry = os.path.join(os.path.dirname(compare_pretrained.lopt_pretrained.__file__), "entries")
    for name, entry in (("one", "celo"), ("two", "small_fc_lopt_digits_mlp")):
        os.makedirs(tmp_path / name)
        shutil.copy(os.path.join(registry, entry, "results_T1000.json"), tmp_path / name / "results.json")
    with flagsaver.flagsaver(horizon=1000, results=[str(tmp_path / "one"), str(tmp_path / "two" / "results.json")],
                             plot_dir=str(tmp_path)):
        compare_pretrained.main(["compare_pretrained"])
    out = capsys.readouterr().out.splitlines()
    with flagsaver.flagsaver(horizon=1000, entries=["celo", "small_fc_lopt_digits_mlp"]):
        compare_pretrained.main(["compare_pretrained"])
    entries = capsys.readouterr().out.splitlines()
    # The same results give the same scorecard, named after the directory instead of the entry.
    assert out[0] == entries[0].replace("celo (third_party): ", "one: ")
    assert out[1] == entries[1].replace("small_fc_lopt_digits_mlp (lopt): ", "two: ")
    assert os.path.getsize(tmp_path / "speedups_T1000.png") > 1000
    with flagsaver.flagsaver(horizon=200, results=[str(tmp_path / "one")]):
        with pytest.raises(SystemExit, match="evaluates 1000 steps, not --horizon=200"):
            compare_pretrained.main(["compare_pretrained"])
    with flagsaver.flagsaver(horizon=1000, results=[str(tmp_path / "missing")]):
        with pytest.raises(SystemExit, match="cannot read the evaluation"):
            compare_pretrained.main(["compare_pretrained"])
    with flagsaver.flagsaver(horizon=1000, results=[str(tmp_path / "one")], entries=["celo"]):
        with pytest.raises(SystemExit, match="drop --entries"):
            compare_pretrained.main(["compare_pretrained"])
