"""What the fixed image tasks share: which dataset, batch size and image size, and the data plumbing.

Subclasses add the model. Parameters are initialised from a dummy image of
the right shape, so `init` never loads data (and works where the data is
missing); `datasets` loads it on first use.
"""

import dataclasses
import functools
import numbers

import jax.numpy as jnp

from lopt_tasks.base import Task
from lopt_tasks.data import ArrayDataset
from lopt_tasks.datasets import IMAGE_DATASETS, image_dataset, image_info


@dataclasses.dataclass(frozen=True)
class ImageTask(Task):
    """Fields of every fixed image task.

    Attributes:
      name: the task's identifier.
      dataset: an image dataset of `lopt_tasks.datasets.IMAGE_DATASETS`.
      batch_size: examples per training batch.
      image_size: (height, width) to resize to; None keeps the stored size.
      data_dir: the tfds data directory (None: `$TFDS_DATA_DIR` or
        `~/tensorflow_datasets`); offline datasets ignore it.
    """

    name: str = "image_task"
    dataset: str = "digits"
    batch_size: int = 128
    image_size: tuple[int, int] | None = None
    data_dir: str | None = None

    def __post_init__(self):
        # Checked here, not at first use: a bad dataset or size would otherwise fail deep inside training.
        if self.dataset not in IMAGE_DATASETS:
            raise ValueError(f"unknown image dataset {self.dataset!r}; known: {', '.join(sorted(IMAGE_DATASETS))}.")
        size = self.image_size
        if size is not None and (len(size) != 2 or any(not isinstance(s, numbers.Integral) or s < 1 for s in size)):
            raise ValueError(f"image_size must be (height, width), two positive integers (HxW in a task spec), "
                             f"got {size!r}.")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the model's input images."""
        height, width, channels = image_info(self.dataset).shape
        return (*self.image_size, channels) if self.image_size else (height, width, channels)

    @property
    def num_classes(self) -> int:
        return image_info(self.dataset).num_classes

    def dummy_images(self) -> jnp.ndarray:
        """A batch of one blank image, enough to create every parameter."""
        return jnp.zeros((1, *self.image_shape), jnp.float32)

    @functools.cached_property
    def datasets(self) -> dict[str, ArrayDataset]:
        return image_dataset(self.dataset, self.batch_size, data_dir=self.data_dir, image_size=self.image_size)
