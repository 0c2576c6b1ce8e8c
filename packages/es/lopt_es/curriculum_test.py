import lopt_tasks as lt
import pytest

from lopt_es.curriculum import Curriculum, geometric_lengths
from lopt_es.testing import LearnedLR, QuadraticTask
from lopt_es.truncated import PES

ESTIMATOR = PES(LearnedLR(), lt.SingleTaskFamily(QuadraticTask()), num_tasks=2, trunc_length=5, inner_length=10)


def test_curriculum_helpers():
    c = geometric_lengths(10, 1000, 3, every=100, multiple=5)
    assert c.settings(0) == {"inner_length": 10} and c.settings(150) == {"inner_length": 100}
    assert c.settings(10_000) == {"inner_length": 1000}
    with pytest.raises(ValueError, match="does not have"):
        Curriculum(((0, {"nonsense": 1}),)).apply(ESTIMATOR, 0)
    with pytest.raises(ValueError, match="sorted"):
        Curriculum(((5, {}), (0, {})))


def test_stages_apply_in_order():
    c = Curriculum(((0, {"inner_length": 10}), (5, {"inner_length": 20, "std": 0.5})))
    assert c.apply(ESTIMATOR, 4).inner_length == 10 and c.apply(ESTIMATOR, 4).std == ESTIMATOR.std
    late = c.apply(ESTIMATOR, 5)
    assert late.inner_length == 20 and late.std == 0.5
    assert Curriculum().apply(ESTIMATOR, 3) is ESTIMATOR
