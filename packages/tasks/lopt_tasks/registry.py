"""Every task and task family by name: plain dicts, filled in here, with nothing registered on import.

`TASKS` maps a fixed task's name to its constructor; `FAMILIES` is
`lopt_tasks.families.FAMILIES`. Constructors take keyword overrides of
their dataclass fields, e.g. `get_task("fashion_mnist_mlp", data_dir="/data")`.
"""

from collections.abc import Callable

from lopt_tasks import fixed
from lopt_tasks.base import Task, TaskFamily
from lopt_tasks.families import FAMILIES

TASKS: dict[str, Callable[..., Task]] = {
    make.__name__: make
    for make in (
        fixed.fashion_mnist_mlp,
        fixed.cifar10_conv,
        fixed.imagenet16_mlp,
        fixed.cifar10_autoencoder,
        fixed.lm1b_lstm,
        fixed.digits_mlp,
        fixed.digits_conv,
        fixed.digits_autoencoder,
        fixed.text_lstm,
    )
}

__all__ = ["FAMILIES", "TASKS", "get_family", "get_task"]


def get_task(name: str, **overrides) -> Task:
    """The fixed task `name`, with `overrides` of its fields; `KeyError` listing the known names."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}.")
    return TASKS[name](**overrides)


def get_family(name: str, **overrides) -> TaskFamily:
    """The task family `name`, with `overrides` of its fields; `KeyError` listing the known names."""
    if name not in FAMILIES:
        raise KeyError(f"unknown task family {name!r}; known families: {', '.join(sorted(FAMILIES)) or '(none)'}.")
    return FAMILIES[name](**overrides)
