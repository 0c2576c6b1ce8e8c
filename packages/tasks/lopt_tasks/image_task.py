"""Image tasks: which images a task trains on (`ImageData`) and the haiku task base for them.

One notion for the fixed tasks and the sampled families: a task names its
data by an `ImageData` (dataset, batch size, image size) and builds its
model in haiku on batches {"image": float32 [B, H, W, C] in [0, 1],
"label": int32 [B]}. Parameters are initialised from a blank batch of the
right shape, so `init` never loads data (and works where the data is
missing); `datasets` loads the splits on first use, once per process.
"""

import abc
import dataclasses
import functools
import math
import numbers
from collections.abc import Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks import datasets as lopt_datasets
from lopt_tasks.base import Datasets
from lopt_tasks.haiku_task import HaikuTask
from lopt_tasks.losses import softmax_cross_entropy

ImageSize = int | tuple[int, int] | None


def _height_width(image_size: ImageSize) -> tuple[int, int] | None:
    return (image_size, image_size) if isinstance(image_size, numbers.Integral) else image_size


@functools.lru_cache(maxsize=64)
def image_splits(name: str, batch_size: int, image_size: ImageSize, data_dir: str | None) -> Datasets:
    """`datasets.image_dataset` at `image_size` (see `ImageData`), loaded once per argument set."""
    return lopt_datasets.image_dataset(name, batch_size, data_dir=data_dir, image_size=_height_width(image_size))


@dataclasses.dataclass(frozen=True)
class ImageData:
    """The images a task trains on.

    Attributes:
      dataset: an image dataset of `lopt_tasks.datasets.IMAGE_DATASETS`.
      batch_size: examples per training batch.
      image_size: the size images are resized to: a square side (what the
        families sample), (height, width) (what the fixed tasks take), or
        None for the stored size.
    """

    dataset: str
    batch_size: int
    image_size: ImageSize = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image."""
        height, width, channels = lopt_datasets.image_shape(self.dataset)
        size = _height_width(self.image_size)
        return (*size, channels) if size is not None else (height, width, channels)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(batch, height, width, channels) of a batch's images."""
        return (self.batch_size, *self.image_shape)

    @property
    def num_classes(self) -> int:
        return lopt_datasets.num_classes(self.dataset)


class ImageTask(HaikuTask):
    """A haiku task on batches {"image", "label"} of its `image_data`.

    Subclasses are frozen dataclasses with a `data_dir` field (the tfds data
    directory; offline datasets ignore it) that say which `image_data` they
    use and write the model (`forward`, or `logits` for a classifier).
    """

    @property
    @abc.abstractmethod
    def image_data(self) -> ImageData:
        """The images this task trains on."""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the model's input images."""
        return self.image_data.image_shape

    @property
    def num_classes(self) -> int:
        return self.image_data.num_classes

    def example_batch(self):
        shape = self.image_data.input_shape
        return {"image": jnp.zeros(shape, jnp.float32), "label": jnp.zeros(shape[:1], jnp.int32)}

    @property
    def datasets(self) -> Datasets:
        d = self.image_data
        return image_splits(d.dataset, d.batch_size, d.image_size, self.data_dir)

    def first_images(self) -> np.ndarray:
        """The images of training batch 0 (seed 0), e.g. for a data-dependent normalizer."""
        return np.asarray(self.datasets["train"].batch(0, 0)["image"], np.float32)


class ImageClassificationTask(ImageTask):
    """Softmax cross-entropy of `logits(images)` against the labels; normalizer ln(#classes)."""

    @abc.abstractmethod
    def logits(self, images: jax.Array) -> jax.Array:
        """[B, num_classes] logits, inside haiku."""

    def forward(self, batch):
        return softmax_cross_entropy(self.logits(batch["image"]), batch["label"])

    @property
    def normalizer(self) -> float:
        return math.log(self.image_data.num_classes)


def flatten_images(images: jax.Array) -> jax.Array:
    """[B, H, W, C] → [B, H·W·C]."""
    return jnp.reshape(images, (images.shape[0], -1))


def dense_stack(sizes: Sequence[int], w_init, activation, x: jax.Array, name: str = "mlp") -> jax.Array:
    """Linear layers of `sizes` with `activation` between them (not after the last); `w_init` None is haiku's
    default (truncated normal with standard deviation 1/sqrt(fan-in))."""
    return hk.nets.MLP(tuple(sizes), w_init=w_init, activation=activation, name=name)(x)
