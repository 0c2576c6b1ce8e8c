import math

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits

from lopt_tasks import fixed, testing


# --------------------------------------------------------------------------- mlp


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


def test_mlp_param_counts_match_a_hand_calculation():
    assert testing.param_count(fixed.fashion_mnist_mlp()) == (784 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10)
    assert testing.param_count(fixed.imagenet16_mlp()) == (768 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 1000 + 1000)
    assert testing.param_count(fixed.digits_mlp()) == (64 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10)


def test_mlp_loss_matches_numpy():
    task = fixed.digits_mlp(batch_size=16)
    params = task.init(jax.random.PRNGKey(3))
    batch = task.datasets["train"].batch(2, seed=1)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_mlp_loss(params, batch["image"], batch["label"]), rtol=1e-5)


@pytest.mark.parametrize("make", [fixed.digits_mlp, fixed.fashion_mnist_mlp, fixed.imagenet16_mlp])
def test_mlp_initial_loss_is_near_ln_classes(make):
    with tfds.testing.mock_data(num_examples=64):
        task = make(batch_size=32)
        losses = [task.loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
    assert task.normalizer == pytest.approx(math.log(task.num_classes))
    assert abs(np.mean(losses) - task.normalizer) < 0.3


@pytest.mark.parametrize("make", [fixed.digits_mlp, fixed.fashion_mnist_mlp, fixed.imagenet16_mlp])
def test_mlp_adam_lowers_the_training_loss(make):
    with tfds.testing.mock_data(num_examples=64):
        losses = testing.adam_losses(make(batch_size=32), 100)
    assert losses[-10:].mean() < 0.5 * losses[:10].mean()


def test_mlp_init_is_deterministic_and_needs_no_data(tmp_path):
    task = fixed.fashion_mnist_mlp(data_dir=str(tmp_path))
    one, two = task.init(jax.random.PRNGKey(0)), task.init(jax.random.PRNGKey(0))
    jax.tree_util.tree_map(np.testing.assert_array_equal, one, two)
    other = task.init(jax.random.PRNGKey(1))
    assert not np.array_equal(one["mlp/~/linear_0"]["w"], other["mlp/~/linear_0"]["w"])
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        task.datasets


def test_mlp_overrides_are_dataclass_fields():
    assert fixed.fashion_mnist_mlp(batch_size=7).batch_size == 7
    assert fixed.fashion_mnist_mlp() == fixed.fashion_mnist_mlp() and hash(fixed.digits_mlp()) == hash(fixed.digits_mlp())
    with pytest.raises(TypeError, match="width"):
        fixed.digits_mlp(width=3)


def test_mlp_batches_are_deterministic_given_the_seed():
    one, two = fixed.digits_mlp().datasets["train"], fixed.digits_mlp().datasets["train"]
    np.testing.assert_array_equal(one.batch(3, seed=5)["image"], two.batch(3, seed=5)["image"])
    assert not np.array_equal(one.batch(3, seed=5)["label"], one.batch(3, seed=6)["label"])


# --------------------------------------------------------------------------- conv


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


def test_conv_param_counts_match_a_hand_calculation():
    convs = (3 * 3 * 32 * 64 + 64) + (3 * 3 * 64 * 64 + 64) + (64 * 10 + 10)
    assert testing.param_count(fixed.cifar10_conv()) == (3 * 3 * 3 * 32 + 32) + convs
    assert testing.param_count(fixed.digits_conv()) == (3 * 3 * 1 * 32 + 32) + convs


def test_conv_loss_matches_numpy():
    task = fixed.digits_conv(batch_size=4)
    params = task.init(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(1, seed=0)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_convnet_loss(params, batch["image"], batch["label"]), rtol=1e-5)


@pytest.mark.parametrize("make", [fixed.digits_conv, fixed.cifar10_conv])
def test_conv_initial_loss_is_near_ln_10_and_adam_lowers_it(make):
    with tfds.testing.mock_data(num_examples=64):
        task = make(batch_size=16)
        loss = jax.jit(task.loss)
        initial = [loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
        losses = testing.adam_losses(task, 100, learning_rate=3e-3)
    assert abs(np.mean(initial) - math.log(10)) < 0.3 and task.normalizer == pytest.approx(math.log(10))
    # The mock CIFAR-10 images are noise, which the spatial mean mostly averages away: only require progress.
    assert losses[-10:].mean() < 0.98 * losses[:10].mean()


def test_conv_resized_cifar10_has_the_same_parameters():
    assert testing.param_count(fixed.cifar10_conv(image_size=(16, 16))) == testing.param_count(fixed.cifar10_conv())
    assert fixed.cifar10_conv(image_size=(16, 16)).image_shape == (16, 16, 3)


# --------------------------------------------------------------------------- autoencoder


def numpy_autoencoder_loss(params, images):
    flat = images.reshape(len(images), -1).astype(np.float64)
    net = flat
    layers = sorted(params, key=lambda name: int(name.rsplit("_", 1)[1]))
    for i, name in enumerate(layers):
        net = net @ np.asarray(params[name]["w"]) + np.asarray(params[name]["b"])
        if i < len(layers) - 1:
            net = np.maximum(net, 0)
    return np.mean((flat - 1 / (1 + np.exp(-net))) ** 2)


def test_autoencoder_param_counts_match_a_hand_calculation():
    def count(pixels):
        return (pixels * 128 + 128) + (128 * 32 + 32) + (32 * 128 + 128) + (128 * pixels + pixels)

    assert testing.param_count(fixed.cifar10_autoencoder()) == count(32 * 32 * 3)
    assert testing.param_count(fixed.digits_autoencoder()) == count(64)


def test_autoencoder_loss_matches_numpy_and_the_normalizer_is_the_initial_loss():
    task = fixed.digits_autoencoder(batch_size=64)
    params = task.init(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(0, seed=0)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_autoencoder_loss(params, batch["image"]), rtol=1e-5)
    # The normalizer is the error of predicting 0.5 everywhere; all digits give nearly the same value.
    assert task.normalizer == pytest.approx(np.mean((load_digits().images / 16 - 0.5) ** 2), rel=0.02)
    initial = [task.loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
    assert np.mean(initial) == pytest.approx(task.normalizer, rel=0.05)


@pytest.mark.parametrize("make", [fixed.digits_autoencoder, fixed.cifar10_autoencoder])
def test_autoencoder_adam_lowers_the_training_loss(make):
    with tfds.testing.mock_data(num_examples=64):
        losses = testing.adam_losses(make(batch_size=32), 100, learning_rate=3e-3)
    assert losses[-10:].mean() < 0.98 * losses[:10].mean()


# --------------------------------------------------------------------------- lstm


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_lstm_loss(params, tokens):
    """Embedding → LSTM (haiku's gate order i, g, f, o; forget bias 1) → linear → next-byte cross-entropy."""
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    embedded = np.asarray(params["embed"]["embeddings"], np.float64)[inputs]
    w, b = np.asarray(params["lstm/linear"]["w"], np.float64), np.asarray(params["lstm/linear"]["b"], np.float64)
    hidden = np.repeat(np.asarray(params["~"]["initial_hidden"], np.float64), len(tokens), 0)
    cell = np.repeat(np.asarray(params["~"]["initial_cell"], np.float64), len(tokens), 0)
    total = 0.0
    for t in range(inputs.shape[1]):
        i, g, f, o = np.split(np.concatenate([embedded[:, t], hidden], 1) @ w + b, 4, axis=1)
        cell = sigmoid(f + 1) * cell + sigmoid(i) * np.tanh(g)
        hidden = sigmoid(o) * np.tanh(cell)
        logits = hidden @ np.asarray(params["linear"]["w"]) + np.asarray(params["linear"]["b"])
        logits = logits - logits.max(-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total += -np.mean(log_probs[np.arange(len(tokens)), targets[:, t]])
    return total / inputs.shape[1]


def test_lstm_param_count_matches_a_hand_calculation():
    embedding, lstm, initial_state, readout = 256 * 64, (64 + 128) * 4 * 128 + 4 * 128, 2 * 128, 128 * 256 + 256
    assert testing.param_count(fixed.text_lstm()) == embedding + lstm + initial_state + readout
    assert testing.param_count(fixed.lm1b_lstm()) == testing.param_count(fixed.text_lstm())


def test_lstm_loss_matches_numpy():
    task = fixed.text_lstm(batch_size=4, sequence_length=12)
    params = task.init(jax.random.PRNGKey(0))
    # Nonzero initial states, so that the numpy version checks how they are used.
    params["~"] = jax.tree_util.tree_map(lambda x: x + 0.3, params["~"])
    batch = task.datasets["train"].batch(5, seed=2)
    assert batch["tokens"].shape == (4, 13)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_lstm_loss(params, batch["tokens"]), rtol=1e-4)


@pytest.mark.parametrize("make", [fixed.text_lstm, fixed.lm1b_lstm])
def test_lstm_initial_loss_is_near_ln_256_and_adam_lowers_it(make):
    with tfds.testing.mock_data(num_examples=64):
        task = make(batch_size=8)
        loss = jax.jit(task.loss)
        initial = [loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
        losses = testing.adam_losses(task, 100, learning_rate=1e-2)
    assert task.normalizer == pytest.approx(math.log(256))
    assert abs(np.mean(initial) - math.log(256)) < 0.3
    assert losses[-10:].mean() < 0.8 * losses[:10].mean()
