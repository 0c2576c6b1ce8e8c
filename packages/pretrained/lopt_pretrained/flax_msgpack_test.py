import msgpack
import numpy as np
import pytest

from lopt_pretrained.flax_msgpack import CheckpointFormatError, read_flax_msgpack, write_flax_msgpack


def flax_style_bytes(tree):
    """Encodes a tree by hand the way flax.serialization.msgpack_serialize documents it."""

    def ext(value):
        if isinstance(value, np.ndarray):
            return msgpack.ExtType(1, msgpack.packb((value.shape, value.dtype.name, value.tobytes()), use_bin_type=True))
        raise TypeError(type(value))

    return msgpack.packb(tree, default=ext, strict_types=True, use_bin_type=True)


def test_reads_what_flax_writes(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "params"
    path.write_bytes(flax_style_bytes({"params": {"mlp/~/linear_0": {"w": w, "b": np.zeros(3, np.float32)}},
                                       "gen_id": "", "step": 0}))
    tree = read_flax_msgpack(path)
    np.testing.assert_array_equal(tree["params"]["mlp/~/linear_0"]["w"], w)
    assert tree["params"]["mlp/~/linear_0"]["w"].dtype == np.float32 and tree["step"] == 0


def test_round_trip_and_byte_identity_with_flax_encoding(tmp_path):
    tree = {"a": {"w": np.ones((2, 2), np.float32)}, "b": np.asarray([1, 2], np.int32)}
    write_flax_msgpack(tmp_path / "ckpt", tree)
    assert (tmp_path / "ckpt").read_bytes() == flax_style_bytes(tree)
    back = read_flax_msgpack(tmp_path / "ckpt")
    np.testing.assert_array_equal(back["b"], tree["b"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_chunked_arrays_are_reassembled(tmp_path):
    whole = np.arange(10, dtype=np.float32)
    chunked = {"__msgpack_chunked_array__": True, "shape": [2, 5], "chunks": {"0": whole[:6], "1": whole[6:]}}
    (tmp_path / "c").write_bytes(flax_style_bytes({"x": chunked}))
    np.testing.assert_array_equal(read_flax_msgpack(tmp_path / "c")["x"], whole.reshape(2, 5))


def test_truncated_and_foreign_files_are_named(tmp_path):
    write_flax_msgpack(tmp_path / "good", {"w": np.ones(100, np.float32)})
    data = (tmp_path / "good").read_bytes()
    (tmp_path / "truncated").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointFormatError, match="truncated"):
        read_flax_msgpack(tmp_path / "truncated")
    (tmp_path / "text").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(CheckpointFormatError, match="text"):
        read_flax_msgpack(tmp_path / "text")
    (tmp_path / "list").write_bytes(msgpack.packb([1, 2]))
    with pytest.raises(CheckpointFormatError, match="holds a msgpack list, not the map"):
        read_flax_msgpack(tmp_path / "list")
    (tmp_path / "ext").write_bytes(msgpack.packb({"x": msgpack.ExtType(9, b"")}))
    with pytest.raises(CheckpointFormatError, match="unknown msgpack extension type 9"):
        read_flax_msgpack(tmp_path / "ext")
    with pytest.raises(FileNotFoundError):
        read_flax_msgpack(tmp_path / "missing")
