"""MLP image auto-encoders (VeLO §3.2 model family "auto-encoders").

Reference: tasks/parametric/image_mlp_ae.py. The flattened image goes
through hidden layers of one sampled width and back out to the image size;
the loss is the per-example mean squared reconstruction error, averaged
over the batch. Three sampled switches, as the reference's: `center_data`
maps pixels from [0, 1] to [−1, 1]; `constrain_output` squashes the output
to the data's range (tanh if centred, else sigmoid); `log_loss` uses
log(mse + 1e-8) per example. Also sampled as the reference: width
log-uniform on [8, 128), 0–4 hidden layers, image size [4, 32), batch size
[4, 512), dataset, activation, initialiser and scale. The switches change
the loss program and its scale, so here they are part of the structure.
Defaults: "digits" at 8×8, width [8, 32), 0–2 layers, batch [4, 64).

Normalizer: the loss of the all-zero network output (what an untrained
network with small weights predicts, before the output squashing) on
training batch 0. It is negative with `log_loss` (the log of an MSE below 1).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks.families.common import ACTIVATIONS, SampledImageTask, initializer
from lopt_tasks.families.image import DenseImageFamily
from lopt_tasks.image_task import ImageData, ImageTask, dense_stack, flatten_images
from lopt_tasks.sampling import numpy_rng

LOG_EPSILON = 1e-8


@dataclasses.dataclass(frozen=True)
class AutoencoderStructure:
    image_data: ImageData
    hidden_sizes: tuple[int, ...]
    activation: str
    initializer: str
    center_data: bool
    constrain_output: bool
    log_loss: bool


def reconstruction_loss(structure: AutoencoderStructure, images, network_output):
    """The loss for flattened `images` in [0, 1] and the raw network output (numpy or jax)."""
    xp = jnp if isinstance(network_output, jax.Array) else np
    target = 2 * (images - 0.5) if structure.center_data else images
    prediction = network_output
    if structure.constrain_output:
        prediction = xp.tanh(prediction) if structure.center_data else 1 / (1 + xp.exp(-prediction))
    per_example = xp.mean(xp.square(prediction - target), axis=1)
    if structure.log_loss:
        per_example = xp.log(per_example + LOG_EPSILON)
    return xp.mean(per_example)


@functools.lru_cache(maxsize=256)
def _zero_output_loss(task: "AutoencoderTask") -> float:
    images = task.first_images().reshape(task.image_data.batch_size, -1)
    return float(reconstruction_loss(task.structure, images, np.zeros_like(images)))


@dataclasses.dataclass(frozen=True)
class AutoencoderTask(SampledImageTask, ImageTask):
    structure: AutoencoderStructure

    @property
    def name(self) -> str:
        s = self.structure
        flags = "".join(f for f, on in (("c", s.center_data), ("s", s.constrain_output), ("l", s.log_loss)) if on)
        return f"autoencoder_{s.image_data.dataset}_{'x'.join(map(str, s.hidden_sizes)) or 'linear'}_{s.activation}_{flags}"

    def forward(self, batch):
        s = self.structure
        images = flatten_images(batch["image"])
        inputs = 2 * (images - 0.5) if s.center_data else images
        w_init = initializer(s.initializer, self.init_scale)
        output = dense_stack(s.hidden_sizes + (images.shape[1],), w_init, ACTIVATIONS[s.activation], inputs)
        return reconstruction_loss(s, images, output)

    @property
    def normalizer(self) -> float:
        return _zero_output_loss(dataclasses.replace(self, init_scale=1.0))

    @property
    def log_loss_scale(self):
        return 1.0 if self.structure.log_loss else None


@dataclasses.dataclass(frozen=True)
class AutoencoderFamily(DenseImageFamily):
    """MLP auto-encoders (see `DenseImageFamily` for the fields)."""

    task_type = AutoencoderTask

    @property
    def name(self) -> str:
        return "autoencoder"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        image_data, hidden_sizes, activation, initializer_name = self.sample_layers(rng)
        return AutoencoderStructure(
            image_data=image_data,
            hidden_sizes=hidden_sizes,
            activation=activation,
            initializer=initializer_name,
            center_data=bool(rng.uniform() < 0.5),
            constrain_output=bool(rng.uniform() < 0.5),
            log_loss=bool(rng.uniform() < 0.5),
        )
