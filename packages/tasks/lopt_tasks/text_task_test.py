import dataclasses
import math

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.text_task import LanguageModelTask, TextData, fold_tokens


@dataclasses.dataclass(frozen=True)
class Unigram(LanguageModelTask):
    """Logits = one learned bias per token, the same at every position."""

    text_data: TextData = TextData("licenses", 4, 9)
    vocab_size: int = 64
    data_dir: str | None = None

    @property
    def name(self):
        return "unigram"

    def logits(self, tokens):
        bias = hk.get_parameter("bias", (self.vocab_size,), init=jnp.zeros)
        return jnp.broadcast_to(bias, tokens.shape + (self.vocab_size,))


def test_targets_are_the_next_folded_bytes_and_a_uniform_model_scores_ln_vocabulary():
    task = Unigram()
    batch = task.datasets["train"].batch(3, 1)
    assert batch["tokens"].shape == (4, 10)
    params = task.init(jax.random.PRNGKey(0))
    np.testing.assert_allclose(task.loss(params, None, batch), math.log(64), rtol=1e-6)
    assert task.normalizer == math.log(64)
    bias = np.linspace(-1, 1, 64).astype(np.float32)
    tokens = batch["tokens"]
    folded = np.where(tokens >= 64, 1 + tokens % 63, tokens)[:, 1:]
    log_probs = bias - np.log(np.sum(np.exp(bias)))
    np.testing.assert_allclose(task.loss({"~": {"bias": bias}}, None, batch), -np.mean(log_probs[folded]), rtol=1e-5)


def test_fold_tokens():
    folded = fold_tokens(jnp.arange(256), 100)
    assert int(folded.max()) == 99 and int(folded[99]) == 99 and int(folded[100]) == 1 + 100 % 99
    np.testing.assert_array_equal(fold_tokens(jnp.arange(256), 256), jnp.arange(256))
