"""Speedups on hand-made curves whose answers are computed by hand in the comments."""

import numpy as np
import pytest

from lopt_eval.speedup import (SpeedupResult, default_window, moving_average, sorted_speedups,
                               speedup)

T = 10
STEPS = np.arange(1, 4 * T + 1)  # 1-based steps of a baseline run 4x as long as the candidate's
BASELINE = np.stack([1.0 / STEPS, 1.0 / STEPS])  # two seeds; loss 1/s at step s


def candidate_ending_at(loss, num_steps=T):
    """Two seeds whose mean is `loss` at the last step; earlier steps do not matter with smoothing=1."""
    curve = np.linspace(2.0, loss, num_steps)
    return np.stack([curve - 0.01, curve + 0.01])


def test_candidate_at_the_baselines_step_2t_loss_is_twice_as_fast():
    # 1/s = 1/20 at s = 20 = 2T.
    assert speedup(candidate_ending_at(1 / 20), BASELINE, smoothing=1) == pytest.approx((2.0, None))


def test_worse_candidate_is_interpolated_between_steps():
    # 0.3 lies between 1/3 (step 3) and 1/4 (step 4): S = 3 + (1/3 - 0.3) / (1/3 - 1/4) = 3.4.
    result = speedup(candidate_ending_at(0.3), BASELINE, smoothing=1)
    assert result.bound is None
    assert result.value == pytest.approx(0.34)


def test_loss_the_baseline_never_reaches_is_a_lower_bound_of_its_length():
    # min 1/s over 40 steps is 0.025 > 0.01.
    assert speedup(candidate_ending_at(0.01), BASELINE, smoothing=1) == (4.0, "lower")


def test_loss_no_better_than_the_baselines_first_step_is_an_upper_bound():
    # The baseline starts at 1 <= 1.5 = L: S <= 1, speedup <= 1/T.
    assert speedup(candidate_ending_at(1.5), BASELINE, smoothing=1) == (0.1, "upper")
    assert speedup(candidate_ending_at(1.0), BASELINE, smoothing=1) == (0.1, "upper")


def test_identical_decreasing_curves_have_speedup_one_for_every_window():
    # A decreasing curve stays decreasing when smoothed, so the baseline's running minimum first
    # reaches the candidate's last smoothed value at step T whatever the window.
    candidate = np.stack([np.exp(-STEPS[:T] / 3.0), 2 * np.exp(-STEPS[:T] / 3.0)])
    baseline = np.stack([np.exp(-STEPS / 3.0), 2 * np.exp(-STEPS / 3.0)])
    for window in (1, 2, 3, T):
        assert speedup(candidate, baseline, smoothing=window) == pytest.approx((1.0, None))


def test_noisy_candidate_is_compared_with_the_baselines_best_so_far():
    # The baseline dips to 0.4 at step 2 and the candidate ends at 0.5: S = 1 + (1 - 0.5) / (1 - 0.4) = 11/6.
    candidate = np.array([[1.0, 0.4, 0.7, 0.5]])
    assert speedup(candidate, candidate, smoothing=1) == pytest.approx((11 / 6 / 4, None))


def test_smoothing_window_sets_the_target_and_smooths_the_baseline():
    candidate = np.array([[3.0, 2.0, 1.0, 0.2]])
    baseline = np.array([4.0 - 0.5 * np.arange(1, 17)])  # 3.5, 3.0, ..., -4.0 over 16 steps
    # w=1: L = 0.2 = 4 - 0.5 s at s = 7.6.
    assert speedup(candidate, baseline, smoothing=1) == pytest.approx((7.6 / 4, None))
    # w=2: L = (1.0 + 0.2) / 2 = 0.6; the smoothed baseline is 4.25 - 0.5 s for s >= 2, = 0.6 at s = 7.3.
    assert speedup(candidate, baseline, smoothing=2) == pytest.approx((7.3 / 4, None))


def test_default_window_is_five_percent_of_the_candidates_steps():
    assert [default_window(n) for n in (1, 10, 30, 100, 1000)] == [1, 1, 2, 5, 50]
    candidate = np.stack([np.linspace(1.0, 0.5, 100)])
    baseline = np.stack([np.linspace(1.0, 0.0, 400)])
    assert speedup(candidate, baseline) == speedup(candidate, baseline, smoothing=5)


def test_moving_average_is_trailing_and_propagates_divergence():
    np.testing.assert_allclose(moving_average(np.array([1.0, 2.0, 3.0, 4.0]), 2), [1.0, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(moving_average(np.array([1.0, 2.0, 3.0, 4.0]), 3), [1.0, 1.5, 2.0, 3.0])
    np.testing.assert_allclose(moving_average(np.array([1.0, np.nan, 3.0, 4.0]), 2), [1.0, np.nan, np.nan, 3.5])


def test_a_run_that_exploded_and_came_back_keeps_its_later_losses():
    # Losses of 1e30 early on, then 1e10: the last window's mean is 1e10 (by hand), not what prefix sums of
    # 1e30-sized numbers leave after cancelling (0, which scored an exploded run as reaching zero loss).
    curve = np.concatenate([np.full(5, 1e30), np.full(20, 1e10)])
    np.testing.assert_allclose(moving_average(curve, 4)[-1], 1e10)
    np.testing.assert_allclose(moving_average(curve, 4)[6], (2 * 1e30 + 2 * 1e10) / 4)  # steps 3..6
    # So such a candidate is slower than a baseline that is at 1/s: the baseline is below 1e10 from step 1.
    candidate = np.stack([np.r_[np.full(3, 1e30), np.full(7, 1e10)]] * 2)
    assert speedup(candidate, BASELINE, smoothing=5) == SpeedupResult(1.0 / T, "upper")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_candidate_diverged_on_one_seed_scores_zero(bad):
    candidate = candidate_ending_at(1 / 20)
    candidate[1, -3:] = bad
    assert speedup(candidate, BASELINE, smoothing=1) == (0.0, None)
    assert speedup(np.full((3, T), np.nan), BASELINE) == (0.0, None)


def test_baseline_seed_diverging_after_reaching_the_target_still_counts():
    baseline = BASELINE.copy()
    baseline[1, 24:] = np.nan  # diverges at step 25, after reaching 1/20 at step 20
    assert speedup(candidate_ending_at(1 / 20), baseline, smoothing=1) == pytest.approx((2.0, None))


def test_baseline_seed_diverging_before_reaching_the_target_never_reaches_it():
    baseline = BASELINE.copy()
    baseline[1, 9:] = np.nan  # the seed mean is diverged from step 10 on; its best is 1/9 > 1/20
    assert speedup(candidate_ending_at(1 / 20), baseline, smoothing=1) == (4.0, "lower")


def test_baseline_trials_use_their_bottom_envelope():
    fast_plateau = np.maximum(1.0 / STEPS, 0.2)  # reaches 0.2 at step 5, then stops improving
    slow = 2.0 / STEPS  # 0.2 at step 10, 0.1 at step 20
    trials = np.stack([np.stack([fast_plateau] * 2), np.stack([slow] * 2)])
    # L = 0.25: the fast trial, 1/s at s = 4.
    assert speedup(candidate_ending_at(0.25), trials, smoothing=1) == pytest.approx((0.4, None))
    # L = 0.1: only the slow trial, 2/s at s = 20.
    assert speedup(candidate_ending_at(0.1), trials, smoothing=1) == pytest.approx((2.0, None))
    assert speedup(candidate_ending_at(0.1), trials[0], smoothing=1) == (4.0, "lower")


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match=r"candidate_loss: shape \(10,\), expected a non-empty \[seeds, steps\]"):
        speedup(np.ones(T), BASELINE)
    with pytest.raises(ValueError, match="baseline_loss"):
        speedup(candidate_ending_at(0.1), np.ones(4 * T))
    with pytest.raises(ValueError, match=r"smoothing=11, expected an integer window in \[1, 10\]"):
        speedup(candidate_ending_at(0.1), BASELINE, smoothing=11)
    with pytest.raises(ValueError, match="smoothing=0"):
        speedup(candidate_ending_at(0.1), BASELINE, smoothing=0)


def test_speedup_result_in_the_results_file_format():
    assert SpeedupResult(4.0, "lower").to_json("adam") == {"value": 4.0, "bound": "lower", "baseline": "adam"}


def test_sorted_speedups_descending_with_fraction_of_tasks():
    out = sorted_speedups([1.5, 0.5, SpeedupResult(4.0, "lower"), 2.0, SpeedupResult(0.1, "upper")],
                          labels=["a", "b", "c", "d", "e"])
    np.testing.assert_allclose(out.values, [4.0, 2.0, 1.5, 0.5, 0.1])
    np.testing.assert_allclose(out.fraction, [0.2, 0.4, 0.6, 0.8, 1.0])
    assert out.bounds == ("lower", None, None, None, "upper")
    assert out.labels == ("c", "d", "a", "b", "e")
    assert out.fraction_above_one == pytest.approx(0.6)  # 4, 2 and 1.5 are > 1; exactly 1 would not be


def test_sorted_speedups_rejects_empty_and_non_finite():
    assert sorted_speedups([1.0]).fraction_above_one == 0.0
    with pytest.raises(ValueError, match="no speedups"):
        sorted_speedups([])
    with pytest.raises(ValueError, match="entry 1"):
        sorted_speedups([1.0, float("nan")])
    with pytest.raises(ValueError, match="2 labels for 1 speedups"):
        sorted_speedups([1.0], labels=["a", "b"])
