"""MLP image classifiers (VeLO §3.2 model family "MLPs").

Reference: tasks/parametric/image_mlp.py. Sampled, as there: dataset, image
size, batch size log-uniform on [4, 512), depth 0–4 hidden layers of one
width log-uniform on [8, 128), activation, initialiser and its scale. The
defaults are scaled down to this machine: "digits" at its stored 8×8 size,
batch [4, 64), width [8, 32), depth 0–2; `ImageMLPFamily.reference()` has
the reference's ranges.
"""

import dataclasses
from typing import Any

from lopt_tasks.base import TaskConfig, TaskFamily
from lopt_tasks.families.common import ACTIVATION_CHOICES, ACTIVATIONS, INITIALIZER_CHOICES, initializer, sample_init_scale
from lopt_tasks.families.image import (
    DEFAULT_IMAGE_DATASETS,
    REFERENCE_IMAGE_DATASETS,
    ImageClassificationTask,
    ImageData,
    dense_stack,
    flatten_images,
    sample_image_data,
)
from lopt_tasks.sampling import choice, log_int, numpy_rng


@dataclasses.dataclass(frozen=True)
class ImageMLPStructure:
    image_data: ImageData
    hidden_sizes: tuple[int, ...]
    activation: str
    initializer: str


@dataclasses.dataclass(frozen=True)
class ImageMLPTask(ImageClassificationTask):
    """Flattened images → hidden layers → logits; every layer uses the sampled initialiser."""

    structure: ImageMLPStructure
    init_scale: Any = 1.0
    data_dir: str | None = None

    @property
    def image_data(self):
        return self.structure.image_data

    @property
    def name(self) -> str:
        s = self.structure
        return f"mlp_{s.image_data.dataset}_{'x'.join(map(str, s.hidden_sizes)) or 'linear'}_{s.activation}"

    def logits(self, images):
        s = self.structure
        sizes = s.hidden_sizes + (s.image_data.num_classes,)
        return dense_stack(sizes, initializer(s.initializer, self.init_scale), ACTIVATIONS[s.activation], flatten_images(images))


@dataclasses.dataclass(frozen=True)
class ImageMLPFamily(TaskFamily):
    """MLP classifiers; ranges are [low, high) for log-uniform draws, tuples of options otherwise."""

    datasets: tuple[str, ...] = DEFAULT_IMAGE_DATASETS
    batch_sizes: tuple[int, int] = (4, 64)
    image_sizes: tuple[int, int] | None = None
    hidden_sizes: tuple[int, int] = (8, 32)
    depths: tuple[int, ...] = (0, 1, 2)
    activations: tuple[str, ...] = ACTIVATION_CHOICES
    initializers: tuple[str, ...] = INITIALIZER_CHOICES
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_IMAGE_DATASETS, data_dir=None) -> "ImageMLPFamily":
        return cls(datasets, (4, 512), (4, 32), (8, 128), (0, 1, 2, 3, 4), data_dir=data_dir)

    @property
    def name(self) -> str:
        return "mlp"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        width = log_int(rng, *self.hidden_sizes)
        depth = int(choice(rng, self.depths))
        return ImageMLPStructure(
            image_data=sample_image_data(rng, self.datasets, self.batch_sizes, self.image_sizes),
            hidden_sizes=(width,) * depth,
            activation=choice(rng, self.activations),
            initializer=choice(rng, self.initializers),
        )

    def sample_values(self, key, structure):
        return {"init_scale": sample_init_scale(key)}

    def task(self, cfg: TaskConfig) -> ImageMLPTask:
        return ImageMLPTask(cfg.structure, cfg.values["init_scale"], self.data_dir)
