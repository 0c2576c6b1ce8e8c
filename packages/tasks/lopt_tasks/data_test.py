import numpy as np
import pytest

from lopt_tasks.data import ArrayDataset, images_to_unit_interval


def make(n=10, batch_size=3):
    return ArrayDataset({"x": np.arange(n), "y": -np.arange(n)}, batch_size=batch_size, name="toy/train")


def test_batches_are_pure_functions_of_index_and_seed():
    a, b = make(), make()
    np.testing.assert_array_equal(a.batch(7, seed=3)["x"], b.batch(7, seed=3)["x"])
    assert not np.array_equal(a.batch(0, seed=3)["x"], a.batch(0, seed=4)["x"])
    # Order of access does not matter.
    late = a.batch(5, 1)["x"]
    a.batch(0, 1)
    np.testing.assert_array_equal(a.batch(5, 1)["x"], late)


def test_each_epoch_is_a_permutation_without_the_remainder():
    ds = make(n=10, batch_size=3)
    assert ds.batches_per_epoch == 3
    epoch = np.concatenate([ds.batch(i, 0)["x"] for i in range(3)])
    assert len(set(epoch)) == 9
    next_epoch = np.concatenate([ds.batch(i, 0)["x"] for i in range(3, 6)])
    assert not np.array_equal(epoch, next_epoch)
    batch = ds.batch(4, 0)
    np.testing.assert_array_equal(batch["y"], -batch["x"])  # rows stay aligned


def test_errors():
    with pytest.raises(ValueError, match="toy/train: batch_size 11 must be between 1 and the 10 examples"):
        make(batch_size=11)
    with pytest.raises(ValueError, match="different numbers of examples"):
        ArrayDataset({"x": np.zeros(3), "y": np.zeros(4)}, batch_size=1)
    with pytest.raises(ValueError, match="non-negative"):
        make().batch(-1, 0)


def test_transform_and_spec():
    ds = ArrayDataset({"image": np.full((4, 2, 2, 1), 255, np.uint8), "label": np.arange(4)}, batch_size=2,
                      transform=images_to_unit_interval)
    batch = ds.batch(0, 0)
    assert batch["image"].dtype == np.float32 and batch["image"].max() == 1.0
    assert ds.spec()["image"].shape == (2, 2, 2, 1)
