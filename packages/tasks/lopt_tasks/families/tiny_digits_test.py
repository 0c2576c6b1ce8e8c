import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.tiny_digits import TinyDigitsFamily, TinyDigitsStructure, TinyDigitsTask


def test_samples_differ_and_a_structure_vmaps():
    family = TinyDigitsFamily()
    cfg = family.sample_batch(jax.random.PRNGKey(0), 4)
    values = cfg.values
    assert values["pixel_permutation"].shape == (4, 64) and values["label_permutation"].shape == (4, 10)
    for perm in np.asarray(values["label_permutation"]):
        assert sorted(perm) == list(range(10))
    assert np.all((values["noise_std"] >= 0.01) & (values["noise_std"] <= 0.3))

    def loss(v, key):
        task = family.task(TaskConfig(cfg.structure, v))
        params = task.init(key)
        batch = task.datasets["train"].batch(0, 0)
        return task.loss(params, key, batch)

    losses = jax.vmap(loss)(values, jax.random.split(jax.random.PRNGKey(1), 4))
    assert losses.shape == (4,) and np.all(np.isfinite(losses))
    assert len(set(np.round(np.asarray(losses), 5))) == 4


def test_merged_classes_and_permutations_by_hand():
    """The loss equals cross-entropy of an explicit MLP on permuted pixels against permuted, merged labels."""
    structure = TinyDigitsStructure(hidden_size=3, num_classes=2, activation="relu", batch_size=8)
    pixels = jnp.asarray(np.random.default_rng(0).permutation(64), jnp.int32)
    labels = jnp.asarray(np.random.default_rng(1).permutation(10), jnp.int32)
    task = TinyDigitsTask(structure, pixels, labels, noise_std=0.0, init_scale=1.0)
    assert task.normalizer == pytest.approx(np.log(2))
    params = task.init(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(0, 0)
    x = np.asarray(batch["image"], np.float64).reshape(8, 64)[:, np.asarray(pixels)]
    (w0, b0), (w1, b1) = [(np.asarray(p["w"], np.float64), np.asarray(p["b"], np.float64))
                          for _, p in sorted(params.items())]
    logits = np.maximum(x @ w0 + b0, 0) @ w1 + b1
    y = np.asarray(labels)[np.asarray(batch["label"])] % 2
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    want = -np.mean(log_probs[np.arange(8), y])
    np.testing.assert_allclose(task.loss(params, jax.random.PRNGKey(3), batch), want, rtol=1e-5)


def test_noise_is_fresh_per_key():
    structure = TinyDigitsStructure(32, 10, "relu", 16)
    task = TinyDigitsTask(structure, noise_std=0.3)
    params = task.init(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(0, 0)
    a, b = (task.loss(params, jax.random.PRNGKey(k), batch) for k in (1, 2))
    assert a != b


@pytest.mark.parametrize("config, message", [
    ({"num_classes": (11,)}, "num_classes must be in 2..10"),
    ({"hidden_sizes": (0,)}, "hidden_sizes must be positive"),
    ({"activations": ("swish9",)}, "unknown activations"),
])
def test_bad_configurations(config, message):
    with pytest.raises(ValueError, match=message):
        TinyDigitsFamily(**config)
