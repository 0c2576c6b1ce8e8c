"""Convolutional image classifiers (VeLO §3.2 model family "ConvNets").

Reference: tasks/parametric/image_conv.py. A stack of 3×3 convolutions
(same padding) of one sampled width, the first `num_strided` of them with
stride 2, each followed by the activation; then the spatial mean and a
linear layer to the classes (the sampled initialiser in the convolutions
as in the reference; the head is N(0, 1/fan_in) where the reference uses
haiku's default, a truncated normal of that width). Sampled: dataset,
image size, batch size [4, 512), width [4, 64), 0–3 layers, 0–2 strided
layers, activation, initialiser and scale. Defaults here: "digits" at 8×8,
batch [4, 32), width [4, 16), 0–2 layers.
"""

import dataclasses

import haiku as hk
import jax.numpy as jnp

from lopt_tasks.families.common import (
    ACTIVATION_CHOICES,
    ACTIVATIONS,
    INITIALIZER_CHOICES,
    InitScaleFamily,
    SampledImageTask,
    initializer,
)
from lopt_tasks.families.image import DEFAULT_IMAGE_DATASETS, REFERENCE_IMAGE_DATASETS, sample_image_data
from lopt_tasks.image_task import ImageClassificationTask, ImageData
from lopt_tasks.sampling import choice, log_int, numpy_rng


@dataclasses.dataclass(frozen=True)
class ImageConvStructure:
    image_data: ImageData
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    activation: str
    initializer: str


@dataclasses.dataclass(frozen=True)
class ImageConvTask(SampledImageTask, ImageClassificationTask):
    structure: ImageConvStructure

    @property
    def name(self) -> str:
        s = self.structure
        return f"conv_{s.image_data.dataset}_{'x'.join(map(str, s.channels)) or 'pool'}_{s.activation}"

    def logits(self, images):
        s = self.structure
        w_init = initializer(s.initializer, self.init_scale)
        x = images
        for channels, stride in zip(s.channels, s.strides):
            x = ACTIVATIONS[s.activation](hk.Conv2D(channels, 3, stride=stride, w_init=w_init)(x))
        head_init = initializer("variance_normal", 1.0)
        return hk.Linear(s.image_data.num_classes, w_init=head_init)(jnp.mean(x, axis=(1, 2)))


@dataclasses.dataclass(frozen=True)
class ImageConvFamily(InitScaleFamily):
    """Conv-net classifiers; ranges are [low, high) for log-uniform draws, tuples of options otherwise."""

    task_type = ImageConvTask

    datasets: tuple[str, ...] = DEFAULT_IMAGE_DATASETS
    batch_sizes: tuple[int, int] = (4, 32)
    image_sizes: tuple[int, int] | None = None
    channels: tuple[int, int] = (4, 16)
    depths: tuple[int, ...] = (0, 1, 2)
    strided: tuple[int, ...] = (0, 1, 2)
    activations: tuple[str, ...] = ACTIVATION_CHOICES
    initializers: tuple[str, ...] = INITIALIZER_CHOICES
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_IMAGE_DATASETS, data_dir=None) -> "ImageConvFamily":
        return cls(datasets, (4, 512), (4, 32), (4, 64), (0, 1, 2, 3), data_dir=data_dir)

    @property
    def name(self) -> str:
        return "conv"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        width = log_int(rng, *self.channels)
        depth = int(choice(rng, self.depths))
        strided = min(depth, int(choice(rng, self.strided)))
        return ImageConvStructure(
            image_data=sample_image_data(rng, self.datasets, self.batch_sizes, self.image_sizes),
            channels=(width,) * depth,
            strides=(2,) * strided + (1,) * (depth - strided),
            activation=choice(rng, self.activations),
            initializer=choice(rng, self.initializers),
        )
