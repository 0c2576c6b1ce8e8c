"""Reading θ saved by meta-training: the one format (`lopt_architectures.save_theta`), and directories in the
older lopt-es-checkpoint/1 format, written here as its specification says (lopt_es/checkpoint.py's docstring).

The examples' test reads what meta-training itself writes (examples/meta_train_in_minutes_test.py).
"""

import hashlib
import io
import json

import jax
import jax.numpy as jnp
import lopt_architectures as la
import numpy as np
import pytest

import lopt_pretrained
from lopt_pretrained.flax_msgpack import CheckpointFormatError
from lopt_pretrained.theta_dir import load_theta_dir, saved_steps, theta_directory

LOPT = la.small_fc_lopt(hidden_size=8)


def write_checkpoint(directory, step, theta, metadata):
    """One checkpoint as lopt_es.checkpoint.save writes it: leaves leaf_<i> in key-path order, a hashed manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    leaves = [(jax.tree_util.keystr(p), np.asarray(x)) for p, x in jax.tree_util.tree_flatten_with_path(theta)[0]]
    buffer = io.BytesIO()
    np.savez(buffer, **{f"leaf_{i}": x for i, (_, x) in enumerate(leaves)})
    (directory / f"step_{step}.npz").write_bytes(buffer.getvalue())
    manifest = {"format": "lopt-es-checkpoint/1", "step": step, "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
                "leaves": [{"path": p, "shape": list(x.shape), "dtype": str(x.dtype)} for p, x in leaves],
                "metadata": metadata}
    (directory / f"step_{step}.json").write_text(json.dumps(manifest))


def metadata(lopt=LOPT, **extra):
    return {"lopt": lopt.name, "config": {"hidden_size": lopt.hidden_size}, **extra}


@pytest.fixture
def workdir(tmp_path):
    for step, seed in ((100, 1), (250, 2)):
        write_checkpoint(tmp_path / "run" / "theta", step, LOPT.init_meta_params(jax.random.PRNGKey(seed)),
                         metadata(inner_length=400, min_inner_length=50, command="tools/meta_train ..."))
    return tmp_path / "run"


def test_reads_the_newest_theta_or_a_named_step(workdir):
    assert saved_steps(workdir / "theta") == [100, 250] and saved_steps(workdir) == []
    assert theta_directory(workdir) == theta_directory(workdir / "theta") == str(workdir / "theta")
    assert theta_directory(workdir.parent) is None
    lopt, theta, info = load_theta_dir(workdir / "theta")
    assert lopt == LOPT
    jax.tree.map(np.testing.assert_array_equal, theta, LOPT.init_meta_params(jax.random.PRNGKey(2)))
    assert info["inner_length"] == 400 and info["training"] == {"outer_steps": 250, "inner_lengths": [50, 400]}
    assert info["metadata"]["command"] == "tools/meta_train ..."
    _, older, info = load_theta_dir(workdir / "theta", step=100)
    jax.tree.map(np.testing.assert_array_equal, older, LOPT.init_meta_params(jax.random.PRNGKey(1)))
    assert lopt_pretrained.horizons(workdir) == lopt_pretrained.Horizons((50, 400), ())


def test_altered_empty_and_foreign_checkpoints_are_refused(workdir, tmp_path):
    with pytest.raises(CheckpointFormatError, match="no saved meta-parameters"):
        load_theta_dir(tmp_path / "nothing")
    data = workdir / "theta" / "step_250.npz"
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(CheckpointFormatError, match="step_250.npz: contents do not match"):
        load_theta_dir(workdir / "theta", step=250)
    # Without a step, the newest intact one (as lopt_es.load_meta_params read these directories).
    assert load_theta_dir(workdir / "theta").info["training"]["outer_steps"] == 100
    (workdir / "theta" / "step_100.npz").unlink()
    with pytest.raises(CheckpointFormatError, match="step_250.npz: contents do not match"):
        load_theta_dir(workdir / "theta")
    # A manifest naming another width than its arrays have: the leaf and the shape expected are named.
    write_checkpoint(tmp_path / "wide", 1, LOPT.init_meta_params(jax.random.PRNGKey(0)),
                     metadata(la.small_fc_lopt(hidden_size=16)))
    with pytest.raises(CheckpointFormatError, match=r"step_1.json: leaf .* needs float32\[.*16"):
        load_theta_dir(tmp_path / "wide")
    write_checkpoint(tmp_path / "anonymous", 1, LOPT.init_meta_params(jax.random.PRNGKey(0)), {})
    with pytest.raises(CheckpointFormatError, match="does not name a learned optimizer"):
        load_theta_dir(tmp_path / "anonymous")


def test_a_theta_directory_is_an_optax_drop_in_held_to_its_horizons(workdir):
    theta = LOPT.init_meta_params(jax.random.PRNGKey(2))
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3)}
    grads = {"w": jnp.cos(params["w"])}
    runs = []
    for tx in (lopt_pretrained.optax(workdir, 400), lopt_pretrained.optax(theta, 400, architecture=LOPT)):
        updates, _ = tx.update(grads, tx.init(params), params, loss=1.0)
        runs.append(updates)
    jax.tree.map(np.testing.assert_array_equal, *runs)
    with pytest.raises(ValueError, match=r"asked for a 2,001-step run, more than 5x the longest meta-training horizon"):
        lopt_pretrained.optax(workdir, 2001, strict=True)  # not evaluated: the meta-training range, 50-400, stands in


def test_theta_in_the_one_format_reads_the_same_as_a_directory_or_as_an_entry(tmp_path):
    """tools/meta_train's theta/ now holds entry.json and theta.npz: named by the workdir, by theta/, or as an entry."""
    theta = LOPT.init_meta_params(jax.random.PRNGKey(2))
    la.save_theta(tmp_path / "run" / "theta", LOPT, theta, 250, inner_length=400, min_inner_length=50,
                  command="tools/meta_train ...")
    assert saved_steps(tmp_path / "run" / "theta") == [250]
    assert theta_directory(tmp_path / "run") == str(tmp_path / "run" / "theta")
    lopt, loaded, info = load_theta_dir(tmp_path / "run" / "theta")
    assert lopt == LOPT and info["inner_length"] == 400
    assert info["training"] == {"outer_steps": 250, "inner_lengths": [50, 400]}
    assert info["metadata"]["command"] == "tools/meta_train ..."
    jax.tree.map(np.testing.assert_array_equal, loaded, theta)
    assert lopt_pretrained.entry_info(str(tmp_path / "run" / "theta"))["training"] == info["training"]
    for path in (tmp_path / "run", tmp_path / "run" / "theta"):
        assert lopt_pretrained.horizons(path) == lopt_pretrained.Horizons((50, 400), ())
        with pytest.raises(ValueError, match=r"more than 5x the longest meta-training horizon"):
            lopt_pretrained.optax(path, 2001, strict=True)
