import math

import jax
import numpy as np
import pytest

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.image import ImageData, sample_image_data
from lopt_tasks.families.mlp import ImageMLPFamily, ImageMLPStructure


def test_sampled_image_data_stays_in_its_ranges():
    rng = np.random.default_rng(0)
    draws = [sample_image_data(rng, ("digits", "mnist"), (4, 64), (4, 32)) for _ in range(300)]
    assert {d.dataset for d in draws} == {"digits", "mnist"}
    assert all(4 <= d.batch_size < 64 and 4 <= d.image_size < 32 for d in draws)
    assert sample_image_data(rng, ("digits",), (8, 8), None).image_size is None


def test_input_shape_follows_the_image_size_and_batches_match_it():
    assert ImageData("digits", 5).input_shape == (5, 8, 8, 1)
    assert ImageData("cifar10", 5, image_size=12).input_shape == (5, 12, 12, 3)
    structure = ImageMLPStructure(ImageData("digits", 6, image_size=5), (), "relu", "variance_normal")
    task = ImageMLPFamily().task(TaskConfig(structure, {"init_scale": np.float32(1.0)}))
    batch = task.datasets["train"].batch(0, 0)
    assert batch["image"].shape == (6, 5, 5, 1) and batch["label"].shape == (6,)
    assert task.example_batch()["image"].shape == batch["image"].shape
    assert task.normalizer == pytest.approx(math.log(10))
    assert task.first_images().shape == (6, 5, 5, 1)
