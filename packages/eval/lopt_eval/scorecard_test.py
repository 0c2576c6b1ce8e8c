import math

import numpy as np
import pytest

from lopt_eval import scorecard, schema


def test_interquartile_mean_drops_a_quarter_at_each_end():
    assert scorecard.interquartile_mean([1, 2, 3, 4, 5, 6, 7, 100]) == pytest.approx(np.mean([3, 4, 5, 6]))
    assert scorecard.interquartile_mean([5, 1, 3]) == pytest.approx(3.0)  # n < 4: plain mean
    assert scorecard.interquartile_mean([0.5, 0.9, math.inf, 1.0, 0.7]) == pytest.approx(np.mean([0.7, 0.9, 1.0]))


def test_bootstrap_interval_on_hand_made_numbers():
    # Constant values: every resample has the same IQM.
    assert scorecard.bootstrap_interval([2.0] * 10) == (2.0, 2.0)
    # The interval brackets the statistic and narrows with more data of the same spread.
    rng = np.random.default_rng(0)
    small, large = rng.normal(1.0, 0.2, 12), rng.normal(1.0, 0.2, 400)
    lo, hi = scorecard.bootstrap_interval(small)
    assert lo < scorecard.interquartile_mean(small) < hi
    lo2, hi2 = scorecard.bootstrap_interval(large)
    assert hi2 - lo2 < hi - lo
    # The mean of a sample of the integers 0..9 (n=10): its 95% interval is about ±1.8 around 4.5.
    lo3, hi3 = scorecard.bootstrap_interval(np.arange(10.0), statistic=np.mean, samples=4000)
    assert 2.3 < lo3 < 3.0 and 6.0 < hi3 < 6.7


@pytest.mark.parametrize("c, c_std, b, b_std, win", [
    (0.90, 0.01, 1.00, 0.01, True),     # 10% lower, spreads apart
    (0.99, 0.001, 1.00, 0.001, False),  # under the 2% margin
    (0.90, 0.06, 1.00, 0.06, False),    # inside the seeds' spread
    (-3.7, 0.04, -3.4, 0.06, True),     # negative (log) losses: 2% of |b|
    (float("nan"), 0.0, 1.0, 0.1, False),
])
def test_win_rule(c, c_std, b, b_std, win):
    assert scorecard.is_win(c, c_std, b, b_std) == win


def test_ratio_of_log_losses_is_that_of_the_underlying_quantities():
    assert scorecard.final_loss_ratio(0.5, 2.0) == 0.25
    assert scorecard.final_loss_ratio(-3.7, -3.4) == pytest.approx(math.exp(-0.3))
    assert scorecard.final_loss_ratio(float("nan"), 1.0) == math.inf


def _run(optimizer, task, role, finals):
    curve = np.tile(np.asarray(finals, np.float64)[:, None], (1, 40))
    return schema.Run(optimizer, task, role, {}, 40, list(range(len(finals))), curve, 0.01, np.asarray(finals))


def test_scorecard_of_a_results_file():
    runs, summary = [], []
    for i, (c, b) in enumerate([(0.5, 1.0), (1.0, 1.0), (2.0, 1.0), (0.1, 1.0)]):
        task = f"t{i}"
        runs += [_run("cand", task, "candidate", [c * 0.99, c * 1.01]), _run("adam", task, "baseline", [b, b])]
        summary.append(schema.Summary("cand", task, c, 0.0, {"value": [2.0, 1.0, 0.5, 4.0][i], "bound": None,
                                                             "baseline": "adam"}))
    runs.append(_run("cand", "t4", "candidate", [float("nan"), 0.5]))
    runs.append(_run("adam", "t4", "baseline", [1.0, 1.0]))
    results = schema.Results({"candidate": "cand", "baselines": ["adam"], "num_steps": 40,
                              "tasks": ["t0", "t1", "t2", "t3", "t4"]}, runs, summary)
    card = scorecard.scorecard(results)
    assert [t.win for t in card.tasks] == [True, False, False, True, False]
    assert card.wins == 2 and card.diverged == 1
    np.testing.assert_allclose([t.ratio for t in card.tasks[:4]], [0.5, 1.0, 2.0, 0.1], rtol=1e-9)
    assert card.tasks[4].ratio == math.inf
    assert card.iqm_ratio == pytest.approx(np.mean([0.5, 1.0, 2.0]))  # of 0.1, 0.5, 1, 2, inf
    assert card.median_speedup == 1.5
    assert "wins 2/5" in card.line() and "diverged runs 1" in card.line()


def test_a_run_that_ends_above_where_it_started_diverged():
    steps = 100
    t = np.arange(steps, dtype=np.float64)
    curves = np.stack([
        2.0 * np.exp(-t / 20),                        # trains: not diverged
        np.where(t < 50, 2.0 - 0.01 * t, 10.0 ** (t / 6)),  # explodes to 1e16 and stays finite: diverged
        np.where(t < 99, 2.0 - 0.01 * t, np.nan),      # non-finite at the end: diverged
        2.0 + 0.005 * t,                               # creeps up past its start: diverged
        np.where(t < 60, 2.0 + 0.5 * t, 1.0),          # rises, then ends below its start: not diverged
        -3.0 - 0.01 * t,                               # negative (log) losses going down: not diverged
    ])
    np.testing.assert_array_equal(scorecard.diverged_seeds(curves, steps), [False, True, True, True, False, False])
    # Counted per task on the scorecard.
    runs = [schema.Run("cand", "t0", "candidate", {}, steps, list(range(6)), curves, 0.01, curves[:, -1]),
            schema.Run("adam", "t0", "baseline", {}, steps, list(range(6)), np.tile(curves[:1], (6, 1)), 0.01,
                       np.full(6, curves[0, -1]))]
    card = scorecard.scorecard(schema.Results({"candidate": "cand", "baselines": ["adam"], "num_steps": steps,
                                               "tasks": ["t0"]}, runs, []))
    assert card.tasks[0].diverged == 3 and card.diverged == 3
