"""Fixed tasks: the tradeoffs paper's training problems (App. B, E.1) and offline twins of them.

Each fixed task is an instance of one of four small task classes, written
on the same haiku and image/text task bases as the sampled families; each
constructor takes keyword overrides of its class's fields, e.g.
`fashion_mnist_mlp(data_dir="/data/tfds", batch_size=32)`. Weights use
haiku's default initialisers (truncated normal with standard deviation
1/sqrt(fan-in), zero biases), as the reference does; losses are means over
the batch (and over positions and pixels).

- `ImageMLP` (App. B.1, E.1): flattened images, ReLU hidden layers and a
  linear layer to the class logits; softmax cross-entropy, so an untrained
  model's loss is near ln(#classes).
- `ImageConvNet` (App. B.2): 3x3 convolutions with SAME padding and ReLU,
  the first with stride 2, the others 1; the mean over the spatial
  positions and a linear layer to the class logits.
- `ImageMLPAutoencoder` (App. E.1 "Auto Encoder"): the flattened image
  through ReLU hidden layers and a linear layer back to one logit per
  pixel; the reconstruction is sigmoid(logits), the loss the mean squared
  error over pixels and examples (as the reference's image_mlp_ae.py).
  Normalizer: the mean over the training images of (x − 0.5)², the loss of
  reconstructing every pixel as 0.5 — what an untrained network outputs,
  its logits being small (its initial loss is slightly higher, by the
  spread of sigmoid(logits) around 0.5), computed on first use.
- `ByteLSTMLanguageModel` (App. E.1 "LSTM language modeling"): bytes
  embedded by a lookup table, read by an LSTM whose initial state is
  learned (zeros at initialisation, as in the reference's rnn_lm.py), and a
  linear layer to the logits of the next byte; windows are cut from
  concatenated text, so there is no padding to mask.
"""

import dataclasses
import functools
import numbers

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from lopt_tasks import losses
from lopt_tasks.datasets import IMAGE_DATASETS, TEXT_DATASETS, VOCAB_SIZE, image_info
from lopt_tasks.image_task import ImageClassificationTask, ImageData, ImageTask, dense_stack, flatten_images
from lopt_tasks.text_task import LanguageModelTask, TextData


@dataclasses.dataclass(frozen=True)
class FixedImageTask(ImageTask):
    """The fields of every fixed image task, checked on construction.

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
    def image_data(self) -> ImageData:
        return ImageData(self.dataset, self.batch_size, self.image_size)


@dataclasses.dataclass(frozen=True)
class ImageMLP(FixedImageTask, ImageClassificationTask):
    """An MLP classifier on flattened images (see `FixedImageTask` for the shared fields)."""

    name: str = "image_mlp"
    hidden_sizes: tuple[int, ...] = (128, 128)

    def logits(self, images):
        return dense_stack((*self.hidden_sizes, self.num_classes), None, jax.nn.relu, flatten_images(images))


@dataclasses.dataclass(frozen=True)
class ImageConvNet(FixedImageTask, ImageClassificationTask):
    """A ConvNet classifier (see `FixedImageTask` for the shared fields).

    Attributes:
      channels: output channels of each 3x3 convolution; the first has
        stride 2, the others stride 1.
    """

    name: str = "image_conv"
    channels: tuple[int, ...] = (32, 64, 64)

    def logits(self, images):
        net = images
        for i, channels in enumerate(self.channels):
            net = jax.nn.relu(hk.Conv2D(channels, kernel_shape=3, stride=2 if i == 0 else 1, padding="SAME")(net))
        return hk.Linear(self.num_classes)(jnp.mean(net, axis=(1, 2)))


@dataclasses.dataclass(frozen=True)
class ImageMLPAutoencoder(FixedImageTask):
    """An MLP auto-encoder with a sigmoid output and squared error (see `FixedImageTask` for the shared fields)."""

    name: str = "image_mlp_autoencoder"
    hidden_sizes: tuple[int, ...] = (128, 32, 128)

    def forward(self, batch):
        flat = flatten_images(batch["image"])
        logits = dense_stack((*self.hidden_sizes, flat.shape[-1]), None, jax.nn.relu, flat)
        return losses.sigmoid_mean_squared_error(logits, flat)

    @functools.cached_property
    def normalizer(self) -> float:
        images = self.datasets["train"].arrays["image"]
        scaled = images.astype(np.float64) / image_info(self.dataset).max_value
        return float(np.mean(np.square(scaled - 0.5)))


@dataclasses.dataclass(frozen=True)
class ByteLSTMLanguageModel(LanguageModelTask):
    """A teacher-forced LSTM predicting the next byte (vocabulary 256).

    Attributes:
      name: the task's identifier.
      dataset: a text dataset of `lopt_tasks.datasets.TEXT_DATASETS`.
      embedding_dim: size of each byte's embedding.
      hidden_size: LSTM units.
      sequence_length: bytes the model reads per window.
      batch_size: windows per batch.
      data_dir: the tfds data directory (None: `$TFDS_DATA_DIR` or
        `~/tensorflow_datasets`); offline corpora ignore it.
    """

    name: str = "byte_lstm"
    dataset: str = "licenses"
    embedding_dim: int = 64
    hidden_size: int = 128
    sequence_length: int = 32
    batch_size: int = 128
    data_dir: str | None = None

    def __post_init__(self):
        if self.dataset not in TEXT_DATASETS:
            raise ValueError(f"unknown text dataset {self.dataset!r}; known: {', '.join(sorted(TEXT_DATASETS))}.")

    @property
    def text_data(self) -> TextData:
        return TextData(self.dataset, self.batch_size, self.sequence_length)

    @property
    def vocab_size(self) -> int:
        return VOCAB_SIZE

    def logits(self, inputs):
        embedded = hk.Embed(VOCAB_SIZE, self.embedding_dim)(inputs)
        core = hk.LSTM(self.hidden_size)
        template = core.initial_state(1)
        learned = hk.LSTMState(
            hidden=hk.get_parameter("initial_hidden", template.hidden.shape, init=jnp.zeros),
            cell=hk.get_parameter("initial_cell", template.cell.shape, init=jnp.zeros),
        )
        initial = jax.tree_util.tree_map(lambda x: jnp.repeat(x, inputs.shape[0], axis=0), learned)
        outputs, _ = hk.dynamic_unroll(core, embedded, initial, time_major=False)
        return hk.Linear(VOCAB_SIZE)(outputs)


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


def cifar10_autoencoder(**overrides) -> ImageMLPAutoencoder:
    """App. E.1: the 128-32-128 auto-encoder on CIFAR-10, batch 256 (the reference's batch size)."""
    task = ImageMLPAutoencoder(name="cifar10_autoencoder", dataset="cifar10", hidden_sizes=(128, 32, 128), batch_size=256)
    return dataclasses.replace(task, **overrides)


def digits_autoencoder(**overrides) -> ImageMLPAutoencoder:
    """The 128-32-128 auto-encoder on the offline 8x8 digits, batch 128."""
    task = ImageMLPAutoencoder(name="digits_autoencoder", dataset="digits", hidden_sizes=(128, 32, 128), batch_size=128)
    return dataclasses.replace(task, **overrides)


def lm1b_lstm(**overrides) -> ByteLSTMLanguageModel:
    """App. E.1: 64-dim byte embedding, 128-unit LSTM, length-32 windows of LM1B, batch 128 (the reference's)."""
    return dataclasses.replace(ByteLSTMLanguageModel(name="lm1b_lstm", dataset="lm1b"), **overrides)


def text_lstm(**overrides) -> ByteLSTMLanguageModel:
    """The same LSTM language model on the offline licence-text corpus ("licenses"), batch 128."""
    return dataclasses.replace(ByteLSTMLanguageModel(name="text_lstm", dataset="licenses"), **overrides)


__all__ = [
    "ByteLSTMLanguageModel",
    "FixedImageTask",
    "ImageConvNet",
    "ImageMLP",
    "ImageMLPAutoencoder",
    "ImageTask",
    "cifar10_autoencoder",
    "cifar10_conv",
    "digits_autoencoder",
    "digits_conv",
    "digits_mlp",
    "fashion_mnist_mlp",
    "imagenet16_mlp",
    "lm1b_lstm",
    "text_lstm",
]
