import dataclasses
import math

import jax
import numpy as np
import pytest

from lopt_tasks import timing
from lopt_tasks.augmentations._testing import TanhRegression
from lopt_tasks.base import TaskFamily
from lopt_tasks.rejection import AcceptanceRule, TimeFilteredFamily, rejection_sample
from lopt_tasks.sampling import numpy_rng
from lopt_tasks.timing import StepTimer

#: Structure s (drawn uniformly from 0..3) "takes" 2^s milliseconds.
TIMES = {s: 1e-3 * 2**s for s in range(4)}


@dataclasses.dataclass(frozen=True)
class FourSizes(TaskFamily):
    @property
    def name(self):
        return "four_sizes"

    def sample_structure(self, key):
        return int(numpy_rng(key).integers(4))

    def sample_values(self, key, structure):
        return {"u": jax.random.uniform(key, ())}

    def task(self, cfg):
        return TanhRegression(d=cfg.structure + 1)


def fake_time(family, cfg):
    return TIMES[cfg.structure]


def expected(rule):
    weights = np.array([rule.probability(TIMES[s]) for s in range(4)]) / 4  # p(s) = 1/4
    return weights / weights.sum(), weights.sum()


def chi_square(counts, probabilities):
    n = counts.sum()
    return float(np.sum((counts - n * probabilities) ** 2 / (n * probabilities)))


@pytest.fixture(autouse=True)
def no_real_timing(monkeypatch):
    monkeypatch.setattr(timing, "_sgd_step", lambda task: pytest.fail("a real step was timed"))


def test_acceptance_probability_is_the_documented_rule():
    rule = AcceptanceRule(reference_time=2e-3, power=1.0, max_time=5e-3)
    assert [rule.probability(t) for t in (1e-3, 2e-3, 4e-3, 5e-3, 6e-3, math.nan)] == [1.0, 1.0, 0.5, 0.4, 0.0, 0.0]
    assert AcceptanceRule(1e-3, power=2.0).probability(4e-3) == pytest.approx(1 / 16)
    with pytest.raises(ValueError, match="reference_time must be > 0"):
        AcceptanceRule(0.0)


@pytest.mark.parametrize(
    "rule",
    [
        AcceptanceRule(reference_time=1e-3),  # q ∝ p / t: [8, 4, 2, 1] / 15
        AcceptanceRule(reference_time=2e-3, power=0.5),
        AcceptanceRule(reference_time=1.0, power=0.0, max_time=3e-3),  # the reference's rule: p truncated to t < 3 ms
    ],
)
def test_empirical_frequencies_match_the_rule(rule):
    n = 1500
    tries = []

    def counting_time(family, cfg):
        tries.append(cfg.structure)
        return fake_time(family, cfg)

    draws = [rejection_sample(FourSizes(), jax.random.PRNGKey(i), counting_time, rule).structure for i in range(n)]
    counts = np.bincount(draws, minlength=4).astype(float)
    probabilities, acceptance = expected(rule)
    support = probabilities > 0
    assert np.all(counts[~support] == 0)
    # Chi-square with (support − 1) degrees of freedom; 18.5 is its 0.9997 quantile at 3 dof.
    assert chi_square(counts[support], probabilities[support]) < 18.5
    # Tries per accepted draw are geometric with mean 1 / Z.
    assert len(tries) / n == pytest.approx(1 / acceptance, rel=0.06)


def test_time_filtered_family_rejects_structures_and_measures_each_once():
    calls = []

    def measure(task):
        calls.append(task.d)
        return TIMES[task.d - 1]

    timer = StepTimer(measure=measure, device="fake")
    rule = AcceptanceRule(reference_time=1e-3)
    family = TimeFilteredFamily(FourSizes(), timer, rule)
    structures = [family.sample_structure(jax.random.PRNGKey(i)) for i in range(1200)]
    probabilities, _ = expected(rule)
    assert chi_square(np.bincount(structures, minlength=4).astype(float), probabilities) < 18.5
    assert sorted(calls) == [1, 2, 3, 4]  # one measurement per structure
    cfgs = family.sample_batch(jax.random.PRNGKey(0), 5)
    assert cfgs.values["u"].shape == (5,) and family.task(cfgs).d == cfgs.structure + 1
    assert family.sample(jax.random.PRNGKey(3)).structure == family.sample(jax.random.PRNGKey(3)).structure


def test_no_acceptance_in_max_tries_is_an_error_naming_the_times():
    rule = AcceptanceRule(reference_time=1e-3, max_time=1e-4)
    with pytest.raises(ValueError, match=r"nothing accepted in 20 tries .* min 0.001 s, median .*, max 0.008 s"):
        rejection_sample(FourSizes(), jax.random.PRNGKey(0), fake_time, rule, max_tries=20)
    with pytest.raises(ValueError, match="time_filtered_four_sizes: nothing accepted"):
        TimeFilteredFamily(FourSizes(), fake_time, rule, max_tries=5).sample(jax.random.PRNGKey(0))
