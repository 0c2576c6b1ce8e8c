"""Meta-training part of a learned optimizer's θ, from a given starting point.

`partially_trained(lopt, theta, trainable=("schedule", "initial_hparams"))`
is a learned optimizer whose meta-parameters are only the named top-level
entries of θ; the rest stay at the values in `theta`. Anything that trains a
`LearnedOptimizer` (ES, PES, a meta-training loop) then perturbs and updates
only those entries, and `full(theta_part)` gives back the whole θ of the
wrapped architecture.

Why: ES estimates a gradient from random directions, and its noise grows
with the number of meta-parameters. With a few thousand meta-steps on two
cores, a handful of numbers — nn_adam's learned schedule and its initial
hyperparameters, say — can be trained to a precision that the whole 6,856
cannot. With `trainable=None` every entry is trained and the wrapper only
sets where training starts (fine-tuning a saved θ).
"""

import dataclasses
from typing import Any

import jax

from lopt_architectures.base import LearnedOptimizer, MetaParams, Optimizer


@dataclasses.dataclass(frozen=True, eq=False)
class PartiallyTrained(LearnedOptimizer):
    """`base` with θ = `fixed`, except the top-level entries in `trainable`, which are meta-parameters.

    Compared by identity (`eq=False`): `fixed` holds arrays, and jit caches
    by the learned optimizer.
    """

    base: LearnedOptimizer
    fixed: Any
    trainable: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.base.name}[{','.join(self.trainable)}]"

    def init_meta_params(self, key: jax.Array) -> MetaParams:
        """The trainable entries of `fixed` (where training starts); `key` is not used."""
        del key
        return {k: self.fixed[k] for k in self.trainable}

    def full(self, theta: MetaParams) -> MetaParams:
        """The wrapped architecture's whole θ: `fixed` with the trainable entries from `theta`."""
        if set(theta) != set(self.trainable):
            raise ValueError(f"{self.name}: expected meta-parameters {sorted(self.trainable)}, got {sorted(theta)}.")
        return {**self.fixed, **theta}

    def optimizer(self, theta: MetaParams) -> Optimizer:
        return self.base.optimizer(self.full(theta))


def partially_trained(lopt: LearnedOptimizer, theta: MetaParams, trainable=None) -> PartiallyTrained:
    """Meta-train only the top-level entries `trainable` of θ (all of them if None), starting at `theta`.

    Raises:
      ValueError: θ is not the architecture's tree, or `trainable` names an
        entry θ does not have, names one twice, or is empty.
    """
    expected = jax.tree_util.tree_structure(jax.eval_shape(lopt.init_meta_params, jax.random.PRNGKey(0)))
    if not isinstance(theta, dict) or jax.tree_util.tree_structure(theta) != expected:
        raise ValueError(f"partially_trained: theta is not a {lopt.name} meta-parameter tree "
                         f"(expected the structure {expected}).")
    names = tuple(sorted(theta)) if trainable is None else tuple(trainable)
    if not names:
        raise ValueError("partially_trained: trainable is empty; name at least one entry of θ.")
    unknown = [k for k in names if k not in theta]
    if unknown:
        raise ValueError(f"partially_trained: {lopt.name}'s θ has no entr{'ies' if len(unknown) > 1 else 'y'} "
                         f"{', '.join(map(repr, unknown))}; its entries are {', '.join(sorted(theta))}.")
    repeated = sorted({k for k in names if names.count(k) > 1})
    if repeated:
        raise ValueError(f"partially_trained: trainable names {', '.join(map(repr, repeated))} more than once.")
    return PartiallyTrained(lopt, dict(theta), names)
