import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.augmentations._testing import RegressionFamily, TanhRegression, batch_of
from lopt_tasks.augmentations.loss_scale import ScaledLossAugmentation
from lopt_tasks.augmentations.stale import StaleGradientsAugmentation
from lopt_tasks.augmentations.wrapper import Augmentation, AugmentedFamily, AugmentedStructure, TaskWrapper
from lopt_tasks.base import TaskConfig

KEY = jax.random.PRNGKey(0)


@dataclasses.dataclass(frozen=True)
class Renamed(TaskWrapper):
    @property
    def name(self):
        return "renamed"


@dataclasses.dataclass(frozen=True)
class Tag(Augmentation):
    """Wraps in `Renamed`; its static choice is a coin flip, to check the structure records it."""

    label: str = "tag"

    @property
    def name(self):
        return self.label

    def sample_static(self, rng):
        return bool(rng.uniform() < 0.5)

    def wrap(self, task, static, values):
        return Renamed(task)


def test_a_wrapper_delegates_everything_it_does_not_override():
    base = TanhRegression()
    task = Renamed(base)
    params = task.init(KEY)
    np.testing.assert_array_equal(params["w"], base.init(KEY)["w"])
    assert task.loss(params, KEY, batch_of(base)) == base.loss(params, KEY, batch_of(base))
    assert task.normalizer == base.normalizer and set(task.datasets) == {"train"}


def test_augmentations_apply_in_order_with_their_probability():
    family = AugmentedFamily(RegressionFamily(), (Tag("a"), Tag("b"), Tag("c")), probability=0.3)
    structures = [family.sample_structure(jax.random.PRNGKey(i)) for i in range(600)]
    for name in "abc":
        frequency = np.mean([name in dict(s.augmentations) for s in structures])
        assert abs(frequency - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 600)
    for s in structures:
        names = [n for n, _ in s.augmentations]
        assert names == sorted(names)  # the given order
    assert family.sample_structure(jax.random.PRNGKey(7)) == structures[7]  # deterministic


def test_config_values_and_the_built_task():
    family = AugmentedFamily(RegressionFamily(), (ScaledLossAugmentation(), StaleGradientsAugmentation((2,))))
    cfg = family.sample(KEY)
    assert isinstance(cfg.structure, AugmentedStructure)
    assert cfg.structure.augmentations == (("loss_scale", None), ("stale", 2))
    assert set(cfg.values) == {"inner", "loss_scale", "stale"}
    task = family.task(cfg)
    # Listed first means innermost.
    assert task.name == "tanh_regression+scaled_loss+stale2" and task.task.task.d == cfg.structure.inner
    assert family.name == "augmented_regression_family"


def test_values_of_an_augmentation_do_not_depend_on_which_others_were_chosen():
    family = AugmentedFamily(RegressionFamily(), (Tag("a"), ScaledLossAugmentation()))
    with_tag = AugmentedStructure(3, (("a", True), ("loss_scale", None)))
    without = AugmentedStructure(3, (("loss_scale", None),))
    a, b = family.sample_values(KEY, with_tag), family.sample_values(KEY, without)
    assert a["loss_scale"]["log_scale"] == b["loss_scale"]["log_scale"]


def test_bad_families_are_named():
    with pytest.raises(ValueError, match="names must be unique"):
        AugmentedFamily(RegressionFamily(), (Tag("a"), Tag("a")))
    with pytest.raises(ValueError, match="probability must be in"):
        AugmentedFamily(RegressionFamily(), (Tag("a"),), probability=2.0)
    family = AugmentedFamily(RegressionFamily(), (Tag("a"),))
    with pytest.raises(ValueError, match="names augmentation 'zzz'"):
        family.task(TaskConfig(AugmentedStructure(3, (("zzz", None),)), {"inner": {"log_scale": jnp.zeros(())}}))
