"""The image side shared by the image families: which data a task uses, and the classifier task base.

The reference samples a dataset uniformly from its image datasets, an image
size log-uniformly (images are resized) and a batch size log-uniformly
(tasks/parametric/image_mlp.py `sample_image_mlp` and the other
`sample_image_*`). Here the pool defaults to the offline "digits" and the
stored image size; families' `reference()` constructors use the tfds
datasets and the reference's ranges.
"""

import abc
import dataclasses
import math
from collections.abc import Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks import datasets as lopt_datasets
from lopt_tasks.families.common import HaikuTask, image_input_shape, image_splits
from lopt_tasks.losses import softmax_cross_entropy
from lopt_tasks.sampling import choice, log_int

#: The offline default pool.
DEFAULT_IMAGE_DATASETS = ("digits",)
#: The reference's pool, less cifar100 (not among lopt's datasets); needs prepared tfds data.
REFERENCE_IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10", "imagenet16")


@dataclasses.dataclass(frozen=True)
class ImageData:
    """The data a sampled image task trains on: dataset, batch size, square image size (None: stored size)."""

    dataset: str
    batch_size: int
    image_size: int | None = None

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(batch, height, width, channels) of a batch's images."""
        return image_input_shape(self.dataset, self.batch_size, self.image_size)

    @property
    def num_classes(self) -> int:
        return lopt_datasets.num_classes(self.dataset)


def sample_image_data(
    rng: np.random.Generator,
    datasets: Sequence[str],
    batch_sizes: tuple[int, int],
    image_sizes: tuple[int, int] | None,
) -> ImageData:
    """A dataset uniformly from `datasets`, a batch size log-uniformly on `batch_sizes`, and an image
    size log-uniformly on `image_sizes` (None keeps the stored size)."""
    unknown = [d for d in datasets if d not in lopt_datasets.IMAGE_DATASETS]
    if unknown or not datasets:
        raise ValueError(
            f"image families: datasets {list(datasets)} must be a non-empty subset of {sorted(lopt_datasets.IMAGE_DATASETS)}."
        )
    dataset = str(choice(rng, tuple(datasets)))
    batch_size = log_int(rng, *batch_sizes)
    image_size = None if image_sizes is None else log_int(rng, *image_sizes)
    return ImageData(dataset, batch_size, image_size)


class ImageTask(HaikuTask):
    """A haiku task on batches {"image", "label"} of `image_data` (an ImageData attribute of subclasses,
    which are frozen dataclasses with a `data_dir` field)."""

    def example_batch(self):
        shape = self.image_data.input_shape
        return {"image": jnp.zeros(shape, jnp.float32), "label": jnp.zeros(shape[:1], jnp.int32)}

    @property
    def datasets(self):
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
    return jnp.reshape(images, (images.shape[0], -1))


def dense_stack(sizes: Sequence[int], w_init, activation, x: jax.Array, name: str = "mlp") -> jax.Array:
    """Linear layers of `sizes` with `activation` between them (not after the last)."""
    return hk.nets.MLP(tuple(sizes), w_init=w_init, activation=activation, name=name)(x)
