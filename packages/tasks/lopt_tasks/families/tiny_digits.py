"""Tiny 8×8-image MLP tasks made from the on-disk digits: the Celo recipe's meta-training distribution.

Celo (Moudgil et al., TMLR 2025) meta-trains on four small MLP tasks — 8×8
images of CIFAR-10, Fashion-MNIST, MNIST and SVHN, one hidden layer of 32,
batch 64 — and generalises far beyond them. Those datasets cannot be
downloaded here, but scikit-learn's digits are 8×8 images already: this
family makes many different small classification problems out of them, so a
learned optimizer cannot memorise one.

Per task (all values, so tasks of one structure vmap):

- a permutation of the 64 pixels (with probability 1/2; else the identity),
  which destroys the spatial structure an MLP does not use anyway but
  changes every weight's role;
- a permutation of the 10 labels, then labels mod `num_classes` (the
  structure: 10, 5 or 2 classes, i.e. merged class subsets);
- Gaussian input noise with a standard deviation log-uniform in [0.01, 0.3]
  (fresh every step, from the loss's key);
- an initialiser scale (`sample_init_scale`).

The structure fixes the hidden width (32 by default, a choice of widths if
given), the activation (ReLU by default) and the batch size (64).
"""

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from lopt_tasks import random_pool
from lopt_tasks.base import TaskConfig, TaskFamily
from lopt_tasks.families.common import ACTIVATIONS, initializer, sample_init_scale
from lopt_tasks.image_task import ImageClassificationTask, ImageData, dense_stack, flatten_images
from lopt_tasks.losses import softmax_cross_entropy
from lopt_tasks.sampling import choice, numpy_rng

NUM_PIXELS = 64
NUM_LABELS = 10
NOISE_RANGE = (0.01, 0.3)


@dataclasses.dataclass(frozen=True)
class TinyDigitsStructure:
    hidden_size: int
    num_classes: int
    activation: str
    batch_size: int


@dataclasses.dataclass(frozen=True)
class TinyDigitsTask(ImageClassificationTask):
    """Digits with permuted pixels and labels, merged classes and input noise → one hidden layer → logits."""

    structure: TinyDigitsStructure
    pixel_permutation: Any = None  # (64,) int32; None: identity
    label_permutation: Any = None  # (10,) int32; None: identity
    noise_std: Any = 0.0
    init_scale: Any = 1.0
    data_dir: str | None = None

    @property
    def image_data(self) -> ImageData:
        return ImageData("digits", self.structure.batch_size)

    @property
    def name(self) -> str:
        s = self.structure
        return f"tiny_digits_{s.hidden_size}_{s.num_classes}cls_{s.activation}"

    @property
    def normalizer(self) -> float:
        return math.log(self.structure.num_classes)

    def logits(self, images):
        s = self.structure
        x = flatten_images(images)
        if self.pixel_permutation is not None:
            x = jnp.take(x, self.pixel_permutation, axis=1)
        x = x + self.noise_std * random_pool.standard_normal(x.shape).astype(x.dtype)
        return dense_stack((s.hidden_size, s.num_classes), initializer("variance_normal", self.init_scale),
                           ACTIVATIONS[s.activation], x)

    def forward(self, batch):
        labels = batch["label"]
        if self.label_permutation is not None:
            labels = jnp.take(self.label_permutation, labels)
        return softmax_cross_entropy(self.logits(batch["image"]), labels % self.structure.num_classes)


@dataclasses.dataclass(frozen=True)
class TinyDigitsFamily(TaskFamily):
    """Tiny digits MLP tasks; see the module docstring."""

    hidden_sizes: tuple[int, ...] = (32,)
    num_classes: tuple[int, ...] = (10, 10, 5, 2)  # 10 classes half the time
    activations: tuple[str, ...] = ("relu",)
    batch_size: int = 64
    data_dir: str | None = None

    def __post_init__(self):
        bad = [k for k in self.num_classes if not 2 <= k <= NUM_LABELS]
        if bad or not self.num_classes:
            raise ValueError(f"tiny_digits: num_classes must be in 2..10, got {self.num_classes}.")
        if any(h < 1 for h in self.hidden_sizes) or not self.hidden_sizes:
            raise ValueError(f"tiny_digits: hidden_sizes must be positive, got {self.hidden_sizes}.")
        unknown = [a for a in self.activations if a not in ACTIVATIONS]
        if unknown or not self.activations:
            raise ValueError(f"tiny_digits: unknown activations {unknown}; known: {', '.join(sorted(ACTIVATIONS))}.")
        if self.batch_size < 1:
            raise ValueError(f"tiny_digits: batch_size must be positive, got {self.batch_size}.")

    @property
    def name(self) -> str:
        return "tiny_digits"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        return TinyDigitsStructure(int(choice(rng, self.hidden_sizes)), int(choice(rng, self.num_classes)),
                                   str(choice(rng, self.activations)), self.batch_size)

    def sample_values(self, key, structure):
        k_pix, k_shuffle, k_lab, k_noise, k_init = jax.random.split(key, 5)
        shuffled = jax.random.permutation(k_pix, NUM_PIXELS).astype(jnp.int32)
        identity = jnp.arange(NUM_PIXELS, dtype=jnp.int32)
        low, high = (math.log(v) for v in NOISE_RANGE)
        return {
            "pixel_permutation": jnp.where(jax.random.bernoulli(k_shuffle), shuffled, identity),
            "label_permutation": jax.random.permutation(k_lab, NUM_LABELS).astype(jnp.int32),
            "noise_std": jnp.exp(jax.random.uniform(k_noise, (), jnp.float32, low, high)),
            "init_scale": sample_init_scale(k_init),
        }

    def task(self, cfg: TaskConfig) -> TinyDigitsTask:
        v = cfg.values
        return TinyDigitsTask(cfg.structure, v["pixel_permutation"], v["label_permutation"], v["noise_std"],
                              v["init_scale"], self.data_dir)
