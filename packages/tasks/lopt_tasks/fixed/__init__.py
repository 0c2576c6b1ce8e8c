"""Fixed tasks: the tradeoffs paper's training problems (App. B, E.1) and offline twins of them.

Each constructor takes keyword overrides of its dataclass's fields, e.g.
`fashion_mnist_mlp(data_dir="/data/tfds", batch_size=32)`.
"""

from lopt_tasks.fixed.autoencoder import ImageMLPAutoencoder, cifar10_autoencoder, digits_autoencoder
from lopt_tasks.fixed.conv import ImageConvNet, cifar10_conv, digits_conv
from lopt_tasks.fixed.image_mlp import ImageMLP, digits_mlp, fashion_mnist_mlp, imagenet16_mlp
from lopt_tasks.fixed.image_task import ImageTask
from lopt_tasks.fixed.rnn_lm import ByteLSTMLanguageModel, lm1b_lstm, text_lstm

__all__ = [
    "ByteLSTMLanguageModel",
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
