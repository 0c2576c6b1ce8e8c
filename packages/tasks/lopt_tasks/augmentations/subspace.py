"""Gradients only in a random subspace (VeLO §3.2 "estimating gradients only in subspaces").

The gradient g (all parameters flattened, n numbers) is replaced by its
component in the span of k random directions drawn afresh at every step
from the loss key:

- `orthogonal=True` (default): the k Gaussian directions are
  orthonormalised (QR), U is n×k with UᵀU = I, and the gradient becomes the
  orthogonal projection U Uᵀ g. Its properties: it never lengthens g, g − UUᵀg
  is orthogonal to it, E[UUᵀg] = (k/n)·g over the random subspace, and k = n
  gives g back exactly.
- `orthogonal=False`: the reference's version (tasks/task_augmentation.py
  `SubsampleDirectionsTaskGradient`): k independent Gaussian directions u_i,
  each scaled to unit norm, and the gradient Σ_i (g·u_i) u_i; also
  E = (k/n)·g, but k = n does not recover g.

`sign=True` keeps only the sign of each coefficient (uᵢ·g), as the
reference's `sign_direction`, simulating a 1-bit ES estimate.
"""

import dataclasses

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from lopt_tasks.augmentations.gradients import ModifiedGradient
from lopt_tasks.augmentations.wrapper import Augmentation
from lopt_tasks.sampling import choice, log_int


def subspace_directions(key: jax.Array, n: int, k: int, orthogonal: bool) -> jax.Array:
    """The n×k matrix of directions `SubspaceGradient` uses with gradient key `key`."""
    if not 1 <= k <= n:
        raise ValueError(f"SubspaceGradient: need 1 <= directions <= number of parameters ({n}), got {k}.")
    directions = jax.random.normal(key, (n, k), jnp.float32)
    if orthogonal:
        q, r = jnp.linalg.qr(directions)
        # Fixing the signs of R's diagonal makes Q Haar-distributed (and a pure function of the draw).
        return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)
    return directions / jnp.linalg.norm(directions, axis=0, keepdims=True)


@dataclasses.dataclass(frozen=True)
class SubspaceGradient(ModifiedGradient):
    """`task` whose gradient is restricted to `directions` random directions per step.

    More directions than parameters are capped at the number of parameters
    n (so a sampled k never fails on a small task; with `orthogonal` the
    gradient is then unchanged).
    """

    directions: int = 1
    orthogonal: bool = True
    sign: bool = False

    @property
    def name(self) -> str:
        return f"{self.task.name}+subspace{self.directions}"

    def modify(self, grads, key, args):
        flat, unravel = ravel_pytree(grads)
        u = subspace_directions(key, flat.size, min(self.directions, flat.size), self.orthogonal)
        coefficients = u.T @ flat.astype(jnp.float32)
        if self.sign:
            coefficients = jnp.sign(coefficients)
        return unravel((u @ coefficients).astype(flat.dtype))


@dataclasses.dataclass(frozen=True)
class SubspaceAugmentation(Augmentation):
    """`SubspaceGradient` with k log-uniform in [1, max_directions) and a random sign option.

    k is static (it fixes the directions' shape).
    """

    max_directions: int = 32
    orthogonal: bool = True
    sign_options: tuple[bool, ...] = (False,)

    @property
    def name(self) -> str:
        return "subspace"

    def sample_static(self, rng):
        return (log_int(rng, 1, self.max_directions), choice(rng, self.sign_options))

    def wrap(self, task, static, values):
        k, sign = static
        return SubspaceGradient(task, directions=k, orthogonal=self.orthogonal, sign=sign)
