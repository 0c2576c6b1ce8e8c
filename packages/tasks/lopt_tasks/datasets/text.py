"""Byte-level language-modelling datasets as in-memory `ArrayDataset` splits.

A split is one long byte string (vocabulary 256, no tokenizer), cut into
non-overlapping windows of `sequence_length + 1` bytes; a batch is
`{"tokens": int32 [B, sequence_length + 1]}`, the model reads
`tokens[:, :-1]` and predicts `tokens[:, 1:]` (the tradeoffs paper's byte
LSTM language model, App. B, uses length-32 sequences). Which windows a
batch holds is `ArrayDataset`'s seeded shuffle, so batches are deterministic.

- "licenses": the licence texts Debian ships in /usr/share/common-licenses
  (package base-files; on every Debian and Ubuntu system, and rarely
  changed). The files of `LICENSE_FILES`, in that order, joined by a
  newline: 237,333 bytes of English prose on Debian 12 (base-files 12.4);
  the last 10% of the bytes (23,733) are "test", the first 213,600 "train".
  Works offline.
- "lm1b": the One Billion Word benchmark from TensorFlow Datasets (read
  without TensorFlow from a prepared `data_dir`); the first `LM1B_SENTENCES`
  sentences of each split, UTF-8 encoded and joined by newlines; "train"
  and "test" are tfds's splits.
"""

import dataclasses
import functools
import os

import numpy as np

from lopt_tasks.data import ArrayDataset
from lopt_tasks.datasets import tfds_source

VOCAB_SIZE = 256

LICENSES_DIR = "/usr/share/common-licenses"
#: The real files (not the symlinks GPL, LGPL, GFDL) of Debian's base-files.
LICENSE_FILES = (
    "Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GFDL-1.2", "GFDL-1.3", "GPL-1", "GPL-2", "GPL-3",
    "LGPL-2", "LGPL-2.1", "LGPL-3", "MPL-1.1", "MPL-2.0",
)  # fmt: skip

#: Sentences of each lm1b split that are read (about 28 MB of train text), to bound memory and load time.
LM1B_SENTENCES = 2**20

SEPARATOR = b"\n"


@dataclasses.dataclass(frozen=True)
class TextInfo:
    """A byte-level text dataset: its lopt name and where the bytes come from."""

    name: str
    source: str


TEXT_DATASETS: dict[str, TextInfo] = {
    info.name: info
    for info in (
        TextInfo("licenses", LICENSES_DIR),
        TextInfo("lm1b", "lm1b"),
    )
}


@functools.cache
def _licenses() -> dict[str, bytes]:
    missing = [f for f in LICENSE_FILES if not os.path.isfile(os.path.join(LICENSES_DIR, f))]
    if missing:
        raise FileNotFoundError(
            f"text dataset 'licenses': {missing} not found in {LICENSES_DIR}; this corpus is the licence "
            "texts of Debian's base-files package (apt-get install base-files), so it needs Debian or Ubuntu."
        )
    corpus = SEPARATOR.join(open(os.path.join(LICENSES_DIR, f), "rb").read() for f in LICENSE_FILES)
    cut = len(corpus) - len(corpus) // 10
    return {"train": corpus[:cut], "test": corpus[cut:]}


def _read_sentences(examples) -> bytes:
    # One example at a time: the mocked data source of tfds.testing has no batched access.
    texts = (examples[i]["text"] for i in range(min(len(examples), LM1B_SENTENCES)))
    return SEPARATOR.join(t.encode("utf-8") if isinstance(t, str) else bytes(t) for t in texts)


def windows(corpus: bytes, length: int) -> np.ndarray:
    """`corpus` cut into consecutive, non-overlapping windows: uint8 [len(corpus) // length, length]."""
    count = len(corpus) // length
    return np.frombuffer(corpus, np.uint8, count=count * length).reshape(count, length)


def _as_tokens(batch):
    return {"tokens": batch["tokens"].astype(np.int32)}


def byte_text_dataset(
    name: str,
    batch_size: int,
    sequence_length: int,
    *,
    data_dir: str | None = None,
) -> dict[str, ArrayDataset]:
    """The "train" and "test" splits of text dataset `name` as batches of byte windows.

    Args:
      name: one of `TEXT_DATASETS`.
      batch_size: windows per batch.
      sequence_length: the model's input length; windows hold one byte more.
      data_dir: the tfds data directory (ignored by "licenses"); None uses
        `$TFDS_DATA_DIR` or `~/tensorflow_datasets`.

    Raises:
      KeyError: unknown `name`.
      FileNotFoundError: the text is not on this machine.
    """
    if name not in TEXT_DATASETS:
        raise KeyError(f"unknown text dataset {name!r}; known: {sorted(TEXT_DATASETS)}.")
    if sequence_length < 1:
        raise ValueError(f"text dataset {name!r}: sequence_length must be at least 1, got {sequence_length}.")
    if name == "licenses":
        corpora = _licenses()
    else:
        corpora = {
            split: tfds_source.read_split("lm1b", split, data_dir, "bytes", _read_sentences)
            for split in ("train", "test")
        }
    return {
        split: ArrayDataset(
            {"tokens": windows(corpus, sequence_length + 1)},
            batch_size=batch_size,
            transform=_as_tokens,
            name=f"{name}/{split}",
        )
        for split, corpus in corpora.items()
    }
