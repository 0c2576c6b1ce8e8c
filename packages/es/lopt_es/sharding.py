"""Data parallelism over the meta-batch: members of a vmapped unroll spread over devices.

Every array that leads with the member axis (meta-parameters ± ε, optimizer
states, task values, keys) is placed with a `NamedSharding` over a 1-D mesh
of devices, and the batches (steps × members) along their member axis;
`jax.jit` then runs each device's members where they are (GSPMD) and
reduces gradients across devices. No scheduler of our own: on one host this
uses `jax.devices()`; tested on CPU with
`XLA_FLAGS=--xla_force_host_platform_device_count=4`.
"""

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "members"


def member_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh over `devices` (default: all of them) whose axis is the member axis."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (AXIS,))


def shard_members(tree: Any, mesh: Mesh | None, axis: int = 0) -> Any:
    """Places every array of `tree` split along `axis` over the mesh (no-op without a mesh)."""
    if mesh is None:
        return tree
    size = mesh.shape[AXIS]

    def place(x):
        if x.shape[axis] % size:
            raise ValueError(
                f"shard_members: {x.shape[axis]} members cannot be split evenly over {size} devices; "
                "use a number of tasks that the device count divides."
            )
        spec = PartitionSpec(*([None] * axis + [AXIS]))
        return jax.device_put(x, NamedSharding(mesh, spec))

    return jax.tree_util.tree_map(place, tree)


def replicate(tree: Any, mesh: Mesh | None) -> Any:
    """Places `tree` whole on every device of the mesh (no-op without a mesh)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))
