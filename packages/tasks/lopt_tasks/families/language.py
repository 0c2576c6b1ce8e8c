"""The text side shared by the language-model families: which data a task uses, and the LM task base.

Byte-level text (vocabulary 256) cut into windows of `sequence_length + 1`
bytes; the model reads the first `sequence_length` and predicts the next
byte at every position. As in the reference (tasks/parametric/lm_rnn.py,
lm_transformer.py), a task samples its own vocabulary size: bytes at or
above it are folded into it (`common.fold_tokens`), and sizes above 256
leave some classes unused. The reference's pool is lm1b and Wikipedia at
byte and 32k-subword level; lopt has byte-level lm1b and, offline, the
"licenses" corpus.
"""

import abc
import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks import datasets as lopt_datasets
from lopt_tasks.families.common import HaikuTask, fold_tokens, text_splits
from lopt_tasks.losses import softmax_cross_entropy
from lopt_tasks.sampling import choice, log_int

DEFAULT_TEXT_DATASETS = ("licenses",)
REFERENCE_TEXT_DATASETS = ("lm1b",)


@dataclasses.dataclass(frozen=True)
class TextData:
    dataset: str
    batch_size: int
    sequence_length: int


def sample_text_data(
    rng: np.random.Generator,
    datasets: Sequence[str],
    batch_sizes: tuple[int, int],
    sequence_lengths: tuple[int, int],
) -> TextData:
    """A dataset uniformly from `datasets`; batch size and sequence length log-uniformly on their ranges."""
    unknown = [d for d in datasets if d not in lopt_datasets.TEXT_DATASETS]
    if unknown or not datasets:
        raise ValueError(
            f"language families: datasets {list(datasets)} must be a non-empty subset of {sorted(lopt_datasets.TEXT_DATASETS)}."
        )
    dataset = str(choice(rng, tuple(datasets)))
    return TextData(dataset, log_int(rng, *batch_sizes), log_int(rng, *sequence_lengths))


class LanguageModelTask(HaikuTask):
    """Next-byte cross-entropy, averaged over positions; normalizer ln(vocabulary size).

    Subclasses are frozen dataclasses with `text_data` (TextData) and
    `vocab_size` attributes and a `data_dir` field, and implement `logits`.
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
    def datasets(self):
        d = self.text_data
        return text_splits(d.dataset, d.batch_size, d.sequence_length, self.data_dir)

    @property
    def normalizer(self) -> float:
        return math.log(self.vocab_size)
