"""Byte-level language-model tasks: which text a task trains on (`TextData`) and the haiku task base for them.

Text is bytes (vocabulary 256) cut into consecutive windows of
`sequence_length + 1` bytes; the model reads the first `sequence_length`
and predicts the next byte at every position, scored by the mean
cross-entropy over positions. A task may use a vocabulary smaller than 256:
bytes at or above it are folded into it (`fold_tokens`), as the reference's
sampled language models do (tasks/parametric/lm_rnn.py); sizes above 256
leave some classes unused.
"""

import abc
import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from lopt_tasks import datasets as lopt_datasets
from lopt_tasks.base import Datasets
from lopt_tasks.haiku_task import HaikuTask
from lopt_tasks.losses import softmax_cross_entropy


@dataclasses.dataclass(frozen=True)
class TextData:
    """The text a task trains on: a dataset of `lopt_tasks.datasets.TEXT_DATASETS`, windows per batch, window length."""

    dataset: str
    batch_size: int
    sequence_length: int


@functools.lru_cache(maxsize=64)
def text_splits(name: str, batch_size: int, sequence_length: int, data_dir: str | None) -> Datasets:
    """`datasets.byte_text_dataset`, loaded once per argument set."""
    return lopt_datasets.byte_text_dataset(name, batch_size, sequence_length, data_dir=data_dir)


def fold_tokens(tokens: jax.Array, vocab_size: int) -> jax.Array:
    """Bytes mapped into a vocabulary of `vocab_size` <= 256: t ≥ vocab ↦ 1 + t mod (vocab − 1).

    The reference's mapping for a sampled vocabulary smaller than the data's
    (tasks/parametric/lm_rnn.py); it keeps token 0 for byte 0 only.
    """
    if vocab_size >= lopt_datasets.VOCAB_SIZE:
        return tokens
    return jnp.where(tokens >= vocab_size, 1 + tokens % (vocab_size - 1), tokens)


class LanguageModelTask(HaikuTask):
    """Next-byte cross-entropy, averaged over positions; normalizer ln(vocabulary size).

    Subclasses are frozen dataclasses with `text_data` (TextData) and
    `vocab_size` attributes and a `data_dir` field (the tfds data directory;
    offline corpora ignore it), and implement `logits`.
    """

    @abc.abstractmethod
    def logits(self, tokens: jax.Array) -> jax.Array:
        """[B, T, vocab_size] next-token logits for int tokens [B, T], inside haiku."""

    def forward(self, batch):
        tokens = fold_tokens(batch["tokens"], self.vocab_size)
        return softmax_cross_entropy(self.logits(tokens[:, :-1]), tokens[:, 1:])

    def example_batch(self):
        d = self.text_data
        return {"tokens": jnp.zeros((d.batch_size, d.sequence_length + 1), jnp.int32)}

    @property
    def datasets(self) -> Datasets:
        d = self.text_data
        return text_splits(d.dataset, d.batch_size, d.sequence_length, self.data_dir)

    @property
    def normalizer(self) -> float:
        return math.log(self.vocab_size)
