import jax
import lopt_tasks as lt
import numpy as np
import pytest

from lopt_eval import baselines
from lopt_eval.baselines import LEARNING_RATES, _select, lr_sweep, meta_loss_at, nadamw_search


def test_fifteen_half_powers_of_ten():
    assert len(LEARNING_RATES) == 15
    np.testing.assert_allclose(np.log10(LEARNING_RATES), np.arange(-7, 0.01, 0.5))


def test_selection_prefers_the_lowest_mean_and_ignores_diverged_configurations():
    meta = np.asarray([[1.0, 1.2], [0.5, np.nan], [0.8, 0.9], [np.inf, 0.1]])
    assert _select(meta) == 2
    assert _select(np.full((3, 2), np.nan)) == 0


def test_lr_sweep_selects_the_configuration_with_the_lowest_meta_loss():
    task = lt.get_task("digits_mlp", batch_size=32)
    reports = []
    best, runs = lr_sweep(task, "sgd", 30, [0, 1], learning_rates=(1e-4, 1e-1, 1.0, 30.0), configs_per_call=3,
                          progress=lambda done, total: reports.append((done, total)))
    # Configuration-steps over both chunks (3 rates, then 1), one report per chunk of (up to 100) steps.
    assert reports == [(90, 120), (120, 120)]
    assert [r.hyperparameters["learning_rate"] for r in runs] == [1e-4, 1e-1, 1.0, 30.0]
    assert sum(r.role == "baseline" for r in runs) == 1 and best.role == "baseline"
    means = [np.mean(r.meta_loss) if np.all(np.isfinite(r.meta_loss)) else np.inf for r in runs]
    assert best is runs[int(np.argmin(means))]
    assert best.train_loss.shape == (2, 30) and best.task == "digits_mlp"
    # A tiny learning rate leaves the loss near its start; the selected one improves on it.
    assert np.mean(best.meta_loss) < np.mean(runs[0].meta_loss) - 0.1


def test_nadamw_search_draws_are_recorded_and_valid():
    task = lt.get_task("digits_mlp", batch_size=16)
    best, runs = nadamw_search(task, 10, [0], num_trials=6, key=jax.random.PRNGKey(3), configs_per_call=4)
    assert len(runs) == 6 and best.optimizer == "nadamw"
    assert set(runs[0].hyperparameters) == {"learning_rate", "beta1", "beta2", "epsilon", "l2_weight_decay",
                                             "adamw_weight_decay", "use_nesterov", "warmup_fraction",
                                             "constant_fraction", "min_learning_rate_mult"}
    assert all(1e-5 <= r.hyperparameters["learning_rate"] <= 1.0 for r in runs)


def test_unknown_optimizer():
    with pytest.raises(KeyError, match="unknown optimizer 'adamx'; known: adabelief"):
        lr_sweep(lt.get_task("digits_mlp"), "adamx", 1, [0])
    assert baselines.LEARNING_RATES[-1] == 1.0


def test_selection_at_a_shorter_horizon():
    # Trial 0 is better early, trial 1 later: which wins depends on the horizon.
    losses = np.asarray([[[1.0, 1.0, 1.0, 1.0]], [[1.5, 1.5, 0.0, 0.0]]])
    assert _select(meta_loss_at(losses, 3.0, None)) == 1
    assert _select(meta_loss_at(losses, 3.0, 2)) == 0
    np.testing.assert_allclose(meta_loss_at(np.asarray([[5.0, 1.0]]), 2.0, None), [1.5])
