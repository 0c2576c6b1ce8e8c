"""Float64 numpy versions of lopt_architectures' algorithms, written independently for tests."""

import numpy as np


def numpy_schedule(t, total, lr, warmup, constant, min_mult):
    """The reference's CosineLearningRateSchedule, written out in numpy (with a constant-only guard)."""
    t = min(t, total)
    constant_steps = total * constant
    x = max(t, constant_steps)
    min_lr = min_mult * lr
    if total > constant_steps:
        decayed = (lr - min_lr) * (np.cos((x - constant_steps) * np.pi / (total - constant_steps)) / 2 + 0.5) + min_lr
    else:  # no cosine phase (the reference would divide by zero)
        decayed = lr
    if warmup > 0:
        warmup_steps = total * max(warmup, constant)
        if warmup_steps > t:
            return t / warmup_steps * lr
    return decayed
