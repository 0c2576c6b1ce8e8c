import dataclasses
import math

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.image_task import ImageClassificationTask, ImageData, dense_stack, flatten_images, image_splits


@dataclasses.dataclass(frozen=True)
class LinearClassifier(ImageClassificationTask):
    """Logits = a haiku linear layer on the flattened images."""

    image_data: ImageData = ImageData("digits", 5, (4, 6))
    data_dir: str | None = None
    name: str = "linear_classifier"

    def logits(self, images):
        return hk.Linear(self.num_classes)(flatten_images(images))


def test_image_data_shapes_for_a_square_side_a_height_and_width_and_the_stored_size():
    assert ImageData("digits", 5).input_shape == (5, 8, 8, 1)
    assert ImageData("cifar10", 5, image_size=12).input_shape == (5, 12, 12, 3)
    assert ImageData("cifar10", 2, image_size=(16, 8)).image_shape == (16, 8, 3)
    assert ImageData("imagenet16", 1).num_classes == 1000


def test_batches_follow_the_image_data_and_the_loss_matches_numpy():
    task = LinearClassifier()
    batch = task.datasets["train"].batch(1, seed=2)
    assert batch["image"].shape == (5, 4, 6, 1) == task.example_batch()["image"].shape
    assert task.image_shape == (4, 6, 1) and task.normalizer == pytest.approx(math.log(10))
    params = task.init(jax.random.PRNGKey(0))
    logits = batch["image"].reshape(5, -1) @ np.asarray(params["linear"]["w"], np.float64) + np.asarray(params["linear"]["b"])
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    expected = -np.mean(log_probs[np.arange(5), batch["label"]])
    np.testing.assert_allclose(task.loss(params, None, batch), expected, rtol=1e-5)
    zero = jax.tree_util.tree_map(jnp.zeros_like, params)
    np.testing.assert_allclose(task.loss(zero, None, batch), math.log(10), rtol=1e-6)
    np.testing.assert_array_equal(task.first_images(), task.datasets["train"].batch(0, 0)["image"])


def test_splits_are_loaded_once_per_argument_set():
    assert image_splits("digits", 5, (4, 6), None) is image_splits("digits", 5, (4, 6), None)
    square = image_splits("digits", 3, 4, None)["train"].batch(0, 0)["image"]
    np.testing.assert_array_equal(square, image_splits("digits", 3, (4, 4), None)["train"].batch(0, 0)["image"])


def test_dense_stack_matches_numpy():
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    model = hk.transform(lambda x: dense_stack((5, 2), None, jax.nn.relu, x))
    params = model.init(jax.random.PRNGKey(0), x)
    hidden = np.maximum(x @ params["mlp/~/linear_0"]["w"] + params["mlp/~/linear_0"]["b"], 0)
    expected = hidden @ params["mlp/~/linear_1"]["w"] + params["mlp/~/linear_1"]["b"]
    np.testing.assert_allclose(model.apply(params, None, x), expected, rtol=1e-5, atol=1e-6)
