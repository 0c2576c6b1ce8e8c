import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from lopt_es import checkpoint


def tree(scale=1.0):
    return {"theta": {"w": jnp.arange(6.0).reshape(2, 3) * scale, "b": jnp.ones(2, jnp.bfloat16)},
            "cursor": np.asarray([3, 4], np.int64), "none": None, "key": jnp.asarray([1, 2], jnp.uint32)}


def test_round_trip_keeps_values_dtypes_and_numpy_leaves(tmp_path):
    checkpoint.save(str(tmp_path), 7, tree(), {"note": "x"})
    restored, step, metadata = checkpoint.restore(str(tmp_path), tree(0.0))
    assert step == 7 and metadata == {"note": "x"}
    np.testing.assert_array_equal(restored["theta"]["w"], tree()["theta"]["w"])
    assert restored["theta"]["b"].dtype == jnp.bfloat16 and restored["none"] is None
    assert isinstance(restored["cursor"], np.ndarray) and restored["cursor"].tolist() == [3, 4]


def test_keeps_the_newest_and_leaves_no_temporary_files(tmp_path):
    for step in range(5):
        checkpoint.save(str(tmp_path), step, tree(step), keep=2)
    assert checkpoint.list_steps(str(tmp_path)) == [3, 4]
    assert sorted(os.listdir(tmp_path)) == ["step_3.json", "step_3.npz", "step_4.json", "step_4.npz"]
    restored, step, _ = checkpoint.restore(str(tmp_path), tree())
    assert step == 4 and float(restored["theta"]["w"][0, 1]) == 4.0


def test_corrupt_incomplete_and_mismatched_checkpoints_are_refused(tmp_path):
    checkpoint.save(str(tmp_path), 1, tree())
    data = tmp_path / "step_1.npz"
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(checkpoint.CheckpointError, match="step_1.npz: contents do not match the manifest's checksum"):
        checkpoint.restore(str(tmp_path), tree())
    checkpoint.save(str(tmp_path), 2, tree())
    os.unlink(tmp_path / "step_2.npz")
    with pytest.raises(checkpoint.CheckpointError, match="step_2.npz: missing or unreadable"):
        checkpoint.restore(str(tmp_path), tree())
    checkpoint.save(str(tmp_path), 3, tree())
    other = tree()
    other["theta"]["w"] = jnp.zeros((3, 3))
    with pytest.raises(checkpoint.CheckpointError, match=r"leaf \['theta'\]\['w'\] has shape \(2, 3\)"):
        checkpoint.restore(str(tmp_path), other)
    del other["cursor"]
    with pytest.raises(checkpoint.CheckpointError, match="another configuration"):
        checkpoint.restore(str(tmp_path), other)
    (tmp_path / "step_4.json").write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match="step_4.json: unreadable manifest"):
        checkpoint.restore(str(tmp_path), tree())
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint in"):
        checkpoint.restore(str(tmp_path / "empty"), tree())
    assert json.loads((tmp_path / "step_3.json").read_text())["step"] == 3  # nothing was overwritten
