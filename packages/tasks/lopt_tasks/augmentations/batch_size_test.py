import jax
import numpy as np
import pytest

from lopt_tasks.augmentations._testing import RegressionFamily, TanhRegression, batch_of
from lopt_tasks.augmentations.batch_size import ReducedBatchSize, ReducedBatchSizeAugmentation, reduced_size
from lopt_tasks.augmentations.wrapper import AugmentedFamily

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("fraction, rows", [(0.5, 4), (0.3, 2), (0.01, 1), (1.0, 8)])
def test_batches_keep_their_first_rows(fraction, rows):
    base = TanhRegression(batch_size=8)
    task = ReducedBatchSize(base, fraction)
    source = task.datasets["train"]
    assert source.batch_size == rows == reduced_size(8, fraction)
    for index in (0, 5):
        full, cut = base.datasets["train"].batch(index, 3), source.batch(index, 3)
        for name in full:
            np.testing.assert_array_equal(cut[name], full[name][:rows])
    assert source.spec()["x"].shape == (rows, 3)
    params = task.init(KEY)
    np.testing.assert_allclose(task.loss(params, KEY, batch_of(task)), base.loss(params, KEY, batch_of(task)))


def test_family_version_draws_a_static_fraction():
    family = AugmentedFamily(RegressionFamily(), (ReducedBatchSizeAugmentation((0.2, 0.6)),))
    fractions = {family.sample_structure(jax.random.PRNGKey(i)).augmentations[0][1] for i in range(20)}
    assert len(fractions) > 5 and all(0.2 <= f <= 0.6 for f in fractions)
    cfg = family.sample(KEY)
    assert family.task(cfg).datasets["train"].batch(0, 0)["x"].shape[0] == reduced_size(8, cfg.structure.augmentations[0][1])


def test_fraction_must_be_in_range():
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        ReducedBatchSize(TanhRegression(), 1.5)
