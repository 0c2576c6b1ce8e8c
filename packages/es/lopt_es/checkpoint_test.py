import json
import os
from typing import NamedTuple

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
    with pytest.raises(checkpoint.DamagedCheckpointError, match="step_4.json: unreadable manifest"):
        checkpoint.restore(str(tmp_path), tree(), step=4)
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint in"):
        checkpoint.restore(str(tmp_path / "empty"), tree())
    assert json.loads((tmp_path / "step_3.json").read_text())["step"] == 3  # nothing was overwritten


def test_a_damaged_newest_checkpoint_is_skipped_for_the_newest_intact_one(tmp_path):
    for step in (1, 2, 3):
        checkpoint.save(str(tmp_path), step, tree(step))
    data = tmp_path / "step_3.npz"
    data.write_bytes(data.read_bytes()[:-10])  # what a full disk can leave
    skipped = []
    restored, step, _ = checkpoint.restore(str(tmp_path), tree(), on_skip=skipped.append)
    assert step == 2 and float(restored["theta"]["w"][0, 1]) == 2.0
    assert len(skipped) == 1 and skipped[0].startswith("skipped the damaged checkpoint of step 3 for the intact one "
                                                       "of step 2: ")
    assert "step_3.npz: contents do not match the manifest's checksum" in skipped[0]
    (tmp_path / "step_2.json").write_text('{"format": "lopt-es-checkpoint/1"')  # a manifest cut short
    skipped.clear()
    assert checkpoint.restore(str(tmp_path), tree(), on_skip=skipped.append)[1] == 1
    assert [m.split(":")[0] for m in skipped] == ["skipped the damaged checkpoint of step 3 for the intact one of step "
                                                 "1", "skipped the damaged checkpoint of step 2 for the intact one of "
                                                 "step 1"]
    assert checkpoint.read_metadata(str(tmp_path)) == (1, {})
    os.unlink(tmp_path / "step_1.npz")
    with pytest.raises(checkpoint.DamagedCheckpointError, match="no intact checkpoint in .*step_3.npz.*step_2.json.*"
                                                                "step_1.npz: missing"):
        checkpoint.restore(str(tmp_path), tree())


def test_a_checkpoint_of_another_configuration_is_not_skipped(tmp_path):
    """Older checkpoints share the newest one's layout: falling back would only hide the mismatch."""
    checkpoint.save(str(tmp_path), 1, tree())
    checkpoint.save(str(tmp_path), 2, tree())
    other = tree()
    other["theta"]["w"] = jnp.zeros((3, 3))
    with pytest.raises(checkpoint.CheckpointError, match=r"step_2.json: leaf \['theta'\]\['w'\]") as error:
        checkpoint.restore(str(tmp_path), other)
    assert not isinstance(error.value, checkpoint.DamagedCheckpointError)


def test_a_field_added_to_a_state_since_the_checkpoint_keeps_the_template_value(tmp_path):
    class Old(NamedTuple):
        params: jnp.ndarray
        step: jnp.ndarray

    class New(NamedTuple):
        params: jnp.ndarray
        step: jnp.ndarray
        skipped_steps: jnp.ndarray

    checkpoint.save(str(tmp_path), 5, {"pos": Old(jnp.arange(3.0), jnp.asarray(4))})
    template = {"pos": New(jnp.zeros(3), jnp.asarray(0), jnp.zeros((2,), jnp.int32))}
    with pytest.raises(checkpoint.CheckpointError, match=r"missing leaves \[\"\['pos'\].skipped_steps\"\]"):
        checkpoint.restore(str(tmp_path), template)
    restored, step, _ = checkpoint.restore(str(tmp_path), template, added_fields=("skipped_steps",))
    assert step == 5 and int(restored["pos"].step) == 4
    np.testing.assert_array_equal(restored["pos"].params, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(restored["pos"].skipped_steps, [0, 0])
    with pytest.raises(checkpoint.CheckpointError, match="another configuration"):
        checkpoint.restore(str(tmp_path), {"pos": New(jnp.zeros(3), jnp.asarray(0), jnp.zeros(2))},
                           added_fields=("step",))
