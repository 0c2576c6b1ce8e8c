import jax
import lopt_architectures as la
import numpy as np
import pytest

from lopt_pretrained.checkpoints import load_reference_checkpoint, save_reference_checkpoint
from lopt_pretrained.flax_msgpack import CheckpointFormatError, read_flax_msgpack, write_flax_msgpack

ARCHITECTURES = ["small_fc_lopt", "fc_lopt", "nn_adam", "rnn_fc_lopt"]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_round_trip_through_the_reference_format(tmp_path, arch):
    lopt = la.make_learned_optimizer(arch)
    theta = lopt.init_meta_params(jax.random.PRNGKey(0))
    save_reference_checkpoint(tmp_path / "params", arch, theta, step=7)
    raw = read_flax_msgpack(tmp_path / "params")
    assert set(raw) == {"params", "gen_id", "step"} and raw["step"] == 7
    jax.tree.map(np.testing.assert_array_equal, load_reference_checkpoint(tmp_path / "params", arch), theta)


def test_small_velo_round_trip_and_a_bare_tree(tmp_path):
    lopt = la.VeLO(lstm_hidden_size=8, bank_size=2)
    theta = lopt.init_meta_params(jax.random.PRNGKey(1))
    save_reference_checkpoint(tmp_path / "params", "velo", theta, lopt=lopt)
    bare = read_flax_msgpack(tmp_path / "params")["params"]
    assert sorted(bare["rnn_params"]) == ["linear", "linear_1", "linear_2", "rnn/linear", "rnn_to_controls", "step_size"]
    write_flax_msgpack(tmp_path / "bare", bare)
    jax.tree.map(np.testing.assert_array_equal, load_reference_checkpoint(tmp_path / "bare", "velo", lopt=lopt), theta)


def test_a_checkpoint_of_another_architecture_is_named(tmp_path):
    theta = la.small_fc_lopt().init_meta_params(jax.random.PRNGKey(0))
    save_reference_checkpoint(tmp_path / "params", "small_fc_lopt", theta)
    with pytest.raises(CheckpointFormatError, match=r"params: does not hold fc_lopt meta-parameters: .*unexpected leaves"):
        load_reference_checkpoint(tmp_path / "params", "fc_lopt")
