import math

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from lopt_tasks import fixed, testing


def numpy_mlp_loss(params, images, labels):
    """The MLP's mean cross-entropy, recomputed with numpy from the parameter tree."""
    net = images.reshape(len(images), -1).astype(np.float64)
    layers = sorted(params, key=lambda name: int(name.rsplit("_", 1)[1]))
    for i, name in enumerate(layers):
        net = net @ np.asarray(params[name]["w"]) + np.asarray(params[name]["b"])
        if i < len(layers) - 1:
            net = np.maximum(net, 0)
    net = net - net.max(-1, keepdims=True)
    log_probs = net - np.log(np.exp(net).sum(-1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def test_param_counts_match_a_hand_calculation():
    assert testing.param_count(fixed.fashion_mnist_mlp()) == (784 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10)
    assert testing.param_count(fixed.imagenet16_mlp()) == (768 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 1000 + 1000)
    assert testing.param_count(fixed.digits_mlp()) == (64 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10)


def test_loss_matches_numpy():
    task = fixed.digits_mlp(batch_size=16)
    params = task.init(jax.random.PRNGKey(3))
    batch = task.datasets["train"].batch(2, seed=1)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_mlp_loss(params, batch["image"], batch["label"]), rtol=1e-5)


@pytest.mark.parametrize("make", [fixed.digits_mlp, fixed.fashion_mnist_mlp, fixed.imagenet16_mlp])
def test_initial_loss_is_near_ln_classes(make):
    with tfds.testing.mock_data(num_examples=64):
        task = make(batch_size=32)
        losses = [task.loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
    assert task.normalizer == pytest.approx(math.log(task.num_classes))
    assert abs(np.mean(losses) - task.normalizer) < 0.3


@pytest.mark.parametrize("make", [fixed.digits_mlp, fixed.fashion_mnist_mlp, fixed.imagenet16_mlp])
def test_adam_lowers_the_training_loss(make):
    with tfds.testing.mock_data(num_examples=64):
        losses = testing.adam_losses(make(batch_size=32), 100)
    assert losses[-10:].mean() < 0.5 * losses[:10].mean()


def test_init_is_deterministic_and_needs_no_data(tmp_path):
    task = fixed.fashion_mnist_mlp(data_dir=str(tmp_path))
    one, two = task.init(jax.random.PRNGKey(0)), task.init(jax.random.PRNGKey(0))
    jax.tree_util.tree_map(np.testing.assert_array_equal, one, two)
    other = task.init(jax.random.PRNGKey(1))
    assert not np.array_equal(one["mlp/~/linear_0"]["w"], other["mlp/~/linear_0"]["w"])
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        task.datasets


def test_overrides_are_dataclass_fields():
    assert fixed.fashion_mnist_mlp(batch_size=7).batch_size == 7
    assert fixed.fashion_mnist_mlp() == fixed.fashion_mnist_mlp() and hash(fixed.digits_mlp()) == hash(fixed.digits_mlp())
    with pytest.raises(TypeError, match="width"):
        fixed.digits_mlp(width=3)


def test_batches_are_deterministic_given_the_seed():
    one, two = fixed.digits_mlp().datasets["train"], fixed.digits_mlp().datasets["train"]
    np.testing.assert_array_equal(one.batch(3, seed=5)["image"], two.batch(3, seed=5)["image"])
    assert not np.array_equal(one.batch(3, seed=5)["label"], one.batch(3, seed=6)["label"])
