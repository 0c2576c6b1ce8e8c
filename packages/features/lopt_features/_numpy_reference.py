"""Float64 numpy versions of the accumulators, written independently of the JAX code.

Tests compare the package against these. State is rounded to the storage
dtype after every step, as storing it in that dtype would.
"""

import numpy as np

from lopt_features import _testing


def factored_dims(shape):
    """(second largest, largest) dimension; among equal sizes the later one is larger."""
    if len(shape) < 2:
        return None
    by_size = sorted(range(len(shape)), key=lambda i: (shape[i], i))
    return by_size[-2], by_size[-1]


def moving_average(targets, decays, dtype):
    """EMA (starting at 0) of a sequence of targets, one column per decay."""
    d = _testing.float32_decays(decays)
    acc = 0.0
    for x in targets:
        acc = _testing.round_to(d * acc + (1 - d) * np.asarray(x)[..., None], dtype)
    return acc


def momentum(grads, decays, dtype):
    return moving_average(grads, decays, dtype)


def second_moment(grads, decays, dtype):
    return moving_average([g**2 for g in grads], np.clip(decays, 0.0, 1.0), dtype)


def factored(grads, decays, dtype):
    """(dims, v_row, v_col, v_diag) after the gradients; absent parts are None."""
    decays = np.clip(decays, 0.0, 1.0)
    dims = factored_dims(grads[0].shape)
    squares = [g**2 + 1e-30 for g in grads]
    if dims is None:
        return dims, None, None, moving_average(squares, decays, dtype)
    d1, d0 = dims
    rows = moving_average([s.mean(axis=d0) for s in squares], decays, dtype)
    cols = moving_average([s.mean(axis=d1) for s in squares], decays, dtype)
    return dims, rows, cols, None


def preconditioner(shape, dims, row, col, diag, diag_epsilon=1e-9):
    """rsqrt of the factored estimate, as AdaFactor defines it, shape (*shape, n)."""
    if dims is None:
        return 1 / np.sqrt(np.maximum(diag + diag_epsilon, 1e-9))
    d1, d0 = dims
    row_mean = row.mean(axis=d1 if d1 < d0 else d1 - 1, keepdims=True)
    row_factor = np.expand_dims(1 / np.sqrt(np.maximum(row / (row_mean + 1e-9), 1e-9)), d0)
    col_factor = np.expand_dims(1 / np.sqrt(np.maximum(col, 1e-9)), d1)
    return row_factor * col_factor


def tiled(shape, dims, row, col, diag):
    """Row and column averages broadcast to (*shape, n); v_diag twice if not factored."""
    if dims is None:
        return diag, diag
    d1, d0 = dims
    n = row.shape[-1]
    return (
        np.broadcast_to(np.expand_dims(row, d0), tuple(shape) + (n,)),
        np.broadcast_to(np.expand_dims(col, d1), tuple(shape) + (n,)),
    )
