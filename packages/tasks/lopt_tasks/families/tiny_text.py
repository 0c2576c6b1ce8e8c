"""Tiny byte-level language models on the on-disk text: the text half of a Celo-style meta-training distribution.

The tiny 8×8-digit MLPs (`tiny_digits`) teach an update rule what small
classifiers need. Language models need something else: losses that stay far
from zero, every step's gradient noisy, and embedding rows that only get a
gradient when their byte occurs. This family gives a meta-training
distribution that kind of task at the cost of a tiny MLP, with no
architecture of the held-out suite (no recurrence and no attention): a
fixed-context ("n-gram") MLP language model,

    logits_t = W_out · act(W_hid · [e(x_t), e(x_{t-1}), …, e(x_{t-c+1})] + b_hid) + b_out,

where e is a learned byte embedding, c the context (bytes before t are
zeros at the start of a window), and the loss is next-byte cross-entropy
averaged over the window's positions (`text_task.LanguageModelTask`).

Per task (all values, so tasks of one structure vmap):

- a permutation of the 256 byte values (with probability 1/2; else the
  identity), applied before bytes are folded into the vocabulary — a
  different relabelled language per task, so a rule cannot key on which
  embedding rows are frequent;
- an initialiser scale (`sample_init_scale`).

The structure fixes the context, embedding and hidden sizes, the
vocabulary (bytes folded into 64, 128 or 256 tokens, `fold_tokens`), the
activation and the batch: 32 windows of 16 bytes by default.
"""

import dataclasses
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp

from lopt_tasks.datasets import VOCAB_SIZE
from lopt_tasks.families.common import ACTIVATIONS, SampledLanguageModelTask, initializer, sample_init_scale
from lopt_tasks.base import TaskConfig, TaskFamily
from lopt_tasks.losses import softmax_cross_entropy
from lopt_tasks.sampling import choice, numpy_rng
from lopt_tasks.text_task import LanguageModelTask, TextData, fold_tokens


@dataclasses.dataclass(frozen=True)
class TinyTextStructure:
    text_data: TextData
    vocab_size: int
    context: int
    embed_size: int
    hidden_size: int
    activation: str


def context_window(embedded: jax.Array, context: int) -> jax.Array:
    """[B, T, context·E]: at position t, the embeddings of bytes t, t-1, …, t-context+1 (zeros before the start)."""
    length = embedded.shape[1]
    padded = jnp.pad(embedded, ((0, 0), (context - 1, 0), (0, 0)))
    shifted = [padded[:, context - 1 - k:context - 1 - k + length] for k in range(context)]
    return jnp.concatenate(shifted, axis=-1)


@dataclasses.dataclass(frozen=True)
class TinyTextTask(SampledLanguageModelTask, LanguageModelTask):
    """Bytes relabelled by `byte_permutation`, folded into the vocabulary, predicted by a context-window MLP."""

    byte_permutation: Any = None  # (256,) int32; None: identity

    @property
    def name(self) -> str:
        s = self.structure
        return f"tiny_text_{s.text_data.dataset}_c{s.context}_e{s.embed_size}_h{s.hidden_size}_v{s.vocab_size}"

    def logits(self, tokens):
        s = self.structure
        w_init = initializer("variance_normal", self.init_scale)
        embedded = hk.Embed(s.vocab_size, s.embed_size, w_init=w_init, name="embed")(tokens)
        hidden = ACTIVATIONS[s.activation](
            hk.Linear(s.hidden_size, w_init=w_init, name="hidden")(context_window(embedded, s.context)))
        return hk.Linear(s.vocab_size, w_init=w_init, name="out")(hidden)

    def forward(self, batch):
        tokens = batch["tokens"]
        if self.byte_permutation is not None:
            tokens = jnp.take(self.byte_permutation, tokens)
        tokens = fold_tokens(tokens, self.vocab_size)
        return softmax_cross_entropy(self.logits(tokens[:, :-1]), tokens[:, 1:])


@dataclasses.dataclass(frozen=True)
class TinyTextFamily(TaskFamily):
    """Tiny context-window MLP language models; see the module docstring. Tuples are the options drawn from."""

    dataset: str = "licenses"
    contexts: tuple[int, ...] = (2, 4, 8)
    embed_sizes: tuple[int, ...] = (8, 16)
    hidden_sizes: tuple[int, ...] = (32,)
    vocab_sizes: tuple[int, ...] = (64, 128, 256)
    activations: tuple[str, ...] = ("relu",)
    batch_size: int = 32
    sequence_length: int = 16
    data_dir: str | None = None

    def __post_init__(self):
        for field in ("contexts", "embed_sizes", "hidden_sizes"):
            sizes = getattr(self, field)
            if not sizes or any(n < 1 for n in sizes):
                raise ValueError(f"tiny_text: {field} must be positive, got {sizes}.")
        if not self.vocab_sizes or any(not 2 <= v <= VOCAB_SIZE for v in self.vocab_sizes):
            raise ValueError(f"tiny_text: vocab_sizes must be in 2..{VOCAB_SIZE}, got {self.vocab_sizes}.")
        unknown = [a for a in self.activations if a not in ACTIVATIONS]
        if unknown or not self.activations:
            raise ValueError(f"tiny_text: unknown activations {unknown}; known: {', '.join(sorted(ACTIVATIONS))}.")
        if self.batch_size < 1 or self.sequence_length < 1:
            raise ValueError(f"tiny_text: batch_size and sequence_length must be positive, got "
                             f"{self.batch_size} and {self.sequence_length}.")

    @property
    def name(self) -> str:
        return "tiny_text"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        return TinyTextStructure(TextData(self.dataset, self.batch_size, self.sequence_length),
                                 int(choice(rng, self.vocab_sizes)), int(choice(rng, self.contexts)),
                                 int(choice(rng, self.embed_sizes)), int(choice(rng, self.hidden_sizes)),
                                 str(choice(rng, self.activations)))

    def sample_values(self, key, structure):
        k_perm, k_shuffle, k_init = jax.random.split(key, 3)
        shuffled = jax.random.permutation(k_perm, VOCAB_SIZE).astype(jnp.int32)
        identity = jnp.arange(VOCAB_SIZE, dtype=jnp.int32)
        return {
            "byte_permutation": jnp.where(jax.random.bernoulli(k_shuffle), shuffled, identity),
            "init_scale": sample_init_scale(k_init),
        }

    def task(self, cfg: TaskConfig) -> TinyTextTask:
        v = cfg.values
        return TinyTextTask(cfg.structure, v["init_scale"], self.data_dir, v["byte_permutation"])
