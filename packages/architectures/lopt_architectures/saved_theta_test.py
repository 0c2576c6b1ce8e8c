"""save_theta / load_theta: the one format for θ with its architecture, and the older files that must keep loading."""

import hashlib
import io
import json
import logging
import os

import jax
import numpy as np
import pytest

import lopt_architectures as la
from lopt_architectures.saved_theta import CheckpointFormatError, atomic_write, load_theta, save_theta, saved_steps

TESTDATA = os.path.join(os.path.dirname(__file__), "testdata")


def keyed(theta) -> dict[str, np.ndarray]:
    return {jax.tree_util.keystr(p): np.asarray(x) for p, x in jax.tree_util.tree_flatten_with_path(theta)[0]}


def write_legacy(directory, step, theta, metadata):
    """One θ as lopt_es.save_meta_params wrote it before the one format (lopt-es-checkpoint/1)."""
    os.makedirs(directory, exist_ok=True)
    leaves = list(keyed(theta).items())
    buffer = io.BytesIO()
    np.savez(buffer, **{f"leaf_{i}": x for i, (_, x) in enumerate(leaves)})
    with open(os.path.join(directory, f"step_{step}.npz"), "wb") as f:
        f.write(buffer.getvalue())
    manifest = {"format": "lopt-es-checkpoint/1", "step": step, "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
                "leaves": [{"path": p, "shape": list(x.shape), "dtype": str(x.dtype)} for p, x in leaves],
                "metadata": metadata}
    with open(os.path.join(directory, f"step_{step}.json"), "w") as f:
        json.dump(manifest, f)


@pytest.mark.parametrize("lopt", [la.small_fc_lopt(hidden_size=8, momentum_decays=(0.5, 0.9, 0.99)), la.nn_adam()])
def test_round_trip_rebuilds_the_architecture(tmp_path, lopt):
    theta = jax.tree.map(lambda x: x + 0.5, lopt.init_meta_params(jax.random.PRNGKey(0)))
    save_theta(str(tmp_path), lopt, theta, step=12, task="digits_mlp")
    loaded, restored, metadata = load_theta(str(tmp_path))
    assert loaded == lopt and metadata["task"] == "digits_mlp" and metadata["step"] == 12
    assert saved_steps(tmp_path) == [12]
    jax.tree.map(np.testing.assert_array_equal, restored, theta)
    # The files, read with numpy and json alone: leaves named by key path, the manifest naming the architecture.
    with np.load(tmp_path / "theta.npz") as stored:
        assert set(stored.files) == set(keyed(theta))
        for key, value in keyed(theta).items():
            np.testing.assert_array_equal(stored[key], value)
    manifest = json.loads((tmp_path / "entry.json").read_text())
    assert manifest["format"] == "lopt-pretrained/1" and manifest["lopt"] == lopt.name
    assert manifest["weights"]["sha256"] == hashlib.sha256((tmp_path / "theta.npz").read_bytes()).hexdigest()
    assert manifest["weights"]["num_meta_params"] == sum(x.size for x in keyed(theta).values())


# Written by the code before the one format: lopt_es.save_meta_params (small_fc_lopt, hidden_size=8, θ = init(3) +
# 0.5, step 12), and a 2-step tools/meta_train run with --save_theta_every=2 (theta/ and theta_steps/step_2).
# The sums were computed from those files by the loader of that time, lopt_es.load_meta_params.
FIXTURES = [
    ("save_meta_params", 8, 12, 205.3828901052475, {"tasks": "task digits_mlp", "inner_length": 40}),
    ("meta_train_workdir/theta", 4, 2, -1.619897125463467,
     {"tasks": "task digits_mlp", "estimator": "PES", "inner_length": 4, "meta_training_seconds": 84}),
    ("meta_train_workdir/theta_steps/step_2", 4, 2, -1.619897125463467,
     {"tasks": "task digits_mlp", "estimator": "PES", "inner_length": 4}),
]


@pytest.mark.parametrize("name,hidden_size,step,total,fields", FIXTURES)
def test_files_written_before_the_one_format_still_load(tmp_path, name, hidden_size, step, total, fields):
    directory = os.path.join(TESTDATA, name)
    lopt, theta, metadata = load_theta(directory)
    assert lopt == la.small_fc_lopt(hidden_size=hidden_size) and saved_steps(directory) == [step]
    assert metadata["step"] == step and {k: metadata[k] for k in fields} == fields
    # The same values as the arrays in the file, read by hand from its manifest's leaf list.
    with open(os.path.join(directory, f"step_{step}.json")) as f:
        leaves = json.load(f)["leaves"]
    with np.load(os.path.join(directory, f"step_{step}.npz")) as stored:
        by_hand = {leaf["path"]: stored[f"leaf_{i}"] for i, leaf in enumerate(leaves)}
    loaded = keyed(theta)
    assert loaded.keys() == by_hand.keys()
    for key, value in by_hand.items():
        np.testing.assert_array_equal(loaded[key], value)
    assert sum(x.astype(np.float64).sum() for x in loaded.values()) == pytest.approx(total, abs=1e-9)
    # Saved again, it reads back the same in the one format.
    save_theta(tmp_path, lopt, theta, step)
    again = load_theta(tmp_path)
    jax.tree.map(np.testing.assert_array_equal, again.theta, theta)


def test_the_meta_train_workdir_fixture_holds_the_same_theta_twice():
    """theta/ and theta_steps/step_2 of one run at its last step: one θ, two copies."""
    _, final, _ = load_theta(os.path.join(TESTDATA, "meta_train_workdir", "theta"))
    _, at_2, _ = load_theta(os.path.join(TESTDATA, "meta_train_workdir", "theta_steps", "step_2"))
    jax.tree.map(np.testing.assert_array_equal, final, at_2)


def test_an_older_directory_skips_a_damaged_newest_step(tmp_path, caplog):
    lopt = la.small_fc_lopt()
    for step, seed in ((100, 1), (250, 2)):
        write_legacy(tmp_path, step, lopt.init_meta_params(jax.random.PRNGKey(seed)),
                     {"lopt": lopt.name, "config": la.config_of(lopt)})
    assert saved_steps(tmp_path) == [100, 250]
    _, older, metadata = load_theta(tmp_path, step=100)
    jax.tree.map(np.testing.assert_array_equal, older, lopt.init_meta_params(jax.random.PRNGKey(1)))
    data = tmp_path / "step_250.npz"
    data.write_bytes(data.read_bytes()[:-10])
    with caplog.at_level(logging.WARNING):
        _, theta, metadata = load_theta(tmp_path)
    assert metadata["step"] == 100 and "step_250.npz: contents do not match" in caplog.text
    with pytest.raises(CheckpointFormatError, match="step_250.npz: contents do not match"):
        load_theta(tmp_path, step=250)
    (tmp_path / "step_100.json").write_text("{")
    with pytest.raises(CheckpointFormatError, match=f"no intact checkpoint in {tmp_path}: .*step_250.npz"):
        load_theta(tmp_path)


def test_errors(tmp_path):
    with pytest.raises(CheckpointFormatError, match="no saved meta-parameters"):
        load_theta(str(tmp_path))
    write_legacy(tmp_path / "anonymous", 0, {"x": np.ones(2)}, {})
    with pytest.raises(CheckpointFormatError, match="does not name a learned optimizer"):
        load_theta(str(tmp_path / "anonymous"))
    lopt = la.small_fc_lopt()
    save_theta(tmp_path / "new", lopt, lopt.init_meta_params(jax.random.PRNGKey(0)), 3)
    with pytest.raises(CheckpointFormatError, match="new: holds θ of step 3, not of step 4"):
        load_theta(tmp_path / "new", step=4)
    with pytest.raises(ValueError, match="does not fit nn_adam"):
        save_theta(tmp_path / "bad", la.nn_adam(), lopt.init_meta_params(jax.random.PRNGKey(0)))
    assert not os.path.exists(tmp_path / "bad" / "entry.json")


def test_theta_leaves_are_checked_against_the_architecture():
    lopt = la.small_fc_lopt()
    theta = lopt.init_meta_params(jax.random.PRNGKey(1))
    leaves = la.theta_leaves(lopt, theta)
    assert [k for k, _ in leaves] == list(keyed(theta))
    for key, value in leaves:
        np.testing.assert_array_equal(value, keyed(theta)[key])
    with pytest.raises(ValueError, match=r"^check: leaf .* does not fit small_fc_lopt\.$"):
        la.theta_leaves(la.small_fc_lopt(hidden_size=3), theta, what="check")
    fewer = dict(theta)
    path, _ = jax.tree_util.tree_flatten_with_path(theta)[0][0]
    del fewer[path[0].key]
    with pytest.raises(ValueError, match=r"θ has \d+ leaves, small_fc_lopt has \d+"):
        la.theta_leaves(lopt, fewer)


def test_a_damaged_or_impossible_file_is_a_checkpoint_format_error(tmp_path):
    """Not a JSONDecodeError or a ValueError from deep inside the architecture: the caller reports one line."""
    (tmp_path / "step_3.json").write_text("garbage")
    with pytest.raises(CheckpointFormatError, match="step_3.json: unreadable manifest"):
        load_theta(str(tmp_path))
    lopt = la.small_fc_lopt()
    manifest = save_theta(str(tmp_path / "zero"), lopt, lopt.init_meta_params(jax.random.PRNGKey(0)), step=1)
    with open(manifest) as f:
        text = f.read()
    with open(manifest, "w") as f:
        f.write(text.replace('"hidden_size": 4', '"hidden_size": 0'))
    with pytest.raises(CheckpointFormatError, match="cannot rebuild learned optimizer 'small_fc_lopt': "
                                                    "small_fc_lopt: hidden_size must be >= 1, got 0"):
        load_theta(str(tmp_path / "zero"))
    (tmp_path / "zero" / "entry.json").write_text(text[:40])
    with pytest.raises(CheckpointFormatError, match="entry.json: not a readable registry entry or saved θ"):
        load_theta(str(tmp_path / "zero"))


def test_atomic_write_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "f"
    atomic_write(path, b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"

    with pytest.raises(TypeError):  # not bytes-like for the write: the rename never happens
        atomic_write(path, object())
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["f"]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
