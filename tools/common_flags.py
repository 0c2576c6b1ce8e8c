"""Flags that several binaries share (absl allows each flag to be defined once per process)."""

from absl import flags

DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "TensorFlow Datasets directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)."
)
