import socket

import pytest
import tensorflow_datasets as tfds

from lopt_tasks.datasets import tfds_source


@pytest.fixture
def offline(monkeypatch):
    """Fails the test on any network connection or tfds download attempt."""

    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to reach the network or to download")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", refuse)


def test_missing_dataset_names_it_the_directory_and_the_fix(tmp_path, offline):
    with pytest.raises(FileNotFoundError) as error:
        tfds_source.open_split("fashion_mnist", "train", str(tmp_path))
    message = str(error.value)
    assert "dataset 'fashion_mnist'" in message
    assert f"data_dir={tmp_path}" in message
    assert "download_and_prepare()" in message and "file_format='array_record'" in message
    assert not any(tmp_path.iterdir()), "nothing may be written to the data directory"


def test_default_data_dir_follows_tfds_data_dir(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    assert tfds_source.default_data_dir() == str(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"data_dir={tmp_path}"):
        tfds_source.open_split("lm1b", "test", None)
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert tfds_source.default_data_dir().endswith("tensorflow_datasets")


def test_read_split_reads_once_per_dataset_size():
    calls = []

    def reader(examples):
        calls.append(len(examples))
        return [examples[i]["label"] for i in range(len(examples))]

    tfds_source.clear_cache()
    with tfds.testing.mock_data(num_examples=6):
        first = tfds_source.read_split("mnist", "train", None, "labels", reader)
        again = tfds_source.read_split("mnist", "train", None, "labels", reader)
    with tfds.testing.mock_data(num_examples=9):
        bigger = tfds_source.read_split("mnist", "train", None, "labels", reader)
    assert again is first and len(bigger) == 9
    assert calls == [6, 9]
