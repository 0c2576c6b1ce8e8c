"""Where each inner run is in its data stream, and the batches for the next T steps.

Inner runs read their task's training split through `BatchSource.batch(index,
seed)`, a pure function. A `Cursor` records, per task slot, which inner run
the slot is on, how many batches it has drawn and how long the run is; the
data seed of run r in slot i is a hash of (base seed, i, r). The cursor is
all the data position a checkpoint needs: replaying it yields the same
batches.
"""

from typing import Any, NamedTuple

import jax
import numpy as np


class Cursor(NamedTuple):
    """Per task slot (numpy int64 arrays of length N)."""

    run: np.ndarray  # inner runs started in the slot (the current run's number)
    inner_step: np.ndarray  # steps taken in the current run
    length: np.ndarray  # length of the current run


def new_cursor(num_slots: int) -> Cursor:
    """A cursor whose every slot must start a run before training."""
    zeros = np.zeros(num_slots, np.int64)
    return Cursor(run=zeros - 1, inner_step=zeros.copy(), length=zeros.copy())


def data_seed(base_seed: int, slot: int, run: int) -> int:
    """The data seed of run `run` in slot `slot` (a 31-bit hash)."""
    return int(np.random.SeedSequence([base_seed, slot, run]).generate_state(1)[0] & 0x7FFFFFFF)


def gather_batches(source, base_seed: int, cursor: Cursor, steps: int, first_slot: int = 0) -> Any:
    """Training batches for the next `steps` steps of every slot: leaves [steps, N, ...] (numpy).

    Slot i (globally, first_slot + i) reads batches inner_step_i … inner_step_i
    + steps − 1 of its run's stream.
    """
    per_slot = []
    for slot, (run, start) in enumerate(zip(cursor.run, cursor.inner_step), start=first_slot):
        seed = data_seed(base_seed, slot, int(run))
        per_slot.append([source.batch(int(start) + t, seed) for t in range(steps)])
    by_step = [jax.tree_util.tree_map(lambda *x: np.stack(x), *[slot[t] for slot in per_slot]) for t in range(steps)]
    return jax.tree_util.tree_map(lambda *x: np.stack(x), *by_step)
