"""Byte-level LSTM language models (the tradeoffs paper's App. E.1 "LSTM language modeling").

Bytes are embedded by a 64-dimensional lookup table, read by a 128-unit
LSTM whose initial state is learned (zeros at initialisation, as in the
reference's rnn_lm.py), and a linear layer gives the logits of the next
byte; the loss is the mean cross-entropy over all positions of a batch of
length-32 windows. Windows are cut from concatenated text, so there is no
padding to mask. An untrained model's loss is near ln(256).
"""

import dataclasses
import functools
import math

import haiku as hk
import jax
import jax.numpy as jnp

from lopt_tasks import losses
from lopt_tasks.base import Task
from lopt_tasks.data import ArrayDataset
from lopt_tasks.datasets import TEXT_DATASETS, VOCAB_SIZE, byte_text_dataset


@dataclasses.dataclass(frozen=True)
class ByteLSTMLanguageModel(Task):
    """A teacher-forced LSTM predicting the next byte.

    Attributes:
      name: the task's identifier.
      dataset: a text dataset of `lopt_tasks.datasets.TEXT_DATASETS`.
      embedding_dim: size of each byte's embedding.
      hidden_size: LSTM units.
      sequence_length: bytes the model reads per window.
      batch_size: windows per batch.
      data_dir: the tfds data directory (None: `$TFDS_DATA_DIR` or
        `~/tensorflow_datasets`); offline corpora ignore it.
    """

    name: str = "byte_lstm"
    dataset: str = "licenses"
    embedding_dim: int = 64
    hidden_size: int = 128
    sequence_length: int = 32
    batch_size: int = 128
    data_dir: str | None = None

    def __post_init__(self):
        if self.dataset not in TEXT_DATASETS:
            raise ValueError(f"unknown text dataset {self.dataset!r}; known: {', '.join(sorted(TEXT_DATASETS))}.")

    def _logits(self, inputs):
        embedded = hk.Embed(VOCAB_SIZE, self.embedding_dim)(inputs)
        core = hk.LSTM(self.hidden_size)
        template = core.initial_state(1)
        learned = hk.LSTMState(
            hidden=hk.get_parameter("initial_hidden", template.hidden.shape, init=jnp.zeros),
            cell=hk.get_parameter("initial_cell", template.cell.shape, init=jnp.zeros),
        )
        initial = jax.tree_util.tree_map(lambda x: jnp.repeat(x, inputs.shape[0], axis=0), learned)
        outputs, _ = hk.dynamic_unroll(core, embedded, initial, time_major=False)
        return hk.Linear(VOCAB_SIZE)(outputs)

    def _model(self) -> hk.Transformed:
        return hk.without_apply_rng(hk.transform(self._logits))

    def init(self, key):
        return self._model().init(key, jnp.zeros((1, self.sequence_length), jnp.int32))

    def loss(self, params, key, batch):
        tokens = batch["tokens"]
        return losses.softmax_cross_entropy(self._model().apply(params, tokens[:, :-1]), tokens[:, 1:])

    @functools.cached_property
    def datasets(self) -> dict[str, ArrayDataset]:
        return byte_text_dataset(self.dataset, self.batch_size, self.sequence_length, data_dir=self.data_dir)

    @property
    def normalizer(self) -> float:
        return math.log(VOCAB_SIZE)


def lm1b_lstm(**overrides) -> ByteLSTMLanguageModel:
    """App. E.1: 64-dim byte embedding, 128-unit LSTM, length-32 windows of LM1B, batch 128 (the reference's)."""
    return dataclasses.replace(ByteLSTMLanguageModel(name="lm1b_lstm", dataset="lm1b"), **overrides)


def text_lstm(**overrides) -> ByteLSTMLanguageModel:
    """The same LSTM language model on the offline licence-text corpus ("licenses"), batch 128."""
    return dataclasses.replace(ByteLSTMLanguageModel(name="text_lstm", dataset="licenses"), **overrides)
