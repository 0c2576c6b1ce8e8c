"""Reading and writing pytrees in flax's msgpack format, without flax.

The reference implementation saves meta-parameters with
`flax.serialization.to_bytes`: a msgpack map of the pytree's state dict in
which every array is a msgpack extension (type 1) holding the msgpack
encoding of (shape, dtype name, raw C-order bytes); numpy scalars are
extension type 3 holding (dtype name, bytes). Arrays larger than 2^30 bytes
are split into chunks ({"__msgpack_chunked_array__": True, "shape": …,
"chunks": {"0": …}}). This module reads exactly that, and writes it (for
tests and for saving our meta-parameters in the reference's format).
"""

import os
from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np
from lopt_architectures.saved_theta import CheckpointFormatError, atomic_write

_NDARRAY = 1
_COMPLEX = 2
_NPSCALAR = 3
_CHUNKED = "__msgpack_chunked_array__"


def _decode_ext(code: int, data: bytes) -> Any:
    if code == _NDARRAY:
        shape, dtype, buffer = msgpack.unpackb(data, raw=False)
        return np.frombuffer(buffer, dtype=np.dtype(dtype)).reshape(shape)
    if code == _NPSCALAR:
        dtype, buffer = msgpack.unpackb(data, raw=False)
        return np.frombuffer(buffer, dtype=np.dtype(dtype))[0]
    if code == _COMPLEX:
        real, imag = msgpack.unpackb(data, raw=False)
        return complex(real, imag)
    raise CheckpointFormatError(f"unknown msgpack extension type {code} (flax uses 1, 2 and 3)")


def _unchunk(tree: Any) -> Any:
    if isinstance(tree, dict):
        if tree.get(_CHUNKED) is True:
            chunks = [tree["chunks"][str(i)] for i in range(len(tree["chunks"]))]
            return np.concatenate([c.reshape(-1) for c in chunks]).reshape(tree["shape"])
        return {k: _unchunk(v) for k, v in tree.items()}
    return tree


def read_flax_msgpack(path: str | os.PathLike) -> dict:
    """The state dict stored at `path` (nested dicts of numpy arrays and scalars).

    Raises:
      FileNotFoundError: no file at `path`.
      CheckpointFormatError: the file is truncated, is not msgpack, or does
        not hold a map (the message names the file and what was found).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        tree = msgpack.unpackb(data, ext_hook=_decode_ext, raw=False, strict_map_key=False)
    except CheckpointFormatError as e:
        raise CheckpointFormatError(f"{path}: {e}; not a flax msgpack checkpoint.") from None
    except (msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as e:
        raise CheckpointFormatError(
            f"{path}: cannot be read as a flax msgpack checkpoint (truncated, corrupt or not msgpack: {e}); "
            f"{len(data)} bytes, starting {data[:8]!r}."
        ) from None
    if not isinstance(tree, dict):
        raise CheckpointFormatError(
            f"{path}: holds a msgpack {type(tree).__name__}, not the map of a flax checkpoint."
        )
    return _unchunk(tree)


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("object arrays cannot be written")
        payload = msgpack.packb((value.shape, value.dtype.name, np.ascontiguousarray(value).tobytes()),
                                use_bin_type=True)
        return msgpack.ExtType(_NDARRAY, payload)
    if isinstance(value, np.generic):
        return msgpack.ExtType(_NPSCALAR, msgpack.packb((value.dtype.name, value.tobytes()), use_bin_type=True))
    if isinstance(value, complex):
        return msgpack.ExtType(_COMPLEX, msgpack.packb((value.real, value.imag)))
    raise TypeError(f"cannot write {type(value).__name__}")


def _to_numpy(tree: Any) -> Any:
    if isinstance(tree, Mapping):
        return {str(k): _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (str, bytes, int, float, bool)) or tree is None:
        return tree
    return np.asarray(tree)


def write_flax_msgpack(path: str | os.PathLike, tree: Mapping) -> None:
    """Writes `tree` (nested mappings of arrays) as flax's `to_bytes` would, atomically."""
    data = msgpack.packb(_to_numpy(tree), default=_encode, strict_types=True, use_bin_type=True)
    atomic_write(path, data)
