"""Runs the scan_unroll benchmark on a tiny task and checks its table and its errors."""

import re

import pytest
from absl import flags
from absl.testing import flagsaver

import scan_unroll_benchmark

flags.FLAGS.mark_as_parsed()

ROW = re.compile(r"^(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", re.M)


def test_one_row_per_optimizer_and_unroll_relative_to_the_first(capsys):
    with flagsaver.flagsaver(task="digits_mlp:hidden_sizes=4:batch_size=8", optimizers=["adam", "sgd"],
                             unrolls=["1", "3"], steps=6, seeds=2):
        scan_unroll_benchmark.main(["scan_unroll_benchmark"])
    out = capsys.readouterr().out
    rows = [(m.group(1), int(m.group(2)), float(m.group(3)), float(m.group(4)), float(m.group(5)))
            for m in ROW.finditer(out)]
    assert [(name, unroll) for name, unroll, *_ in rows] == [("adam", 1), ("adam", 3), ("sgd", 1), ("sgd", 3)]
    for name, unroll, first, again, ratio in rows:
        assert first > 0 and again > 0
        if unroll == 1:
            assert ratio == 1.0
    # The ratio is the run time over the first unroll's run time (to the printed precision).
    adam1, adam3 = rows[0][3], rows[1][3]
    assert rows[1][4] == pytest.approx(adam3 / adam1, abs=0.02 + 0.01 * adam3 / adam1)


@pytest.mark.parametrize("overrides,message", [
    ({"optimizers": ["adamx"]}, "unknown optimizer 'adamx'"),
    ({"optimizers": ["pretrained:nope"]}, "cannot load 'pretrained:nope'"),
    ({"unrolls": ["0"]}, "--unrolls must be positive integers"),
    ({"unrolls": ["x"]}, "--unrolls must be positive integers"),
    ({"task": "digit_mlp"}, "unknown task 'digit_mlp'"),
])
def test_bad_flags_are_one_line(overrides, message):
    with flagsaver.flagsaver(**overrides), pytest.raises(SystemExit) as exit_:
        scan_unroll_benchmark.main(["scan_unroll_benchmark"])
    assert str(exit_.value.code).startswith("scan_unroll_benchmark: ") and message in str(exit_.value.code)
    assert "\n" not in str(exit_.value.code)
