"""tools/compare_pretrained on the shipped registry."""

import os

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
