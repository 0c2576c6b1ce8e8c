"""Runs the meta-training benchmark on a tiny configuration and checks what it prints."""

import re

from absl import flags
from absl.testing import flagsaver

import meta_train_benchmark

flags.FLAGS.mark_as_parsed()


def test_prints_throughput(capsys):
    with flagsaver.flagsaver(estimator="pes", num_tasks=2, trunc_length=2, inner_length=4, benchmark_steps=2):
        meta_train_benchmark.main([])
    out = capsys.readouterr().out
    match = re.search(r"outer steps/s ([\d.]+)\s+inner steps/s (\d+)", out)
    assert match and float(match.group(1)) > 0 and int(match.group(2)) > 0
    assert "small_fc_lopt + PES on task digits_mlp: 2 tasks, truncation 2" in out
