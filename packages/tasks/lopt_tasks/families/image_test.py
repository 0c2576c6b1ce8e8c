import math

import jax
import numpy as np
import pytest

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.autoencoder import AutoencoderFamily
from lopt_tasks.families.image import sample_image_data
from lopt_tasks.families.mlp import ImageMLPFamily, ImageMLPStructure
from lopt_tasks.image_task import ImageData


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


def test_dense_families_draw_one_width_in_range_and_share_their_first_draws():
    mlp, autoencoder = ImageMLPFamily(), AutoencoderFamily()
    structures = [mlp.sample_structure(jax.random.PRNGKey(i)) for i in range(100)]
    assert {len(s.hidden_sizes) for s in structures} == {0, 1, 2}
    assert all(len(set(s.hidden_sizes)) <= 1 and all(8 <= w < 32 for w in s.hidden_sizes) for s in structures)
    assert all(4 <= s.image_data.batch_size < 64 and s.image_data.dataset == "digits" for s in structures)
    for i, s in enumerate(structures[:20]):
        a = autoencoder.sample_structure(jax.random.PRNGKey(i))
        assert (a.image_data, a.hidden_sizes, a.activation, a.initializer) == (s.image_data, s.hidden_sizes, s.activation, s.initializer)
    reference = AutoencoderFamily.reference()
    assert (reference.batch_sizes, reference.image_sizes, reference.hidden_sizes, reference.depths) == ((4, 512), (4, 32), (8, 128), (0, 1, 2, 3, 4))
