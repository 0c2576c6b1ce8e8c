import jax
import lopt_architectures as la
import numpy as np
import pytest

from lopt_es import checkpoint
from lopt_es.export import load_meta_params, save_meta_params


@pytest.mark.parametrize("lopt", [la.small_fc_lopt(hidden_size=8, momentum_decays=(0.5, 0.9, 0.99)), la.nn_adam()])
def test_round_trip_rebuilds_the_architecture(tmp_path, lopt):
    theta = jax.tree.map(lambda x: x + 0.5, lopt.init_meta_params(jax.random.PRNGKey(0)))
    save_meta_params(str(tmp_path), lopt, theta, step=12, task="digits_mlp")
    loaded, restored, metadata = load_meta_params(str(tmp_path))
    assert loaded == lopt and metadata["task"] == "digits_mlp"
    jax.tree.map(np.testing.assert_array_equal, restored, theta)


def test_errors(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no saved meta-parameters"):
        load_meta_params(str(tmp_path))
    checkpoint.save(str(tmp_path), 0, {"x": np.ones(2)})
    with pytest.raises(checkpoint.CheckpointError, match="does not name a learned optimizer"):
        load_meta_params(str(tmp_path))



def test_a_damaged_or_impossible_file_is_a_checkpoint_error(tmp_path):
    """Not a JSONDecodeError or a ValueError from deep inside the architecture: the caller reports one line."""
    (tmp_path / "step_3.json").write_text("garbage")
    with pytest.raises(checkpoint.CheckpointError, match="step_3.json: unreadable manifest"):
        load_meta_params(str(tmp_path))
    lopt = la.small_fc_lopt()
    manifest = save_meta_params(str(tmp_path / "zero"), lopt, lopt.init_meta_params(jax.random.PRNGKey(0)), step=1)
    with open(manifest) as f:
        text = f.read()
    with open(manifest, "w") as f:
        f.write(text.replace('"hidden_size": 4', '"hidden_size": 0'))
    with pytest.raises(checkpoint.CheckpointError, match="cannot rebuild learned optimizer 'small_fc_lopt': "
                                                         "small_fc_lopt: hidden_size must be >= 1, got 0"):
        load_meta_params(str(tmp_path / "zero"))
