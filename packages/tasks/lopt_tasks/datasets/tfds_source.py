"""Reading prepared TensorFlow Datasets without TensorFlow, and never downloading.

`tfds.data_source` gives random access to a prepared dataset stored as
ArrayRecord files, with no TensorFlow; it is called with `download=False`,
so tfds never reaches the network. When the dataset is not prepared in the
data directory, `open_split` raises a `FileNotFoundError` that names the
dataset, the directory and the command that prepares it on a machine with
internet access.

A split is read into numpy once per process: `read_split` caches what its
reader returns under (reader kind, dataset, split, data directory, number of
examples). The number of examples is part of the key so that
`tfds.testing.mock_data` blocks with different `num_examples` (whose
generated data is otherwise deterministic) never see each other's arrays.
"""

import os
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow_datasets as tfds

#: The on-disk format `tfds.data_source` can read at random.
FILE_FORMAT = "array_record"

_CACHE: dict[tuple, Any] = {}


def default_data_dir() -> str:
    """Where prepared datasets are looked for: `$TFDS_DATA_DIR`, else `~/tensorflow_datasets` (tfds's default)."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def resolve_data_dir(data_dir: str | None) -> str:
    return os.path.abspath(os.path.expanduser(data_dir)) if data_dir else default_data_dir()


def preparation_hint(tfds_name: str, data_dir: str) -> str:
    """The commands that prepare `tfds_name` in a directory `data_dir` (needs internet and TensorFlow)."""
    return (
        "On a machine with internet access run\n"
        "  pip install tensorflow tensorflow-datasets && python -c \"import tensorflow_datasets as tfds; "
        f"tfds.builder('{tfds_name}', data_dir='{data_dir}', file_format='{FILE_FORMAT}').download_and_prepare()\"\n"
        f"then copy {os.path.join(data_dir, tfds_name.split('/')[0])} to this machine under the same data_dir "
        "(or pass data_dir= / set TFDS_DATA_DIR to where you put it)."
    )


def open_split(tfds_name: str, split: str, data_dir: str | None) -> Sequence[dict[str, Any]]:
    """Random-access examples of a prepared tfds split; `FileNotFoundError` if it is not prepared.

    Never downloads: `download=False` keeps tfds away from its download and
    prepare logic, and a failure to open is reported as missing data when
    tfds's own `is_prepared()` check of the directory says so.
    """
    data_dir = resolve_data_dir(data_dir)
    try:
        return tfds.data_source(
            tfds_name,
            split=split,
            data_dir=data_dir,
            download=False,
            builder_kwargs={"file_format": FILE_FORMAT},
        )
    except Exception as error:
        builder = tfds.builder(tfds_name, data_dir=data_dir, file_format=FILE_FORMAT)
        if builder.is_prepared():
            raise
        raise FileNotFoundError(
            f"dataset '{tfds_name}' (split '{split}') is not prepared in data_dir={data_dir} "
            f"(looked for {builder.data_path}); lopt never downloads data. {preparation_hint(tfds_name, data_dir)}"
        ) from error


def read_split(
    tfds_name: str,
    split: str,
    data_dir: str | None,
    kind: str,
    reader: Callable[[Sequence[dict[str, Any]]], Any],
) -> Any:
    """`reader(examples)` for a tfds split, computed once per process.

    Args:
      tfds_name: e.g. "fashion_mnist" or "imagenet_resized/16x16".
      split: a tfds split name, e.g. "train".
      data_dir: where the prepared dataset lives (None: `default_data_dir()`).
      kind: names what `reader` produces, for the cache key (e.g. "images").
      reader: turns the random-access examples into arrays.
    """
    examples = open_split(tfds_name, split, data_dir)
    key = (kind, tfds_name, split, resolve_data_dir(data_dir), len(examples))
    if key not in _CACHE:
        _CACHE[key] = reader(examples)
    return _CACHE[key]


def clear_cache() -> None:
    """Forgets every split read so far (frees memory)."""
    _CACHE.clear()
