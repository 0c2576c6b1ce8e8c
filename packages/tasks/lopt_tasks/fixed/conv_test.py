import math

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from lopt_tasks import fixed, testing


def numpy_conv_same(images, kernel, bias, stride):
    """A 2-D convolution with TensorFlow's SAME padding (extra padding after), by explicit patches."""
    batch, height, width, _ = images.shape
    size = kernel.shape[0]
    out_h, out_w = -(-height // stride), -(-width // stride)
    pad_h = max((out_h - 1) * stride + size - height, 0)
    pad_w = max((out_w - 1) * stride + size - width, 0)
    padded = np.pad(images, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((batch, out_h, out_w, kernel.shape[-1]))
    for y in range(out_h):
        for x in range(out_w):
            patch = padded[:, y * stride : y * stride + size, x * stride : x * stride + size, :]
            out[:, y, x, :] = np.einsum("bhwc,hwco->bo", patch, kernel)
    return out + bias


def numpy_convnet_loss(params, images, labels):
    net = images.astype(np.float64)
    for name, stride in [("conv2_d", 2), ("conv2_d_1", 1), ("conv2_d_2", 1)]:
        net = np.maximum(numpy_conv_same(net, np.asarray(params[name]["w"]), np.asarray(params[name]["b"]), stride), 0)
    logits = net.mean(axis=(1, 2)) @ np.asarray(params["linear"]["w"]) + np.asarray(params["linear"]["b"])
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def test_param_counts_match_a_hand_calculation():
    convs = (3 * 3 * 32 * 64 + 64) + (3 * 3 * 64 * 64 + 64) + (64 * 10 + 10)
    assert testing.param_count(fixed.cifar10_conv()) == (3 * 3 * 3 * 32 + 32) + convs
    assert testing.param_count(fixed.digits_conv()) == (3 * 3 * 1 * 32 + 32) + convs


def test_loss_matches_numpy():
    task = fixed.digits_conv(batch_size=4)
    params = task.init(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(1, seed=0)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_convnet_loss(params, batch["image"], batch["label"]), rtol=1e-5)


@pytest.mark.parametrize("make", [fixed.digits_conv, fixed.cifar10_conv])
def test_initial_loss_is_near_ln_10_and_adam_lowers_it(make):
    with tfds.testing.mock_data(num_examples=64):
        task = make(batch_size=16)
        loss = jax.jit(task.loss)
        initial = [loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
        losses = testing.adam_losses(task, 100, learning_rate=3e-3)
    assert abs(np.mean(initial) - math.log(10)) < 0.3 and task.normalizer == pytest.approx(math.log(10))
    # The mock CIFAR-10 images are noise, which the spatial mean mostly averages away: only require progress.
    assert losses[-10:].mean() < 0.98 * losses[:10].mean()


def test_resized_cifar10_has_the_same_parameters():
    assert testing.param_count(fixed.cifar10_conv(image_size=(16, 16))) == testing.param_count(fixed.cifar10_conv())
    assert fixed.cifar10_conv(image_size=(16, 16)).image_shape == (16, 16, 3)
