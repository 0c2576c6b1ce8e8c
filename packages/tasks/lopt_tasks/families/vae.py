"""MLP variational auto-encoders on images (VeLO §3.2 model family "variational auto-encoders").

Reference: tasks/parametric/image_mlp_vae.py and tasks/generative_model_utils.py.
Encoder: an MLP to 2·latent numbers, the mean and log standard deviation of
a diagonal Gaussian q(z|x); prior N(0, I); decoder: an MLP from a
reparameterised sample z to 2·pixels numbers, clipped to [−10, 10], the
mean and log standard deviation of a Gaussian per pixel, scored on the
pixels plus uniform quantisation noise of one 8-bit bin (1/255) with the
bin width's log added (a discretised likelihood). Loss: the negative ELBO
−(log p(x|z) − KL(q(z|x) ‖ p(z))), with the KL in closed form, averaged over
the batch; divided by the number of pixels if `per_dim_loss`.
`center_data` maps pixels to [−1, 1] first.

Sampled as the reference: encoder and decoder widths log-uniform on
[4, 128), 0–4 hidden layers each, latent size [2, 128), image size [4, 32),
batch size [4, 512), dataset, activation, initialiser and scale, and the two
switches (in the structure here: they change the loss program).
Defaults: "digits" at 8×8, widths [4, 32), 0–2 layers, latent [2, 16),
batch [4, 64).

Normalizer: the loss of the network whose outputs are all zero (q = prior,
so KL = 0, and p(x|z) = N(0, 1) per pixel) on training batch 0:
Σ_pixels [½ log 2π + ½ x² − log(1/255)], or its mean per pixel with
`per_dim_loss`. Unlike the reference (which divides by the pixels and clips
at 10) this is a loss value, as `Task.normalizer` asks.
"""

import dataclasses
import functools
import math

import jax.numpy as jnp
import numpy as np

from lopt_tasks import random_pool
from lopt_tasks.families.common import (
    ACTIVATION_CHOICES,
    ACTIVATIONS,
    INITIALIZER_CHOICES,
    InitScaleFamily,
    SampledImageTask,
    initializer,
)
from lopt_tasks.families.image import DEFAULT_IMAGE_DATASETS, REFERENCE_IMAGE_DATASETS, sample_image_data
from lopt_tasks.image_task import ImageData, ImageTask, dense_stack, flatten_images
from lopt_tasks.sampling import choice, log_int, numpy_rng

BIN_SIZE = 1.0 / 255.0
HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


@dataclasses.dataclass(frozen=True)
class VAEStructure:
    image_data: ImageData
    encoder_sizes: tuple[int, ...]
    decoder_sizes: tuple[int, ...]
    latent_size: int
    activation: str
    initializer: str
    center_data: bool
    per_dim_loss: bool


def gaussian_log_density(x, mean, log_std):
    return -HALF_LOG_TWO_PI - log_std - 0.5 * jnp.square((x - mean) * jnp.exp(-log_std))


def kl_to_standard_normal(mean, log_std):
    """KL(N(mean, exp(log_std)²) ‖ N(0, 1)), summed over the last axis."""
    return jnp.sum(0.5 * (jnp.square(mean) + jnp.exp(2 * log_std) - 1) - log_std, axis=-1)


@functools.lru_cache(maxsize=256)
def _zero_output_loss(task: "VAETask") -> float:
    images = task.first_images().reshape(task.image_data.batch_size, -1)
    x = 2 * (images - 0.5) if task.structure.center_data else images
    per_pixel = HALF_LOG_TWO_PI + 0.5 * np.mean(np.square(x)) - math.log(BIN_SIZE)
    return float(per_pixel if task.structure.per_dim_loss else per_pixel * images.shape[1])


@dataclasses.dataclass(frozen=True)
class VAETask(SampledImageTask, ImageTask):
    structure: VAEStructure

    @property
    def name(self) -> str:
        s = self.structure
        return f"vae_{s.image_data.dataset}_z{s.latent_size}_{'x'.join(map(str, s.encoder_sizes)) or 'linear'}_{s.activation}"

    def forward(self, batch):
        s = self.structure
        x = flatten_images(batch["image"])
        if s.center_data:
            x = 2 * (x - 0.5)
        pixels = x.shape[1]
        w_init, act = initializer(s.initializer, self.init_scale), ACTIVATIONS[s.activation]
        posterior = dense_stack(s.encoder_sizes + (2 * s.latent_size,), w_init, act, x, name="encoder")
        z_mean, z_log_std = jnp.split(posterior, 2, axis=-1)
        z = z_mean + jnp.exp(z_log_std) * random_pool.standard_normal(z_mean.shape).astype(z_mean.dtype)
        likelihood = jnp.clip(dense_stack(s.decoder_sizes + (2 * pixels,), w_init, act, z, name="decoder"), -10, 10)
        x_mean, x_log_std = jnp.split(likelihood, 2, axis=-1)
        noisy = x + random_pool.uniform(x.shape, -0.5 * BIN_SIZE, 0.5 * BIN_SIZE).astype(x.dtype)
        log_likelihood = jnp.sum(gaussian_log_density(noisy, x_mean, x_log_std), axis=-1) + pixels * math.log(BIN_SIZE)
        elbo = log_likelihood - kl_to_standard_normal(z_mean, z_log_std)
        if s.per_dim_loss:
            elbo = elbo / pixels
        return -jnp.mean(elbo)

    @property
    def normalizer(self) -> float:
        return _zero_output_loss(dataclasses.replace(self, init_scale=1.0))


@dataclasses.dataclass(frozen=True)
class VAEFamily(InitScaleFamily):
    """MLP VAEs; ranges are [low, high) for log-uniform draws, tuples of options otherwise."""

    task_type = VAETask

    datasets: tuple[str, ...] = DEFAULT_IMAGE_DATASETS
    batch_sizes: tuple[int, int] = (4, 64)
    image_sizes: tuple[int, int] | None = None
    hidden_sizes: tuple[int, int] = (4, 32)
    depths: tuple[int, ...] = (0, 1, 2)
    latent_sizes: tuple[int, int] = (2, 16)
    activations: tuple[str, ...] = ACTIVATION_CHOICES
    initializers: tuple[str, ...] = INITIALIZER_CHOICES
    data_dir: str | None = None

    @classmethod
    def reference(cls, datasets=REFERENCE_IMAGE_DATASETS, data_dir=None) -> "VAEFamily":
        return cls(datasets, (4, 512), (4, 32), (4, 128), (0, 1, 2, 3, 4), (2, 128), data_dir=data_dir)

    @property
    def name(self) -> str:
        return "vae"

    def sample_structure(self, key):
        rng = numpy_rng(key)
        encoder_width, decoder_width = log_int(rng, *self.hidden_sizes), log_int(rng, *self.hidden_sizes)
        encoder_depth, decoder_depth = int(choice(rng, self.depths)), int(choice(rng, self.depths))
        return VAEStructure(
            image_data=sample_image_data(rng, self.datasets, self.batch_sizes, self.image_sizes),
            encoder_sizes=(encoder_width,) * encoder_depth,
            decoder_sizes=(decoder_width,) * decoder_depth,
            latent_size=log_int(rng, *self.latent_sizes),
            activation=choice(rng, self.activations),
            initializer=choice(rng, self.initializers),
            center_data=bool(rng.uniform() < 0.5),
            per_dim_loss=bool(rng.uniform() < 0.5),
        )
