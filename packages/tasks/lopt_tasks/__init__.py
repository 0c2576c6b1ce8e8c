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
from lopt_tasks.datasets import ImageInfo, byte_text_dataset, image_dataset, image_info, image_shape, num_classes

from lopt_tasks.augmentations import AugmentedFamily, TaskWrapper, randomly_augmented
from lopt_tasks.rejection import AcceptanceRule, TimeFilteredFamily, rejection_sample
from lopt_tasks.splits import split_source
from lopt_tasks.timing import StepTimer, measure_step_time
from lopt_tasks.training import loss_and_grad
from lopt_tasks.overrides import OverrideError, parse_overrides

# Last: the registry imports the fixed tasks and the families, which use everything above.
from lopt_tasks.registry import FAMILIES, TASKS, get_family, get_task
from lopt_tasks.specs import TaskSpecError, spec_of, task_from_spec
from lopt_tasks.families.tiny_digits import TinyDigitsFamily
from lopt_tasks.families.tiny_text import TinyTextFamily

__version__ = _resources.files(__name__).joinpath("VERSION").read_text().strip()

__all__ = [
    "AcceptanceRule",
    "ArrayDataset",
    "AugmentedFamily",
    "Batch",
    "BatchSource",
    "Datasets",
    "FAMILIES",
    "ImageInfo",
    "OverrideError",
    "SingleTaskFamily",
    "StepTimer",
    "Task",
    "TaskConfig",
    "TASKS",
    "TaskSpecError",
    "TinyDigitsFamily",
    "TinyTextFamily",
    "TaskFamily",
    "TaskWrapper",
    "TimeFilteredFamily",
    "byte_text_dataset",
    "get_family",
    "get_task",
    "task_from_spec",
    "spec_of",
    "split_source",
    "parse_overrides",
    "group_by_structure",
    "image_dataset",
    "image_info",
    "image_shape",
    "images_to_unit_interval",
    "loss_and_grad",
    "measure_step_time",
    "num_classes",
    "randomly_augmented",
    "rejection_sample",
    "stack_batches",
    "stack_configs",
]
