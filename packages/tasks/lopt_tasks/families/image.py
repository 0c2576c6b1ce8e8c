"""Which images a sampled image task uses (the dataset pools, `sample_image_data`), and the MLP families' fields.

The reference samples a dataset uniformly from its image datasets, an image
size log-uniformly (images are resized) and a batch size log-uniformly
(tasks/parametric/image_mlp.py `sample_image_mlp` and the other
`sample_image_*`). Here the pool defaults to the offline "digits" and the
stored image size; families' `reference()` constructors use the tfds
datasets and the reference's ranges. The task side (`ImageData`,
`ImageTask`) is `lopt_tasks.image_task`, shared with the fixed tasks.

`DenseImageFamily` holds what the MLP classifier and MLP auto-encoder
families share: the same fields, ranges and first draws (the reference's
image_mlp.py and image_mlp_ae.py sample alike).
"""

import dataclasses
from collections.abc import Sequence

import numpy as np

from lopt_tasks import datasets as lopt_datasets
from lopt_tasks.families.common import ACTIVATION_CHOICES, INITIALIZER_CHOICES, InitScaleFamily
from lopt_tasks.image_task import ImageData
from lopt_tasks.sampling import choice, log_int

#: The offline default pool.
DEFAULT_IMAGE_DATASETS = ("digits",)
#: The reference's pool, less cifar100 (not among lopt's datasets); needs prepared tfds data.
REFERENCE_IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10", "imagenet16")


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


@dataclasses.dataclass(frozen=True)
class DenseImageFamily(InitScaleFamily):
    """Fields of the MLP image families; ranges are [low, high) for log-uniform draws, tuples of options otherwise.

    Defaults fit this machine ("digits" at 8×8, batch [4, 64), width [8, 32),
    0–2 hidden layers); `reference()` has the reference's ranges: batch
    [4, 512), image size [4, 32), width [8, 128), 0–4 hidden layers.
    """

    datasets: tuple[str, ...] = DEFAULT_IMAGE_DATASETS
    batch_sizes: tuple[int, int] = (4, 64)
    image_sizes: tuple[int, int] | None = None
    hidden_sizes: tuple[int, int] = (8, 32)
    depths: tuple[int, ...] = (0, 1, 2)
    activations: tuple[str, ...] = ACTIVATION_CHOICES
    initializers: tuple[str, ...] = INITIALIZER_CHOICES
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_IMAGE_DATASETS, data_dir=None):
        return cls(datasets, (4, 512), (4, 32), (8, 128), (0, 1, 2, 3, 4), data_dir=data_dir)

    def sample_layers(self, rng: np.random.Generator) -> tuple[ImageData, tuple[int, ...], str, str]:
        """(image data, hidden sizes of one width, activation, initialiser), drawn in the reference's order."""
        width = log_int(rng, *self.hidden_sizes)
        depth = int(choice(rng, self.depths))
        image_data = sample_image_data(rng, self.datasets, self.batch_sizes, self.image_sizes)
        return image_data, (width,) * depth, choice(rng, self.activations), choice(rng, self.initializers)
