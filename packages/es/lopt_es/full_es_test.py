"""FullES samples a structure per estimate; it traces (and compiles) a structure's inner training only once."""

import collections
import dataclasses

import jax
import jax.numpy as jnp
import lopt_tasks as lt

from lopt_es.full_es import FullES
from lopt_es.testing import LearnedLR, QuadraticTask

#: Structures in the order the family sampled them, and how often each was traced into a program.
SAMPLED: list[str] = []
TRACES: collections.Counter = collections.Counter()


@dataclasses.dataclass(frozen=True)
class CountedQuadratic(QuadraticTask):
    """A quadratic that counts the traces of its initialisation and loss (Python runs them only when tracing)."""

    structure: str = ""

    def init(self, key):
        TRACES[self.structure] += 1
        return super().init(key)

    def loss(self, params, key, batch):
        TRACES[self.structure] += 1
        return super().loss(params, key, batch)


@dataclasses.dataclass(frozen=True)
class TwoQuadratics(lt.TaskFamily):
    """Two structures, quadratics of 3 and of 2 dimensions, drawn with equal probability."""

    @property
    def name(self):
        return "two_quadratics"

    def sample_structure(self, key):
        SAMPLED.append(("wide", "narrow")[int(jax.random.bits(key)) % 2])
        return SAMPLED[-1]

    def sample_values(self, key, structure):
        return {}

    def task(self, cfg):
        if cfg.structure == "wide":
            return CountedQuadratic(structure="wide")
        return CountedQuadratic(curvature=(1.0, 2.0), target=(1.0, 0.0), start=(0.0, 0.0), structure="narrow")


def test_each_structure_is_traced_once_however_often_it_is_drawn():
    jax.clear_caches()  # a program of an earlier test in this process must not hide the first trace
    estimator = FullES(LearnedLR(), TwoQuadratics(), num_tasks=3, inner_length=4, steps_per_call=2, std=0.1)
    theta = {"log_lr": jnp.asarray(-1.0, jnp.float32)}
    state = estimator.init(jax.random.PRNGKey(0), theta)
    seen = set()
    for i in range(8):
        before = dict(TRACES)
        _, state, _ = estimator.estimate(state, theta, jax.random.PRNGKey(i))
        structure = SAMPLED[-1]
        if structure in seen:
            assert dict(TRACES) == before, (i, structure)
        else:
            assert TRACES[structure] > before.get(structure, 0), (i, structure)
        seen.add(structure)
    assert seen == {"wide", "narrow"}
