"""lopt_tasks: training problems for learned optimizers — tasks, task families, data."""

from importlib import resources as _resources

from lopt_tasks.base import (
    Batch,
    BatchSource,
    Datasets,
    SingleTaskFamily,
    Task,
    TaskConfig,
    TaskFamily,
    group_by_structure,
    stack_batches,
    stack_configs,
)
from lopt_tasks.data import ArrayDataset, images_to_unit_interval

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

__all__ = [
    "ArrayDataset",
    "Batch",
    "BatchSource",
    "Datasets",
    "SingleTaskFamily",
    "Task",
    "TaskConfig",
    "TaskFamily",
    "group_by_structure",
    "images_to_unit_interval",
    "stack_batches",
    "stack_configs",
]
