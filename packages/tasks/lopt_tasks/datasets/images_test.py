import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits

import lopt_tasks
from lopt_tasks.datasets import images, tfds_source


def _sorted_rows(images, labels):
    rows = np.concatenate([images.reshape(len(images), -1), labels[:, None]], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def test_digits_split_sizes_and_contents():
    splits = lopt_tasks.image_dataset("digits", batch_size=100)
    assert {k: v.num_examples for k, v in splits.items()} == {"train": 1437, "test": 360}
    # Together the splits are exactly scikit-learn's 1797 digits, pixel values / 16.
    reference = load_digits()
    ours = {k: v.arrays for k, v in splits.items()}
    both_images = np.concatenate([ours["train"]["image"], ours["test"]["image"]]).astype(np.float64)
    both_labels = np.concatenate([ours["train"]["label"], ours["test"]["label"]])
    np.testing.assert_array_equal(
        _sorted_rows(both_images, both_labels), _sorted_rows(reference.images, reference.target)
    )
    batch = splits["train"].batch(3, seed=1)
    assert batch["image"].shape == (100, 8, 8, 1) and batch["image"].dtype == np.float32
    assert batch["label"].shape == (100,) and batch["label"].dtype == np.int32
    assert batch["image"].min() == 0.0 and batch["image"].max() == 1.0
    np.testing.assert_array_equal(np.unique(batch["image"] * 16), np.unique(np.round(batch["image"] * 16)))


def test_a_batch_larger_than_the_test_split_evaluates_it_whole():
    # heldout-v1 trains the digits MLP at batch 512; digits' test split has 360 images.
    splits = lopt_tasks.image_dataset("digits", batch_size=512)
    assert splits["train"].batch_size == 512 and splits["test"].batch_size == 360
    assert splits["test"].batch(0, seed=0)["image"].shape == (360, 8, 8, 1)
    with pytest.raises(ValueError, match="digits/train: batch_size 2000 must be between 1 and the 1437"):
        lopt_tasks.image_dataset("digits", batch_size=2000)


def test_digits_batches_are_deterministic_and_seeded():
    a = lopt_tasks.image_dataset("digits", batch_size=32)["train"]
    b = lopt_tasks.image_dataset("digits", batch_size=32)["train"]
    np.testing.assert_array_equal(a.batch(5, 7)["image"], b.batch(5, 7)["image"])
    assert not np.array_equal(a.batch(5, 7)["label"], a.batch(5, 8)["label"])


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "imagenet16"])
def test_tfds_images_in_the_real_format(name):
    tfds_source.clear_cache()
    info = lopt_tasks.image_info(name)
    with tfds.testing.mock_data(num_examples=40):
        splits = lopt_tasks.image_dataset(name, batch_size=16)
        raw = tfds.data_source(info.source, split=dict(info.splits)["test"])
        raw_images = np.stack([raw[i]["image"] for i in range(len(raw))])
    assert set(splits) == {"train", "test"} and splits["test"].num_examples == 40
    np.testing.assert_array_equal(splits["test"].arrays["image"], raw_images)
    batch = splits["train"].batch(1, seed=0)
    assert batch["image"].shape == (16, *lopt_tasks.image_shape(name))
    assert batch["image"].dtype == np.float32 and 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    stored = {tuple(x) for x in splits["train"].arrays["image"].reshape(40, -1)}
    assert all(tuple(x) in stored for x in np.round(batch["image"] * 255).astype(np.uint8).reshape(16, -1))
    assert batch["label"].dtype == np.int32 and batch["label"].max() < lopt_tasks.num_classes(name)


def test_resize_keeps_constant_images_constant():
    batch = {"image": np.full((2, 8, 8, 3), 51, np.uint8), "label": np.zeros(2, np.int64)}
    for size in [(4, 4), (16, 12)]:
        out = images._scale_and_resize(batch, 255.0, size)
        assert out["image"].shape == (2, *size, 3)
        np.testing.assert_allclose(out["image"], 0.2, rtol=1e-6)
    resized = lopt_tasks.image_dataset("digits", batch_size=4, image_size=(16, 16))["test"].batch(0, 0)
    assert resized["image"].shape == (4, 16, 16, 1)


def test_info_and_unknown_names():
    assert lopt_tasks.num_classes("imagenet16") == 1000
    assert lopt_tasks.image_shape("cifar10") == (32, 32, 3)
    with pytest.raises(KeyError, match=r"unknown image dataset 'svhn'; known: \['cifar10', 'digits'"):
        lopt_tasks.image_dataset("svhn", 8)
