"""A random subset of task augmentations per sampled task (VeLO §3.2).

`randomly_augmented(family)` is `family` where each task independently gets
each augmentation of `DEFAULT_AUGMENTATIONS` with probability
`probability`, with that augmentation's own random parameters. Which
augmentations apply, and their static choices (subspace size, staleness,
dtype, batch fraction, reparameterisation level), are part of the config's
structure; continuous choices (scales, noise level, keys) are values, so
configs of one structure stack and vmap.

The order is fixed (data, precision, parameterisation, loss, then the
gradient): the batch is cut first, the computation is then done in the
chosen precision, weights are re-parameterised inside it, the loss is
rescaled, the gradient is taken at stale parameters, and finally it is
projected, made noisy and normalised — the order in which a real training
setup would produce these effects.
"""

from collections.abc import Sequence

from lopt_tasks.augmentations.batch_size import ReducedBatchSizeAugmentation
from lopt_tasks.augmentations.gradients import NoisyGradientAugmentation, NormalizedGradientAugmentation
from lopt_tasks.augmentations.loss_scale import ScaledLossAugmentation
from lopt_tasks.augmentations.precision import PrecisionAugmentation
from lopt_tasks.augmentations.reparam import ReparamAugmentation
from lopt_tasks.augmentations.stale import StaleGradientsAugmentation
from lopt_tasks.augmentations.subspace import SubspaceAugmentation
from lopt_tasks.augmentations.wrapper import AugmentedFamily, Augmentation
from lopt_tasks.base import TaskFamily

DEFAULT_AUGMENTATIONS: tuple[Augmentation, ...] = (
    ReducedBatchSizeAugmentation(),
    PrecisionAugmentation(),
    ReparamAugmentation(),
    ScaledLossAugmentation(),
    StaleGradientsAugmentation(),
    SubspaceAugmentation(),
    NoisyGradientAugmentation(),
    NormalizedGradientAugmentation(),
)


def randomly_augmented(
    family: TaskFamily,
    probability: float = 0.25,
    augmentations: Sequence[Augmentation] = DEFAULT_AUGMENTATIONS,
) -> AugmentedFamily:
    """`family` with each of `augmentations` applied to a sampled task with probability `probability`.

    With the defaults a task carries 2 of the 8 augmentations on average and
    none with probability 0.75^8 ≈ 0.10.
    """
    return AugmentedFamily(family, tuple(augmentations), probability)
