import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.tiny_text import TinyTextFamily, TinyTextStructure, TinyTextTask, context_window
from lopt_tasks.text_task import TextData


def test_context_window_by_hand():
    e = jnp.arange(1, 2 * 4 * 3 + 1, dtype=jnp.float32).reshape(2, 4, 3)
    w = np.asarray(context_window(e, 3))
    assert w.shape == (2, 4, 9)
    for b in range(2):
        for t in range(4):
            want = np.concatenate([np.asarray(e[b, t - k]) if t - k >= 0 else np.zeros(3) for k in range(3)])
            np.testing.assert_array_equal(w[b, t], want)


def test_loss_is_an_explicit_context_mlp_on_permuted_folded_bytes():
    """The loss equals next-byte cross-entropy of a numpy context MLP on relabelled, folded bytes."""
    structure = TinyTextStructure(TextData("licenses", 4, 8), vocab_size=64, context=2, embed_size=3,
                                  hidden_size=5, activation="relu")
    permutation = jnp.asarray(np.random.default_rng(0).permutation(256), jnp.int32)
    task = TinyTextTask(structure, init_scale=1.0, byte_permutation=permutation)
    assert task.normalizer == pytest.approx(np.log(64))
    params = task.init(jax.random.PRNGKey(0))
    batch = task.datasets["train"].batch(0, 0)

    raw = np.asarray(permutation)[np.asarray(batch["tokens"])]
    tokens = np.where(raw >= 64, 1 + raw % 63, raw)
    embed = np.asarray(params["embed"]["embeddings"], np.float64)
    w_h, b_h = (np.asarray(params["hidden"][k], np.float64) for k in ("w", "b"))
    w_o, b_o = (np.asarray(params["out"][k], np.float64) for k in ("w", "b"))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    total, count = 0.0, 0
    for b in range(4):
        for t in range(8):
            previous = embed[inputs[b, t - 1]] if t >= 1 else np.zeros(3)
            x = np.concatenate([embed[inputs[b, t]], previous])
            logits = np.maximum(x @ w_h + b_h, 0) @ w_o + b_o
            log_z = np.log(np.sum(np.exp(logits - logits.max()))) + logits.max()
            total += log_z - logits[targets[b, t]]
            count += 1
    np.testing.assert_allclose(task.loss(params, jax.random.PRNGKey(1), batch), total / count, rtol=1e-5)


def test_samples_differ_and_a_structure_vmaps():
    family = TinyTextFamily()
    cfg = family.sample_batch(jax.random.PRNGKey(0), 4)
    perms = np.asarray(cfg.values["byte_permutation"])
    assert perms.shape == (4, 256)
    for perm in perms:
        assert sorted(perm) == list(range(256))

    def loss(v, key):
        task = family.task(TaskConfig(cfg.structure, v))
        params = task.init(key)
        return task.loss(params, key, task.datasets["train"].batch(0, 0))

    losses = jax.vmap(loss)(cfg.values, jax.random.split(jax.random.PRNGKey(1), 4))
    assert losses.shape == (4,) and np.all(np.isfinite(losses))
    assert len(set(np.round(np.asarray(losses), 5))) == 4


def test_a_few_adam_steps_lower_the_loss():
    family = TinyTextFamily()
    task = family.task(family.sample(jax.random.PRNGKey(2)))
    params = task.init(jax.random.PRNGKey(0))
    train = task.datasets["train"]
    adam = optax.adam(0.01)
    state = adam.init(params)
    grad = jax.jit(jax.value_and_grad(task.loss))
    losses = []
    for step in range(100):
        loss, g = grad(params, jax.random.PRNGKey(step), train.batch(step, 0))
        updates, state = adam.update(g, state)
        params = optax.apply_updates(params, updates)
        losses.append(float(loss))
    # From about ln(vocabulary) to well below it: byte statistics are learnable.
    assert np.mean(losses[-10:]) < losses[0] - 1.0


@pytest.mark.parametrize("config, message", [
    ({"contexts": (0,)}, "contexts must be positive"),
    ({"vocab_sizes": (300,)}, "vocab_sizes must be in 2..256"),
    ({"activations": ("nope",)}, "unknown activations"),
    ({"batch_size": 0}, "batch_size and sequence_length must be positive"),
])
def test_bad_configs_name_the_problem(config, message):
    with pytest.raises(ValueError, match=message):
        TinyTextFamily(**config)
