"""Image classification datasets as in-memory `ArrayDataset` splits.

Every batch is `{"image": float32 [B, H, W, C] in [0, 1], "label": int32 [B]}`:
the tradeoffs paper's input scaling (App. B, "inputs in [0, 1]"). Images stay
uint8 in memory and are scaled (and resized, if asked) batch by batch.

- "digits": scikit-learn's bundled 8x8 digits (1797 images, pixel values
  0..16, 10 classes); works offline. Split: the examples shuffled by
  `numpy.random.default_rng(0)`, the last 360 (20%) are "test", the first
  1437 "train".
- "mnist", "fashion_mnist", "cifar10", "imagenet16": TensorFlow Datasets
  (`imagenet16` is tfds `imagenet_resized/16x16`), read without TensorFlow
  from a prepared `data_dir` (see `tfds_source`); "train" is tfds's train
  split and "test" its test split (ImageNet: its validation split).
"""

import dataclasses
import functools

import jax
import numpy as np

from lopt_tasks.data import ArrayDataset
from lopt_tasks.datasets import tfds_source

#: Examples of "digits" held out as its test split.
DIGITS_TEST_SIZE = 360


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What a model needs to know about an image dataset before loading it.

    Attributes:
      name: the lopt name, e.g. "fashion_mnist".
      shape: (height, width, channels) of one image.
      num_classes: number of labels.
      source: "sklearn" or the tfds dataset name.
      splits: lopt split name → source split name.
      max_value: the pixel value that maps to 1.0.
    """

    name: str
    shape: tuple[int, int, int]
    num_classes: int
    source: str
    splits: tuple[tuple[str, str], ...] = (("train", "train"), ("test", "test"))
    max_value: float = 255.0


IMAGE_DATASETS: dict[str, ImageInfo] = {
    info.name: info
    for info in (
        ImageInfo("digits", (8, 8, 1), 10, "sklearn", (("train", "first 1437"), ("test", "last 360")), 16.0),
        ImageInfo("mnist", (28, 28, 1), 10, "mnist"),
        ImageInfo("fashion_mnist", (28, 28, 1), 10, "fashion_mnist"),
        ImageInfo("cifar10", (32, 32, 3), 10, "cifar10"),
        ImageInfo("imagenet16", (16, 16, 3), 1000, "imagenet_resized/16x16", (("train", "train"), ("test", "validation"))),
    )
}


def image_info(name: str) -> ImageInfo:
    """The `ImageInfo` of `name`; `KeyError` listing the known names."""
    if name not in IMAGE_DATASETS:
        raise KeyError(f"unknown image dataset {name!r}; known: {sorted(IMAGE_DATASETS)}.")
    return IMAGE_DATASETS[name]


def num_classes(name: str) -> int:
    return image_info(name).num_classes


def image_shape(name: str) -> tuple[int, int, int]:
    """(height, width, channels) of the stored images (before any `image_size` resize)."""
    return image_info(name).shape


@functools.cache
def _digits() -> dict[str, dict[str, np.ndarray]]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]  # integer values 0..16
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(0).permutation(len(labels))
    train, test = order[:-DIGITS_TEST_SIZE], order[-DIGITS_TEST_SIZE:]
    return {
        "train": {"image": images[train], "label": labels[train]},
        "test": {"image": images[test], "label": labels[test]},
    }


def _read_images(examples) -> dict[str, np.ndarray]:
    # One example at a time: the mocked data source of tfds.testing has no batched access.
    rows = [examples[i] for i in range(len(examples))]
    return {
        "image": np.stack([np.asarray(r["image"], np.uint8) for r in rows]),
        "label": np.asarray([r["label"] for r in rows], np.int32),
    }


def _scale_and_resize(batch, maximum: float, image_size: tuple[int, int] | None):
    image = batch["image"].astype(np.float32) / np.float32(maximum)
    if image_size is not None and tuple(image.shape[1:3]) != tuple(image_size):
        shape = (image.shape[0], *image_size, image.shape[3])
        image = np.clip(np.asarray(jax.image.resize(image, shape, method="linear")), 0.0, 1.0)
    return {"image": image, "label": batch["label"].astype(np.int32)}


def image_dataset(
    name: str,
    batch_size: int,
    *,
    data_dir: str | None = None,
    image_size: tuple[int, int] | None = None,
) -> dict[str, ArrayDataset]:
    """The "train" and "test" splits of image dataset `name` as `ArrayDataset`s.

    Args:
      name: one of `IMAGE_DATASETS`.
      batch_size: examples per batch; an evaluation split with fewer
        examples is batched whole.
      data_dir: the tfds data directory (ignored by "digits"); None uses
        `$TFDS_DATA_DIR` or `~/tensorflow_datasets`.
      image_size: (height, width) to resize to (bilinear; antialiased when
        shrinking); None keeps the stored size.

    Raises:
      KeyError: unknown `name`.
      FileNotFoundError: a tfds dataset is not prepared in `data_dir`.
    """
    info = image_info(name)
    if info.source == "sklearn":
        splits = _digits()
    else:
        splits = {
            ours: tfds_source.read_split(info.source, theirs, data_dir, "images", _read_images)
            for ours, theirs in info.splits
        }
    transform = functools.partial(_scale_and_resize, maximum=info.max_value, image_size=image_size)

    def split_batch_size(split: str, arrays) -> int:
        # Training batches are what the task is; an evaluation split smaller than a batch (digits' 360 test
        # images at batch 512) is evaluated whole instead of making the task unusable.
        return batch_size if split == "train" else min(batch_size, len(next(iter(arrays.values()))))

    return {
        split: ArrayDataset(arrays, batch_size=split_batch_size(split, arrays), transform=transform,
                            name=f"{name}/{split}")
        for split, arrays in splits.items()
    }
