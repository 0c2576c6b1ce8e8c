"""MLP image classifiers: the tradeoffs paper's Fashion-MNIST and ImageNet 16x16 MLPs (App. B.1, E.1).

Images are flattened, passed through ReLU hidden layers and a linear layer
to the class logits (haiku's `hk.nets.MLP`: weights from a truncated normal
with standard deviation 1/sqrt(fan-in), zero biases); the loss is the mean
softmax cross-entropy, so an untrained model's loss is near ln(#classes).
"""

import dataclasses
import math

import haiku as hk
import jax

from lopt_tasks import losses
from lopt_tasks.fixed.image_task import ImageTask


@dataclasses.dataclass(frozen=True)
class ImageMLP(ImageTask):
    """An MLP classifier on flattened images (see `ImageTask` for the shared fields)."""

    name: str = "image_mlp"
    hidden_sizes: tuple[int, ...] = (128, 128)

    def _logits(self, images):
        flat = images.reshape(images.shape[0], -1)
        return hk.nets.MLP([*self.hidden_sizes, self.num_classes], activation=jax.nn.relu)(flat)

    def _model(self) -> hk.Transformed:
        return hk.without_apply_rng(hk.transform(self._logits))

    def init(self, key):
        return self._model().init(key, self.dummy_images())

    def loss(self, params, key, batch):
        return losses.softmax_cross_entropy(self._model().apply(params, batch["image"]), batch["label"])

    @property
    def normalizer(self) -> float:
        return math.log(self.num_classes)


def fashion_mnist_mlp(**overrides) -> ImageMLP:
    """App. B.1: 2 hidden layers of 128 ReLU units on Fashion-MNIST in [0, 1], batch 128 (118,282 parameters)."""
    task = ImageMLP(name="fashion_mnist_mlp", dataset="fashion_mnist", hidden_sizes=(128, 128), batch_size=128)
    return dataclasses.replace(task, **overrides)


def imagenet16_mlp(**overrides) -> ImageMLP:
    """App. E.1: 3 hidden layers of 256 ReLU units on 16x16 ImageNet (1000 classes), batch 128."""
    task = ImageMLP(name="imagenet16_mlp", dataset="imagenet16", hidden_sizes=(256, 256, 256), batch_size=128)
    return dataclasses.replace(task, **overrides)


def digits_mlp(**overrides) -> ImageMLP:
    """The Fashion-MNIST MLP's shape (2 x 128 ReLU) on the offline 8x8 digits, batch 128."""
    task = ImageMLP(name="digits_mlp", dataset="digits", hidden_sizes=(128, 128), batch_size=128)
    return dataclasses.replace(task, **overrides)
