import dataclasses

import pytest

from lopt_tasks import fixed, registry
from lopt_tasks.base import Task, TaskFamily
from lopt_tasks.families import FAMILIES


def test_every_task_is_registered_under_its_own_name():
    assert set(registry.TASKS) == {
        "fashion_mnist_mlp", "cifar10_conv", "imagenet16_mlp", "cifar10_autoencoder", "lm1b_lstm",
        "digits_mlp", "digits_conv", "digits_autoencoder", "text_lstm",
    }  # fmt: skip
    for name, make in registry.TASKS.items():
        task = make()
        assert isinstance(task, Task) and task.name == name
        assert dataclasses.is_dataclass(task) and task.data_dir is None


def test_get_task_passes_overrides():
    task = registry.get_task("digits_mlp", batch_size=16, data_dir="/somewhere")
    assert task == fixed.digits_mlp(batch_size=16, data_dir="/somewhere")


def test_families_are_the_families_package_dict():
    assert registry.FAMILIES is FAMILIES
    for name in FAMILIES:
        assert isinstance(registry.get_family(name), TaskFamily)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="unknown task 'mnist_mlp'; known tasks: cifar10_autoencoder, cifar10_conv, "):
        registry.get_task("mnist_mlp")
    with pytest.raises(KeyError, match="unknown task family 'nope'; known families: "):
        registry.get_family("nope")
