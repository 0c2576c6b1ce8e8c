import dataclasses

import pytest

import lopt_tasks as lt
from lopt_tasks.splits import split_source


@dataclasses.dataclass(frozen=True)
class SplitsTask(lt.Task):
    """A task that only has datasets: one distinct object per split it names."""

    splits: tuple[str, ...] = ("train",)

    @property
    def name(self):
        return "splits_task"

    def init(self, key):
        return {}

    def loss(self, params, key, batch):
        return 0.0

    @property
    def datasets(self):
        return {split: f"source of {split}" for split in self.splits}

    @property
    def normalizer(self):
        return 1.0


def test_a_split_the_data_has_is_returned_as_it_is():
    task = SplitsTask(("train", "valid", "test"))
    for split in ("train", "valid", "test"):
        assert split_source(task, split) == f"source of {split}"


def test_valid_falls_back_to_test_and_nothing_else_falls_back():
    assert split_source(SplitsTask(("train", "test")), "valid") == "source of test"
    with pytest.raises(KeyError, match=r"task 'splits_task': no 'test' split; it has \['train', 'valid'\]"):
        split_source(SplitsTask(("train", "valid")), "test")
    with pytest.raises(KeyError, match=r"no 'valid' split \(nor 'test'\); it has \['train'\]"):
        split_source(SplitsTask(("train",)), "valid")


def test_the_digits_mlp_evaluates_on_its_test_split():
    task = lt.get_task("digits_mlp")
    assert set(task.datasets) == {"train", "test"}
    assert split_source(task, "valid") is task.datasets["test"]
