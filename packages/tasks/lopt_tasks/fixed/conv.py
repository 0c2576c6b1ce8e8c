"""The tradeoffs paper's small ConvNet (App. B.2).

Three 3x3 convolutions with SAME padding and ReLU — 32 channels with stride
2, then 64 and 64 with stride 1 — the mean over the spatial positions, and a
linear layer to the class logits; mean softmax cross-entropy. Haiku's
default initialisers: truncated normal weights with standard deviation
1/sqrt(fan-in), zero biases.
"""

import dataclasses
import math

import haiku as hk
import jax
import jax.numpy as jnp

from lopt_tasks import losses
from lopt_tasks.fixed.image_task import ImageTask


@dataclasses.dataclass(frozen=True)
class ImageConvNet(ImageTask):
    """A ConvNet classifier (see `ImageTask` for the shared fields).

    Attributes:
      channels: output channels of each 3x3 convolution; the first has
        stride 2, the others stride 1.
    """

    name: str = "image_conv"
    channels: tuple[int, ...] = (32, 64, 64)

    def _logits(self, images):
        net = images
        for i, channels in enumerate(self.channels):
            net = jax.nn.relu(hk.Conv2D(channels, kernel_shape=3, stride=2 if i == 0 else 1, padding="SAME")(net))
        return hk.Linear(self.num_classes)(jnp.mean(net, axis=(1, 2)))

    def _model(self) -> hk.Transformed:
        return hk.without_apply_rng(hk.transform(self._logits))

    def init(self, key):
        return self._model().init(key, self.dummy_images())

    def loss(self, params, key, batch):
        return losses.softmax_cross_entropy(self._model().apply(params, batch["image"]), batch["label"])

    @property
    def normalizer(self) -> float:
        return math.log(self.num_classes)


def cifar10_conv(**overrides) -> ImageConvNet:
    """App. B.2: the ConvNet on 32x32 CIFAR-10 in [0, 1], batch 128 (56,970 parameters).

    App. E.1 evaluates it on 16x16 images: `cifar10_conv(image_size=(16, 16))`.
    """
    task = ImageConvNet(name="cifar10_conv", dataset="cifar10", channels=(32, 64, 64), batch_size=128)
    return dataclasses.replace(task, **overrides)


def digits_conv(**overrides) -> ImageConvNet:
    """The same ConvNet on the offline 8x8x1 digits, batch 128."""
    task = ImageConvNet(name="digits_conv", dataset="digits", channels=(32, 64, 64), batch_size=128)
    return dataclasses.replace(task, **overrides)
