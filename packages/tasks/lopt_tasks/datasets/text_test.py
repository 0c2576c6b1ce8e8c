import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import lopt_tasks
from lopt_tasks.datasets import text, tfds_source


def test_windows_are_consecutive_and_drop_the_tail():
    np.testing.assert_array_equal(text.windows(b"abcdefgh", 3), [[97, 98, 99], [100, 101, 102]])


def test_licenses_windows_are_the_files_bytes():
    corpus = b"\n".join(open(os.path.join("/usr/share/common-licenses", f), "rb").read() for f in text.LICENSE_FILES)
    splits = lopt_tasks.byte_text_dataset("licenses", batch_size=8, sequence_length=32)
    test_bytes = len(corpus) // 10
    assert splits["train"].num_examples == (len(corpus) - test_bytes) // 33
    assert splits["test"].num_examples == test_bytes // 33
    train_rows = splits["train"].arrays["tokens"]
    assert bytes(train_rows[10]) == corpus[330:363]
    assert bytes(splits["test"].arrays["tokens"][0]) == corpus[len(corpus) - test_bytes :][:33]
    batch = splits["train"].batch(4, seed=3)
    assert batch["tokens"].shape == (8, 33) and batch["tokens"].dtype == np.int32
    assert 0 <= batch["tokens"].min() and batch["tokens"].max() < text.VOCAB_SIZE
    for row in batch["tokens"]:
        assert corpus.find(bytes(row.astype(np.uint8))) >= 0
    again = lopt_tasks.byte_text_dataset("licenses", batch_size=8, sequence_length=32)["train"].batch(4, seed=3)
    np.testing.assert_array_equal(batch["tokens"], again["tokens"])


def test_lm1b_sentences_joined_into_windows():
    tfds_source.clear_cache()
    with tfds.testing.mock_data(num_examples=30):
        splits = lopt_tasks.byte_text_dataset("lm1b", batch_size=4, sequence_length=15)
        raw = tfds.data_source("lm1b", split="train")
        joined = b"\n".join(raw[i]["text"].encode() for i in range(len(raw)))
    rows = splits["train"].arrays["tokens"]
    assert rows.shape == (len(joined) // 16, 16)
    assert b"".join(bytes(r) for r in rows) == joined[: rows.size]
    assert splits["test"].batch(0, 0)["tokens"].shape == (4, 16)


def test_errors():
    with pytest.raises(KeyError, match=r"unknown text dataset 'wiki'; known: \['licenses', 'lm1b'\]"):
        lopt_tasks.byte_text_dataset("wiki", 4, 32)
    with pytest.raises(ValueError, match="sequence_length must be at least 1"):
        lopt_tasks.byte_text_dataset("licenses", 4, 0)
