"""Runs the meta-training benchmark on tiny configurations and checks what it prints."""

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


def test_mixture_is_compared_with_one_group_of_its_size(capsys):
    with flagsaver.flagsaver(estimator="pes", family=["tiny_digits"], structures_per_family=2, num_tasks=1,
                             trunc_length=2, inner_length=4, benchmark_steps=2):
        meta_train_benchmark.main([])
    out = capsys.readouterr().out
    assert "small_fc_lopt + PES on family tiny_digits (2 structures each): 2 groups of 1 task (2 tasks)" in out
    mixture = re.search(r"mixture: outer steps/s [\d.]+\s+inner steps/s (\d+)", out)
    single = re.search(r"one group of 2 tasks: outer steps/s [\d.]+\s+inner steps/s (\d+)", out)
    ratio = re.search(r"mixture / one group inner steps/s: ([\d.]+)", out)
    assert mixture and single and ratio, out
    assert int(mixture.group(1)) > 0 and int(single.group(1)) > 0 and float(ratio.group(1)) > 0
