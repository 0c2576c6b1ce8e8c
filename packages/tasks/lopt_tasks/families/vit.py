"""Vision transformers (VeLO §3.2 model family "Vision Transformers").

Reference: tasks/parametric/vit.py (sampling) and tasks/fixed/vit.py (the
model, from the vision_transformer package). The image is cut into
non-overlapping patch×patch patches (a strided convolution, "VALID", so a
remainder is dropped), a learned class token is prepended, learned position
embeddings (N(0, 0.02²)) are added, then pre-LN transformer blocks, a final
layer norm, and logits from the class token through a zero-initialised
linear layer (so every sampled ViT starts at exactly ln(#classes)).

Sampled as the reference: layers log-uniform on [1, 16), heads [1, 16),
width per head [8, 64) for fewer than 4 heads and [8, 32) otherwise, MLP
width [32, 512), image size [8, 64), batch size [4, 256), patch size from
(2, 4, 8, 12, 16) and — values, vmappable — dropout and attention dropout
U(0, 0.8), both zeroed with probability 0.3. Differences: patch sizes
larger than the image are excluded (the reference's would give no patches;
it relies on a learned validity model to reject them), and dense layers
use the normal variance-scaling initialiser with a sampled scale (a value).
Defaults here: "digits" at 8×8, layers [1, 3), heads [1, 5), width per head
[4, 16), MLP width [16, 64), batch [4, 32).
"""

import dataclasses
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp

from lopt_tasks.base import TaskConfig, TaskFamily
from lopt_tasks.families.attention import layer_norm, transformer_block
from lopt_tasks.families.common import SampledImageTask, dropout, initializer, sample_init_scale
from lopt_tasks.families.image import DEFAULT_IMAGE_DATASETS, REFERENCE_IMAGE_DATASETS, sample_image_data
from lopt_tasks.image_task import ImageClassificationTask, ImageData
from lopt_tasks.sampling import choice, log_int, numpy_rng

PATCH_SIZES = (2, 4, 8, 12, 16)


@dataclasses.dataclass(frozen=True)
class ViTStructure:
    image_data: ImageData
    num_layers: int
    num_heads: int
    width: int
    mlp_width: int
    patch_size: int


@dataclasses.dataclass(frozen=True)
class ViTTask(SampledImageTask, ImageClassificationTask):
    structure: ViTStructure
    dropout_rate: Any = 0.0
    attention_dropout_rate: Any = 0.0

    @property
    def name(self) -> str:
        s = self.structure
        return f"vit_{s.image_data.dataset}_l{s.num_layers}_h{s.num_heads}_w{s.width}_p{s.patch_size}"

    def logits(self, images):
        s = self.structure
        w_init = initializer("variance_normal", self.init_scale)
        x = hk.Conv2D(s.width, s.patch_size, stride=s.patch_size, padding="VALID", w_init=w_init, name="patches")(images)
        x = x.reshape(x.shape[0], -1, s.width)
        cls = hk.get_parameter("cls", (1, 1, s.width), init=jnp.zeros)
        x = jnp.concatenate([jnp.broadcast_to(cls.astype(x.dtype), (x.shape[0], 1, s.width)), x], axis=1)
        position = hk.get_parameter("position", (1, x.shape[1], s.width), init=initializer("normal", 0.02))
        x = dropout(self.dropout_rate, x + position.astype(x.dtype))
        for i in range(s.num_layers):
            x = transformer_block(
                x, s.num_heads, s.mlp_width, w_init, causal=False,
                rate=self.dropout_rate, attention_rate=self.attention_dropout_rate, name=f"block{i}",
            )  # fmt: skip
        x = layer_norm(x, "final_ln")[:, 0]
        return hk.Linear(s.image_data.num_classes, w_init=jnp.zeros, name="head")(x)


@dataclasses.dataclass(frozen=True)
class ViTFamily(TaskFamily):
    """ViT classifiers; ranges are [low, high) for log-uniform draws, tuples of options otherwise."""

    datasets: tuple[str, ...] = DEFAULT_IMAGE_DATASETS
    batch_sizes: tuple[int, int] = (4, 32)
    image_sizes: tuple[int, int] | None = None
    layers: tuple[int, int] = (1, 3)
    heads: tuple[int, int] = (1, 5)
    head_widths: tuple[int, int] = (4, 16)
    head_widths_many_heads: tuple[int, int] = (4, 16)
    mlp_widths: tuple[int, int] = (16, 64)
    patch_sizes: tuple[int, ...] = PATCH_SIZES
    max_dropout: float = 0.8
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_IMAGE_DATASETS, data_dir=None) -> "ViTFamily":
        return cls(datasets, (4, 256), (8, 64), (1, 16), (1, 16), (8, 64), (8, 32), (32, 512), data_dir=data_dir)

    @property
    def name(self) -> str:
        return "vit"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        num_layers = log_int(rng, *self.layers)
        num_heads = log_int(rng, *self.heads)
        per_head = log_int(rng, *(self.head_widths if num_heads < 4 else self.head_widths_many_heads))
        mlp_width = log_int(rng, *self.mlp_widths)
        image_data = sample_image_data(rng, self.datasets, self.batch_sizes, self.image_sizes)
        side = min(image_data.input_shape[1:3])
        patches = tuple(p for p in self.patch_sizes if p <= side)
        if not patches:
            raise ValueError(f"vit family: no patch size in {self.patch_sizes} fits {side}×{side} images.")
        return ViTStructure(image_data, num_layers, num_heads, num_heads * per_head, mlp_width, int(choice(rng, patches)))

    def sample_values(self, key, structure):
        init_key, rate_key, attention_key, mask_key = jax.random.split(key, 4)
        use_dropout = jax.random.uniform(mask_key, ()) > 0.3
        return {
            "init_scale": sample_init_scale(init_key),
            "dropout": jax.random.uniform(rate_key, (), maxval=self.max_dropout) * use_dropout,
            "attention_dropout": jax.random.uniform(attention_key, (), maxval=self.max_dropout) * use_dropout,
        }

    def task(self, cfg: TaskConfig) -> ViTTask:
        v = cfg.values
        return ViTTask(cfg.structure, v["init_scale"], self.data_dir, v["dropout"], v["attention_dropout"])
