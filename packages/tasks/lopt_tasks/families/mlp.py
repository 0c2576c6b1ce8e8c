"""MLP image classifiers (VeLO §3.2 model family "MLPs").

Reference: tasks/parametric/image_mlp.py. Sampled, as there: dataset, image
size, batch size log-uniform on [4, 512), depth 0–4 hidden layers of one
width log-uniform on [8, 128), activation, initialiser and its scale. The
defaults are scaled down to this machine: "digits" at its stored 8×8 size,
batch [4, 64), width [8, 32), depth 0–2; `ImageMLPFamily.reference()` has
the reference's ranges.
"""

import dataclasses

from lopt_tasks.families.common import ACTIVATIONS, SampledImageTask, initializer
from lopt_tasks.families.image import DenseImageFamily
from lopt_tasks.image_task import ImageClassificationTask, ImageData, dense_stack, flatten_images
from lopt_tasks.sampling import numpy_rng


@dataclasses.dataclass(frozen=True)
class ImageMLPStructure:
    image_data: ImageData
    hidden_sizes: tuple[int, ...]
    activation: str
    initializer: str


@dataclasses.dataclass(frozen=True)
class ImageMLPTask(SampledImageTask, ImageClassificationTask):
    """Flattened images → hidden layers → logits; every layer uses the sampled initialiser."""

    structure: ImageMLPStructure

    @property
    def name(self) -> str:
        s = self.structure
        return f"mlp_{s.image_data.dataset}_{'x'.join(map(str, s.hidden_sizes)) or 'linear'}_{s.activation}"

    def logits(self, images):
        s = self.structure
        sizes = s.hidden_sizes + (s.image_data.num_classes,)
        return dense_stack(sizes, initializer(s.initializer, self.init_scale), ACTIVATIONS[s.activation], flatten_images(images))


@dataclasses.dataclass(frozen=True)
class ImageMLPFamily(DenseImageFamily):
    """MLP classifiers (see `DenseImageFamily` for the fields)."""

    task_type = ImageMLPTask

    @property
    def name(self) -> str:
        return "mlp"

    def sample_structure(self, key):
        image_data, hidden_sizes, activation, initializer_name = self.sample_layers(numpy_rng(key))
        return ImageMLPStructure(image_data, hidden_sizes, activation, initializer_name)
