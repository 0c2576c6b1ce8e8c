"""Task augmentations (VeLO §3.2): `Task -> Task` wrappers and `TaskFamily -> TaskFamily` versions.

A wrapper (`ReparamWeights(task, scale)`, `StaleGradients(task, delay)`, ...)
changes one aspect of a task's training dynamics. An `Augmentation`
(`ReparamAugmentation()`, ...) is the recipe a family uses to sample it;
`AugmentedFamily(family, augmentations, probability)` applies them to every
task of a family, and `randomly_augmented(family)` gives each sampled task a
random subset.
"""

from lopt_tasks.augmentations.batch_size import FirstRows, ReducedBatchSize, ReducedBatchSizeAugmentation
from lopt_tasks.augmentations.gradients import (
    ModifiedGradient,
    NoisyGradient,
    NoisyGradientAugmentation,
    NormalizedGradient,
    NormalizedGradientAugmentation,
    global_norm,
    gradient_key,
)
from lopt_tasks.augmentations.loss_scale import ScaledLoss, ScaledLossAugmentation
from lopt_tasks.augmentations.precision import FloatPrecision, PrecisionAugmentation
from lopt_tasks.augmentations.reparam import RandomScales, ReparamAugmentation, ReparamWeights
from lopt_tasks.augmentations.sampled import DEFAULT_AUGMENTATIONS, randomly_augmented
from lopt_tasks.augmentations.stale import StaleGradients, StaleGradientsAugmentation
from lopt_tasks.augmentations.subspace import SubspaceAugmentation, SubspaceGradient, subspace_directions
from lopt_tasks.augmentations.wrapper import Augmentation, AugmentedFamily, AugmentedStructure, TaskWrapper

__all__ = [
    "DEFAULT_AUGMENTATIONS",
    "Augmentation",
    "AugmentedFamily",
    "AugmentedStructure",
    "FirstRows",
    "FloatPrecision",
    "ModifiedGradient",
    "NoisyGradient",
    "NoisyGradientAugmentation",
    "NormalizedGradient",
    "NormalizedGradientAugmentation",
    "PrecisionAugmentation",
    "RandomScales",
    "ReducedBatchSize",
    "ReducedBatchSizeAugmentation",
    "ReparamAugmentation",
    "ReparamWeights",
    "ScaledLoss",
    "ScaledLossAugmentation",
    "StaleGradients",
    "StaleGradientsAugmentation",
    "SubspaceAugmentation",
    "SubspaceGradient",
    "TaskWrapper",
    "global_norm",
    "gradient_key",
    "randomly_augmented",
    "subspace_directions",
]
