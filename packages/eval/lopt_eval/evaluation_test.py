import re

import lopt_architectures as la
import lopt_tasks as lt
import numpy as np

from lopt_eval import evaluation
from lopt_eval.evaluation import EvaluationConfig, evaluate, final_loss


def test_final_loss_averages_the_last_five_percent():
    losses = np.asarray([np.r_[np.ones(38), [3.0, 5.0]], np.r_[np.ones(38), [1.0, 1.0]]])
    mean, std = final_loss(losses, 40)
    assert mean == 2.5 and std == 1.5


def test_evaluate_reports_candidate_and_tuned_baselines_with_speedups():
    task = lt.get_task("digits_mlp", batch_size=32)
    config = EvaluationConfig(num_steps=20, seeds=(0, 1), baselines=("adam", "sgd"), baseline_multiple=2)
    lines = []
    results = evaluate("sgd-slow", lambda: la.sgd(1e-3), {"digits": task}, config, log=lines.append,
                       progress_every=0)
    # Each phase: a line as it starts, then its progress (one chunk of steps here) through the same log.
    assert lines == ["digits: sgd-slow, 2 seeds x 20 steps", "digits: sgd-slow: done in " + lines[1].split()[-1],
                     "digits: adam learning-rate sweep, 15 rates x 40 steps",
                     "digits: adam learning-rate sweep: done in " + lines[3].split()[-1],
                     "digits: sgd learning-rate sweep, 15 rates x 40 steps",
                     "digits: sgd learning-rate sweep: done in " + lines[5].split()[-1]]
    names = [(s.optimizer, s.task) for s in results.summary]
    assert names == [("sgd-slow", "digits"), ("adam", "digits"), ("sgd", "digits")]
    candidate = results.summary[0]
    # A tiny learning rate barely moves: tuned Adam reaches its loss almost at once.
    assert candidate.speedup["baseline"] == "adam" and candidate.speedup["value"] < 0.5
    roles = [r.role for r in results.runs]
    assert roles.count("candidate") == 1 and roles.count("baseline") == 2 and roles.count("trial") == 28
    sweep = [r for r in results.runs if r.optimizer == "adam"]
    assert all(r.num_steps == 40 for r in sweep)  # run 2x the horizon, tuned at it
    assert results.summary[1].final_loss_mean < candidate.final_loss_mean
    assert candidate.state_bytes_per_param == 0.0 and results.summary[1].state_bytes_per_param == 8.0  # sgd, adam
    assert all(s.step_seconds > 0 for s in results.summary)


def test_task_scan_unroll_overrides_the_default_per_task():
    config = evaluation.EvaluationConfig(num_steps=3, scan_unroll=2, task_scan_unroll=(("family:conv:1", 20),))
    assert config.unroll("family:conv:1") == 20 and config.unroll("digits_mlp") == 2


def test_progress_with_an_eta_goes_through_log():
    lines = []
    evaluate("sgd", lambda: la.sgd(0.1), {"digits": lt.get_task("digits_mlp", batch_size=8)},
             EvaluationConfig(num_steps=150, seeds=(0,), baselines=()), log=lines.append, progress_every=0)
    assert lines[0] == "digits: sgd, 1 seeds x 150 steps"
    assert re.fullmatch(r"digits: sgd: 67% in \d+s, ETA ≤\d+s", lines[1]), lines  # after the first 100 steps
    assert re.fullmatch(r"digits: sgd: done in \d+s", lines[2]) and len(lines) == 3
