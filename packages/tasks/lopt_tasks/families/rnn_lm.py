"""Recurrent language models (VeLO §3.2 model family "RNNs").

Reference: tasks/parametric/lm_rnn.py. A token embedding, one recurrent
layer with a learned initial state, and a linear layer to the vocabulary;
the embedding and the output layer use the sampled initialiser and scale.
Sampled as the reference: RNN size log-uniform on [8, 256), embedding size
[8, 256), batch size [4, 512), sequence length [4, 512), vocabulary
[100, 10000), dataset, cell ("lstm", "gru", "vanilla"), initialiser.
Difference: the reference's three cell names all build an LSTM; here they
are an LSTM (forget-gate bias 1, as haiku's), a GRU and a tanh RNN. Cell
weights use N(0, 1/fan_in). Defaults here: "licenses", RNN size [8, 64),
embedding [8, 32), batch [4, 32), sequence [4, 32), vocabulary [64, 257).
"""

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp

from lopt_tasks.families.common import INITIALIZER_CHOICES, InitScaleFamily, SampledLanguageModelTask, initializer
from lopt_tasks.families.language import DEFAULT_TEXT_DATASETS, REFERENCE_TEXT_DATASETS, sample_text_data
from lopt_tasks.sampling import choice, log_int, numpy_rng
from lopt_tasks.text_task import LanguageModelTask, TextData

CELLS = ("lstm", "gru", "vanilla")


class RecurrentCell(hk.RNNCore):
    """An LSTM, GRU or tanh RNN cell whose weights use `w_init` (haiku's cells fix their initialisers)."""

    def __init__(self, kind: str, size: int, w_init, name: str | None = None):
        super().__init__(name=name)
        if kind not in CELLS:
            raise ValueError(f"RecurrentCell: kind must be one of {CELLS}, got {kind!r}.")
        self.kind, self.size, self.w_init = kind, size, w_init

    def __call__(self, x, state):
        linear = lambda n, name: hk.Linear(n, w_init=self.w_init, name=name)  # noqa: E731
        if self.kind == "vanilla":
            h = jnp.tanh(linear(self.size, "hidden")(jnp.concatenate([x, state], -1)))
            return h, h
        if self.kind == "gru":
            gates = jax.nn.sigmoid(linear(2 * self.size, "gates")(jnp.concatenate([x, state], -1)))
            update, reset = jnp.split(gates, 2, axis=-1)
            candidate = jnp.tanh(linear(self.size, "input")(x) + reset * linear(self.size, "recurrent")(state))
            h = (1 - update) * candidate + update * state
            return h, h
        h, c = state
        i, g, f, o = jnp.split(linear(4 * self.size, "gates")(jnp.concatenate([x, h], -1)), 4, axis=-1)
        c = jax.nn.sigmoid(f + 1.0) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, (h, c)

    def initial_state(self, batch_size):
        shape = (self.size,) if batch_size is None else (batch_size, self.size)
        zeros = jnp.zeros(shape)
        return (zeros, zeros) if self.kind == "lstm" else zeros


@dataclasses.dataclass(frozen=True)
class RNNLMStructure:
    text_data: TextData
    vocab_size: int
    embed_size: int
    rnn_size: int
    cell: str
    initializer: str


@dataclasses.dataclass(frozen=True)
class RNNLMTask(SampledLanguageModelTask, LanguageModelTask):
    structure: RNNLMStructure

    @property
    def name(self) -> str:
        s = self.structure
        return f"rnn_lm_{s.text_data.dataset}_{s.cell}{s.rnn_size}_e{s.embed_size}_v{s.vocab_size}"

    def logits(self, tokens):
        s = self.structure
        w_init = initializer(s.initializer, self.init_scale)
        x = hk.Embed(s.vocab_size, s.embed_size, w_init=w_init, name="embed")(tokens)
        cell = RecurrentCell(s.cell, s.rnn_size, initializer("variance_normal", 1.0), name="cell")
        names = ("h", "c") if s.cell == "lstm" else ("h",)
        learned = [hk.get_parameter(f"initial_{n}", (s.rnn_size,), init=jnp.zeros) for n in names]
        batched = [jnp.broadcast_to(z, (tokens.shape[0], s.rnn_size)).astype(x.dtype) for z in learned]
        state = tuple(batched) if s.cell == "lstm" else batched[0]
        out, _ = hk.dynamic_unroll(cell, x, state, time_major=False)
        return hk.Linear(s.vocab_size, w_init=w_init, name="unembed")(out)


@dataclasses.dataclass(frozen=True)
class RNNLMFamily(InitScaleFamily):
    """RNN LMs; ranges are [low, high) for log-uniform draws, tuples of options otherwise."""

    task_type = RNNLMTask

    datasets: tuple[str, ...] = DEFAULT_TEXT_DATASETS
    batch_sizes: tuple[int, int] = (4, 32)
    sequence_lengths: tuple[int, int] = (4, 32)
    vocab_sizes: tuple[int, int] = (64, 257)
    rnn_sizes: tuple[int, int] = (8, 64)
    embed_sizes: tuple[int, int] = (8, 32)
    cells: tuple[str, ...] = CELLS
    initializers: tuple[str, ...] = INITIALIZER_CHOICES
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_TEXT_DATASETS, data_dir=None) -> "RNNLMFamily":
        return cls(datasets, (4, 512), (4, 512), (100, 10000), (8, 256), (8, 256), data_dir=data_dir)

    @property
    def name(self) -> str:
        return "rnn_lm"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        rnn_size = log_int(rng, *self.rnn_sizes)
        embed_size = log_int(rng, *self.embed_sizes)
        text_data = sample_text_data(rng, self.datasets, self.batch_sizes, self.sequence_lengths)
        vocab_size = log_int(rng, *self.vocab_sizes)
        cell = str(choice(rng, self.cells))
        return RNNLMStructure(text_data, vocab_size, embed_size, rnn_size, cell, str(choice(rng, self.initializers)))
