"""MLP auto-encoders of images (the tradeoffs paper's App. E.1 "Auto Encoder").

The flattened image goes through ReLU hidden layers (128, 32, 128) and a
linear layer back to one logit per pixel; the reconstruction is
sigmoid(logits) and the loss the mean squared error over pixels and
examples (as the reference's image_mlp_ae.py computes it).

Normalizer: the mean over the training images of (x − 0.5)², the loss of
reconstructing every pixel as 0.5 — what an untrained network outputs, its
logits being small (its initial loss is slightly higher, by the spread of
sigmoid(logits) around 0.5). It is computed from the stored images of the
train split on first use.
"""

import dataclasses
import functools

import haiku as hk
import jax
import numpy as np

from lopt_tasks import losses
from lopt_tasks.datasets import image_info
from lopt_tasks.fixed.image_task import ImageTask


@dataclasses.dataclass(frozen=True)
class ImageMLPAutoencoder(ImageTask):
    """An MLP auto-encoder with a sigmoid output and squared error (see `ImageTask` for the shared fields)."""

    name: str = "image_mlp_autoencoder"
    hidden_sizes: tuple[int, ...] = (128, 32, 128)

    def _logits(self, flat):
        return hk.nets.MLP([*self.hidden_sizes, flat.shape[-1]], activation=jax.nn.relu)(flat)

    def _model(self) -> hk.Transformed:
        return hk.without_apply_rng(hk.transform(self._logits))

    def init(self, key):
        return self._model().init(key, self.dummy_images().reshape(1, -1))

    def loss(self, params, key, batch):
        flat = batch["image"].reshape(batch["image"].shape[0], -1)
        return losses.sigmoid_mean_squared_error(self._model().apply(params, flat), flat)

    @functools.cached_property
    def normalizer(self) -> float:
        images = self.datasets["train"].arrays["image"]
        scaled = images.astype(np.float64) / image_info(self.dataset).max_value
        return float(np.mean(np.square(scaled - 0.5)))


def cifar10_autoencoder(**overrides) -> ImageMLPAutoencoder:
    """App. E.1: the 128-32-128 auto-encoder on CIFAR-10, batch 256 (the reference's batch size)."""
    task = ImageMLPAutoencoder(name="cifar10_autoencoder", dataset="cifar10", hidden_sizes=(128, 32, 128), batch_size=256)
    return dataclasses.replace(task, **overrides)


def digits_autoencoder(**overrides) -> ImageMLPAutoencoder:
    """The 128-32-128 auto-encoder on the offline 8x8 digits, batch 128."""
    task = ImageMLPAutoencoder(name="digits_autoencoder", dataset="digits", hidden_sizes=(128, 32, 128), batch_size=128)
    return dataclasses.replace(task, **overrides)
