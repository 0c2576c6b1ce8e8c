import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits

from lopt_tasks import fixed, testing


def numpy_autoencoder_loss(params, images):
    flat = images.reshape(len(images), -1).astype(np.float64)
    net = flat
    layers = sorted(params, key=lambda name: int(name.rsplit("_", 1)[1]))
    for i, name in enumerate(layers):
        net = net @ np.asarray(params[name]["w"]) + np.asarray(params[name]["b"])
        if i < len(layers) - 1:
            net = np.maximum(net, 0)
    return np.mean((flat - 1 / (1 + np.exp(-net))) ** 2)


def test_param_counts_match_a_hand_calculation():
    def count(pixels):
        return (pixels * 128 + 128) + (128 * 32 + 32) + (32 * 128 + 128) + (128 * pixels + pixels)

    assert testing.param_count(fixed.cifar10_autoencoder()) == count(32 * 32 * 3)
    assert testing.param_count(fixed.digits_autoencoder()) == count(64)


def test_loss_matches_numpy_and_the_normalizer_is_the_initial_loss():
    task = fixed.digits_autoencoder(batch_size=64)
    params = task.init(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(0, seed=0)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_autoencoder_loss(params, batch["image"]), rtol=1e-5)
    # The normalizer is the error of predicting 0.5 everywhere; all digits give nearly the same value.
    assert task.normalizer == pytest.approx(np.mean((load_digits().images / 16 - 0.5) ** 2), rel=0.02)
    initial = [task.loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
    assert np.mean(initial) == pytest.approx(task.normalizer, rel=0.05)


@pytest.mark.parametrize("make", [fixed.digits_autoencoder, fixed.cifar10_autoencoder])
def test_adam_lowers_the_training_loss(make):
    with tfds.testing.mock_data(num_examples=64):
        losses = testing.adam_losses(make(batch_size=32), 100, learning_rate=3e-3)
    assert losses[-10:].mean() < 0.98 * losses[:10].mean()
