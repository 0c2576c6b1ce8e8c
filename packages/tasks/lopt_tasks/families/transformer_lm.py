"""Decoder-only transformer language models (VeLO §3.2 model family "Transformers").

Reference: tasks/parametric/lm_transformer.py and tasks/transformer.py. A
token embedding, pre-LN causal blocks (attention with key size width /
heads, an MLP of 4× the width with GELU, dropout 0.1 on both residual
branches), a final layer norm and a linear layer to the vocabulary. Dense
layers in the blocks use variance scaling with scale 2 / layers (the
reference's choice) times a sampled multiplier (a value, U(0.5, 2)).

Sampled as the reference: width per head log-uniform on [8, 128), heads
[8, 128), layers [1, 8), batch size [4, 512), sequence length [4, 512),
vocabulary [100, 10000), dataset. Differences: learned position embeddings
are added (the reference's transformer has none, so it can only infer
positions through the causal mask), and the key size is width / heads (the
reference fixes it at 32). Defaults here: "licenses", width per head
[4, 16), heads [1, 5), layers [1, 3), batch [4, 32), sequence [4, 32),
vocabulary [64, 257).
"""

import dataclasses

import haiku as hk

from lopt_tasks.base import TaskConfig
from lopt_tasks.families.attention import layer_norm, transformer_block
from lopt_tasks.families.common import InitScaleFamily, SampledLanguageModelTask, initializer
from lopt_tasks.families.language import DEFAULT_TEXT_DATASETS, REFERENCE_TEXT_DATASETS, sample_text_data
from lopt_tasks.sampling import log_int, numpy_rng
from lopt_tasks.text_task import LanguageModelTask, TextData


@dataclasses.dataclass(frozen=True)
class TransformerLMStructure:
    text_data: TextData
    vocab_size: int
    num_layers: int
    num_heads: int
    width: int


@dataclasses.dataclass(frozen=True)
class TransformerLMTask(SampledLanguageModelTask, LanguageModelTask):
    structure: TransformerLMStructure
    dropout_rate: float = 0.1

    @property
    def name(self) -> str:
        s = self.structure
        return f"transformer_lm_{s.text_data.dataset}_l{s.num_layers}_h{s.num_heads}_w{s.width}_v{s.vocab_size}"

    def logits(self, tokens):
        s = self.structure
        x = hk.Embed(s.vocab_size, s.width, w_init=initializer("normal", 1.0), name="embed")(tokens)
        position = hk.get_parameter("position", (1, tokens.shape[1], s.width), init=initializer("normal", 0.02))
        x = x + position
        w_init = initializer("variance_normal", self.init_scale * 2.0 / s.num_layers)
        for i in range(s.num_layers):
            x = transformer_block(x, s.num_heads, 4 * s.width, w_init, causal=True, rate=self.dropout_rate, name=f"block{i}")
        x = layer_norm(x, "final_ln")
        return hk.Linear(s.vocab_size, w_init=initializer("variance_normal", 1.0), name="unembed")(x)


@dataclasses.dataclass(frozen=True)
class TransformerLMFamily(InitScaleFamily):
    """Transformer LMs; ranges are [low, high) for log-uniform draws."""

    datasets: tuple[str, ...] = DEFAULT_TEXT_DATASETS
    batch_sizes: tuple[int, int] = (4, 32)
    sequence_lengths: tuple[int, int] = (4, 32)
    vocab_sizes: tuple[int, int] = (64, 257)
    layers: tuple[int, int] = (1, 3)
    heads: tuple[int, int] = (1, 5)
    head_widths: tuple[int, int] = (4, 16)
    dropout_rate: float = 0.1
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_TEXT_DATASETS, data_dir=None) -> "TransformerLMFamily":
        return cls(datasets, (4, 512), (4, 512), (100, 10000), (1, 8), (8, 128), (8, 128), data_dir=data_dir)

    @property
    def name(self) -> str:
        return "transformer_lm"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        per_head = log_int(rng, *self.head_widths)
        num_heads = log_int(rng, *self.heads)
        num_layers = log_int(rng, *self.layers)
        text_data = sample_text_data(rng, self.datasets, self.batch_sizes, self.sequence_lengths)
        vocab_size = log_int(rng, *self.vocab_sizes)
        return TransformerLMStructure(text_data, vocab_size, num_layers, num_heads, num_heads * per_head)

    def task(self, cfg: TaskConfig) -> TransformerLMTask:
        return TransformerLMTask(cfg.structure, cfg.values["init_scale"], self.data_dir, self.dropout_rate)
