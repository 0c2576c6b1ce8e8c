import math

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from lopt_tasks import fixed, testing


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


def test_param_count_matches_a_hand_calculation():
    embedding, lstm, initial_state, readout = 256 * 64, (64 + 128) * 4 * 128 + 4 * 128, 2 * 128, 128 * 256 + 256
    assert testing.param_count(fixed.text_lstm()) == embedding + lstm + initial_state + readout
    assert testing.param_count(fixed.lm1b_lstm()) == testing.param_count(fixed.text_lstm())


def test_loss_matches_numpy():
    task = fixed.text_lstm(batch_size=4, sequence_length=12)
    params = task.init(jax.random.PRNGKey(0))
    # Nonzero initial states, so that the numpy version checks how they are used.
    params["~"] = jax.tree_util.tree_map(lambda x: x + 0.3, params["~"])
    batch = task.datasets["train"].batch(5, seed=2)
    assert batch["tokens"].shape == (4, 13)
    np.testing.assert_allclose(task.loss(params, None, batch), numpy_lstm_loss(params, batch["tokens"]), rtol=1e-4)


@pytest.mark.parametrize("make", [fixed.text_lstm, fixed.lm1b_lstm])
def test_initial_loss_is_near_ln_256_and_adam_lowers_it(make):
    with tfds.testing.mock_data(num_examples=64):
        task = make(batch_size=8)
        loss = jax.jit(task.loss)
        initial = [loss(task.init(jax.random.PRNGKey(k)), None, task.datasets["train"].batch(k, 0)) for k in range(4)]
        losses = testing.adam_losses(task, 100, learning_rate=1e-2)
    assert task.normalizer == pytest.approx(math.log(256))
    assert abs(np.mean(initial) - math.log(256)) < 0.3
    assert losses[-10:].mean() < 0.8 * losses[:10].mean()
