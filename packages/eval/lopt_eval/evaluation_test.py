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
    results = evaluate("sgd-slow", lambda: la.sgd(1e-3), {"digits": task}, config)
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
