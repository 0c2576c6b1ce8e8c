"""Datasets for tasks: image classification and byte-level text, as `ArrayDataset` splits.

Offline: "digits" (scikit-learn) and "licenses" (Debian's licence texts).
From a prepared TensorFlow Datasets directory, read without TensorFlow and
never downloaded: "mnist", "fashion_mnist", "cifar10", "imagenet16", "lm1b".
"""

from lopt_tasks.datasets.images import IMAGE_DATASETS, ImageInfo, image_dataset, image_info, image_shape, num_classes
from lopt_tasks.datasets.text import TEXT_DATASETS, VOCAB_SIZE, TextInfo, byte_text_dataset
from lopt_tasks.datasets.tfds_source import clear_cache, default_data_dir

__all__ = [
    "IMAGE_DATASETS",
    "ImageInfo",
    "TEXT_DATASETS",
    "TextInfo",
    "VOCAB_SIZE",
    "byte_text_dataset",
    "clear_cache",
    "default_data_dir",
    "image_dataset",
    "image_info",
    "image_shape",
    "num_classes",
]
