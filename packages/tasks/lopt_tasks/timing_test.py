import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks import timing
from lopt_tasks.augmentations._testing import CountingRegression, RegressionFamily, TanhRegression
from lopt_tasks.base import TaskConfig
from lopt_tasks.timing import StepTimer, config_key, measure_step_time


class ScriptedClock:
    """Returns 0, d1, d1, d1 + d2, ...: successive start/stop pairs that span the given durations."""

    def __init__(self, durations):
        self.readings = iter(np.cumsum([x for d in durations for x in (0.0, d)]).tolist())

    def __call__(self):
        return next(self.readings)


def test_the_result_is_the_median_of_the_timed_runs():
    clock = ScriptedClock([5.0, 1.0, 3.0, 100.0, 2.0])
    assert measure_step_time(TanhRegression(), num_runs=5, clock=clock) == pytest.approx(3.0)


def test_a_real_measurement_of_a_tiny_stateful_task_is_small_and_positive():
    seconds = measure_step_time(CountingRegression(), num_runs=3)
    assert 0 < seconds < 0.5


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_runs must be >= 1"):
        measure_step_time(TanhRegression(), num_runs=0)
    with pytest.raises(ValueError, match="has no split 'valid'"):
        measure_step_time(TanhRegression(), split="valid")


def fake_measure(calls):
    def measure(task):
        calls.append(task)
        return 1e-3 * task.d
    return measure


def test_step_timer_measures_each_config_once(monkeypatch):
    monkeypatch.setattr(timing, "_sgd_step", lambda task: pytest.fail("a real step was timed"))
    calls = []
    timer = StepTimer(measure=fake_measure(calls), device="fake")
    family = RegressionFamily()
    cfg = TaskConfig(3, {"log_scale": jnp.float32(0.12345)})
    assert timer(family, cfg) == pytest.approx(3e-3)
    assert timer(family, cfg) == pytest.approx(3e-3)
    # Values equal to 3 significant digits share the measurement; others do not.
    timer(family, TaskConfig(3, {"log_scale": jnp.float32(0.12346)}))
    assert len(calls) == 1
    timer(family, TaskConfig(3, {"log_scale": jnp.float32(0.2)}))
    timer(family, TaskConfig(4, {"log_scale": jnp.float32(0.12345)}))
    assert len(calls) == timer.measurements == 3


def test_step_timer_persists_to_disk_per_device(tmp_path):
    path = str(tmp_path / "times" / "steps.json")
    family = RegressionFamily()
    cfg = family.sample(jax.random.PRNGKey(0))
    calls = []
    StepTimer(measure=fake_measure(calls), path=path, device="fake")(family, cfg)
    again = StepTimer(measure=fake_measure(calls), path=path, device="fake")
    assert again(family, cfg) == pytest.approx(1e-3 * cfg.structure) and len(calls) == 1
    StepTimer(measure=fake_measure(calls), path=path, device="other")(family, cfg)
    assert len(calls) == 2
    with open(path) as f:
        assert len(json.load(f)) == 2


def test_config_key_is_readable_and_rounds_values():
    family = RegressionFamily()
    cfg = TaskConfig(("mlp", (32, 32)), {"scale": jnp.asarray([1.23456, 2e-7]), "key": jnp.asarray([1, 2], jnp.uint32)})
    key = config_key(family, cfg, digits=3, device="cpu")
    assert key == "cpu|regression_family|('mlp', (32, 32))|['key'][2]=[1,2];['scale'][2]=[1.23,2e-07]"
